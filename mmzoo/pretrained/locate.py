"""Where a published weight's file is on this machine, and where it would come from.

Folders searched for ``<arch>.<tag>/<filename>``, in order:

1. ``$MMZOO_WEIGHTS_DIR`` (one or more folders, ``os.pathsep``-separated): your own copies win.
2. the weights shipped inside the installed package (``mmzoo/_weights/``, the top-level ``weights/`` folder of
   the source tree, installed by the wheel), or ``weights/`` of a source checkout mmzoo runs from.

Then the Hugging Face cache, then the Hub at the weight's pinned revision (:mod:`mmzoo.pretrained.hub`);
:mod:`mmzoo.pretrained.availability` says which of these holds a weight now.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "WEIGHTS_DIR_ENV",
    "shipped_weights_dir",
    "checkout_weights_dir",
    "local_weight_dirs",
    "find_local_weight",
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
