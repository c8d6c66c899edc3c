"""Where each published weight can be loaded from right now, so that listings tell the truth: shipped with the
package, in a local folder, in the Hugging Face cache, only on the Hub, or nowhere yet."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmzoo.pretrained.hub import cached_hub_file, hub_offline
from mmzoo.pretrained.locate import checkout_weights_dir, find_local_weight, shipped_weights_dir
from mmzoo.registry import WeightInfo

__all__ = ["Availability", "weight_availability"]


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
    return cached_hub_file(weight.repo_id, weight.filename, weight.revision, cache_dir)


def weight_availability(weight: WeightInfo, cache_dir: str | Path | None = None) -> Availability:
    """Where ``weight`` would be loaded from now (see :class:`Availability`); reads no file's content.

    >>> import mmzoo
    >>> weight_availability(mmzoo.get_weights("intermediate_cat")).where in ("shipped", "local", "cached", "hub")
    True
    """
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
