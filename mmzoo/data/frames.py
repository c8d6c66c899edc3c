"""``Frames``: the in-memory form of an RGB + LiDAR dataset, shared by the generator and the folder layouts.

The generator (``render`` / ``sets``) produces ``Frames``; the layouts (``layouts``) write them to and read them
from the real data's on-disk folders; the tensor view (``tensors``) turns them into model inputs. Keeping one
plain container in the middle is what lets a user's real frames and mmzoo's synthetic ones go through the same
code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmzoo.data.sensor import AZIMUTH, ZENITH

__all__ = ["Frames"]


@dataclass
class Frames:
    """A batch of co-registered camera and LiDAR frames with their targets.

    Attributes:
        rgba: ``(N, H, W, 4)`` uint8 camera images, as stored in the PNG files.
        depth: ``(N, A, Z)`` float32 LiDAR range maps, rows = azimuth beam, columns = zenith beam.
        azimuth: ``(A,)`` float32 azimuth angle of each row, in radians.
        zenith: ``(Z,)`` float32 zenith angle of each column, in radians.
        labels: ``(N,)`` int64 class index per frame (classification sets) or None.
        positions: ``(N, 9)`` float32 regression targets per frame (position sets) or None.
        class_names: names of the label values, index = label (e.g. ``("cube", "sphere")``).
        metadata: free-form description (dataset name and version, seed, generator settings, source path).
    """

    rgba: np.ndarray
    depth: np.ndarray
    azimuth: np.ndarray = field(default_factory=lambda: AZIMUTH.copy())
    zenith: np.ndarray = field(default_factory=lambda: ZENITH.copy())
    labels: np.ndarray | None = None
    positions: np.ndarray | None = None
    class_names: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.rgba)
        if self.rgba.ndim != 4 or self.rgba.shape[-1] != 4 or self.rgba.dtype != np.uint8:
            raise ValueError(f"rgba must be (N, H, W, 4) uint8; got {self.rgba.shape} {self.rgba.dtype}")
        if self.depth.ndim != 3 or self.depth.dtype != np.float32:
            raise ValueError(f"depth must be (N, A, Z) float32; got {self.depth.shape} {self.depth.dtype}")
        if len(self.depth) != n:
            raise ValueError(f"rgba has {n} frames but depth has {len(self.depth)}")
        if self.depth.shape[1:] != (len(self.azimuth), len(self.zenith)):
            raise ValueError(
                f"depth frames are {self.depth.shape[1:]} but there are {len(self.azimuth)} azimuth "
                f"and {len(self.zenith)} zenith angles"
            )
        for name in ("labels", "positions"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"{name} has {len(value)} entries but there are {n} frames")

    def __len__(self) -> int:
        return len(self.rgba)

    @classmethod
    def concat(cls, parts: "list[Frames]") -> "Frames":
        """Frames of ``parts`` one after the other; angles, class names and metadata come from the first part."""
        if not parts:
            raise ValueError("Frames.concat needs at least one part")
        first = parts[0]

        def join(name: str) -> np.ndarray | None:
            return None if getattr(first, name) is None else np.concatenate([getattr(p, name) for p in parts])

        return cls(
            rgba=join("rgba"),
            depth=join("depth"),
            azimuth=first.azimuth,
            zenith=first.zenith,
            labels=join("labels"),
            positions=join("positions"),
            class_names=first.class_names,
            metadata=dict(first.metadata),
        )

    def subset(self, index: np.ndarray | slice) -> "Frames":
        """The frames selected by ``index`` (an index array, a boolean mask or a slice), sharing metadata."""
        pick = lambda a: None if a is None else a[index]  # noqa: E731
        return Frames(
            rgba=self.rgba[index],
            depth=self.depth[index],
            azimuth=self.azimuth,
            zenith=self.zenith,
            labels=pick(self.labels),
            positions=pick(self.positions),
            class_names=self.class_names,
            metadata=dict(self.metadata),
        )
