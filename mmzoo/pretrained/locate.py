"""Where a published weight's file is on this machine, and where it would come from.

Folders searched for ``<arch>.<tag>/<filename>``, in order:

1. ``$MMZOO_WEIGHTS_DIR`` (one or more folders, ``os.pathsep``-separated): your own copies win.
2. the weights shipped inside the installed package (``mmzoo/_weights/``, the top-level ``weights/`` folder of
   the source tree, installed by the wheel), or ``weights/`` of a source checkout mmzoo runs from.

Then the Hugging Face cache, then the Hub at the weight's pinned revision (:mod:`mmzoo.pretrained.hub`).
:func:`weight_availability` says which of these holds a weight now, so that listings tell the truth.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mmzoo.registry import WeightInfo

__all__ = [
    "WEIGHTS_DIR_ENV",
    "Availability",
    "shipped_weights_dir",
    "checkout_weights_dir",
    "local_weight_dirs",
    "find_local_weight",
    "weight_availability",
]

#: Environment variable naming folders that hold ``<arch>.<tag>/`` weight folders.
WEIGHTS_DIR_ENV = "MMZOO_WEIGHTS_DIR"

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # .../mmzoo
_SOURCE_ROOT = _PACKAGE_DIR.parent  # the folder holding mmzoo/: a checkout's root, or site-packages


def shipped_weights_dir() -> Path | None:
    """``mmzoo/_weights/`` of an installed package (the wheel's copy of ``weights/``), or None."""
    folder = _PACKAGE_DIR / "_weights"
    return folder if folder.is_dir() else None


def checkout_weights_dir() -> Path | None:
    """``weights/`` of the source checkout mmzoo runs from (recognised by its ``setup.cfg``), or None."""
    folder = _SOURCE_ROOT / "weights"
    return folder if (_SOURCE_ROOT / "setup.cfg").is_file() and folder.is_dir() else None


def local_weight_dirs() -> list[Path]:
    """Folders searched for ``<arch>.<tag>/``: ``$MMZOO_WEIGHTS_DIR`` entries, then the shipped or checkout copy."""
    dirs = [Path(p).expanduser() for p in os.environ.get(WEIGHTS_DIR_ENV, "").split(os.pathsep) if p]
    dirs += [d for d in (shipped_weights_dir(), checkout_weights_dir()) if d is not None]
    return dirs


def find_local_weight(name: str, filename: str) -> Path | None:
    """The first ``<dir>/<name>/<filename>`` that exists in :func:`local_weight_dirs`, or None."""
    for folder in local_weight_dirs():
        path = folder / name / filename
        if path.is_file():
            return path
    return None


@dataclass(frozen=True)
class Availability:
    """Where a weight can be loaded from right now.

    Attributes:
        where: ``"shipped"`` (inside the installed package or a checkout's ``weights/``), ``"local"``
            (``$MMZOO_WEIGHTS_DIR``), ``"cached"`` (the Hugging Face cache), ``"hub"`` (only on the Hub, at a
            pinned revision) or ``"unavailable"`` (not published and not on this machine).
        path: the file, when it is on this machine.
        fetchable: whether ``create(..., pretrained=True)`` can get it now without error (for ``"hub"``: the Hub
            is published to and downloads are allowed; the network itself is not probed).
    """

    where: str
    path: Path | None
    fetchable: bool

    def describe(self) -> str:
        """A few words for listings, e.g. ``"shipped"`` or ``"Hub only (offline: not fetchable now)"``."""
        if self.where == "hub":
            return "Hub only" + ("" if self.fetchable else " (HF_HUB_OFFLINE: not fetchable now)")
        if self.where == "unavailable":
            return "unavailable (not published, not on this machine)"
        return self.where


def _cached_file(weight: WeightInfo, cache_dir: str | Path | None) -> Path | None:
    if weight.revision is None:
        return None
    from huggingface_hub import try_to_load_from_cache

    from mmzoo.pretrained.hub import hub_cache_dir

    found = try_to_load_from_cache(weight.repo_id, weight.filename, cache_dir=str(hub_cache_dir(cache_dir)),
                                   revision=weight.revision)
    return Path(found) if isinstance(found, str) else None


def weight_availability(weight: WeightInfo, cache_dir: str | Path | None = None) -> Availability:
    """Where ``weight`` would be loaded from now (see :class:`Availability`); reads no file's content.

    >>> import mmzoo
    >>> weight_availability(mmzoo.get_weights("intermediate_cat")).where in ("shipped", "local", "cached", "hub")
    True
    """
    from mmzoo.pretrained.hub import hub_offline

    local = find_local_weight(weight.name, weight.filename)
    if local is not None:
        shipped = [d for d in (shipped_weights_dir(), checkout_weights_dir()) if d is not None]
        where = "shipped" if any(local.parent.parent == d for d in shipped) else "local"
        return Availability(where, local, True)
    cached = _cached_file(weight, cache_dir)
    if cached is not None:
        return Availability("cached", cached, True)
    if weight.revision is not None:
        return Availability("hub", None, not hub_offline())
    return Availability("unavailable", None, False)
