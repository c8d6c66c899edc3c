"""A whole split as tensors, ready for a training loop: ``FusionTensors`` and ``to_tensors``.

The notebooks' datasets are tiny (a few thousand 64x64 frames), so the fastest engine keeps the whole split in
memory (on the GPU if there is one) and slices batches out of it, instead of a per-sample ``Dataset`` and a
``DataLoader``. RGB stays uint8 until a batch is fetched (4x smaller; the division by 255 happens on the
target device), LiDAR is converted once to the selected representation.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterator

import numpy as np
import torch

from mmzoo.data.frames import Frames
from mmzoo.data.sensor import MAX_RANGE, XYZA_FORMULAS, depth_to_xyza

__all__ = ["LIDAR_REPRESENTATIONS", "TARGETS", "FusionTensors", "to_tensors"]

LIDAR_REPRESENTATIONS = ("xyza", "depth")
TARGETS = ("auto", "labels", "onehot", "positions")

Index = torch.Tensor | np.ndarray | slice | list[int] | range


@dataclass
class FusionTensors:
    """Camera, LiDAR and target tensors of one split, indexed by frame.

    Attributes:
        rgb: ``(N, C, H, W)`` uint8 camera images, C = 4 (RGBA) or 3 (RGB).
        lidar: ``(N, 4, A, Z)`` float32 xyza or ``(N, 1, A, Z)`` float32 raw depth.
        target: ``(N, 1)`` float32 class labels (for BCE-with-logits), ``(N, K)`` one-hot classes (softmax
            cross-entropy) or ``(N, K)`` float32 positions / regression values.
        metadata: the source ``Frames.metadata`` plus ``lidar`` ("xyza"/"depth"), ``xyza_formula`` (None for
            depth), ``rgb_channels``, ``target`` ("labels"/"positions") and ``class_names``.
    """

    rgb: torch.Tensor
    lidar: torch.Tensor
    target: torch.Tensor
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.rgb)
        if self.rgb.dtype != torch.uint8 or self.rgb.ndim != 4:
            raise ValueError(f"rgb must be (N, C, H, W) uint8; got {tuple(self.rgb.shape)} {self.rgb.dtype}")
        if self.lidar.dtype != torch.float32 or self.lidar.ndim != 4:
            raise ValueError(f"lidar must be (N, C, A, Z) float32; got {tuple(self.lidar.shape)} {self.lidar.dtype}")
        if self.target.ndim != 2:
            raise ValueError(f"target must be (N, K); got {tuple(self.target.shape)}")
        if len(self.lidar) != n or len(self.target) != n:
            counts = f"{n}, {len(self.lidar)}, {len(self.target)}"
            raise ValueError(f"rgb, lidar and target disagree on the frame count: {counts}")
        if not (self.rgb.device == self.lidar.device == self.target.device):
            raise ValueError("rgb, lidar and target must be on the same device")

    def __len__(self) -> int:
        return len(self.rgb)

    @property
    def device(self) -> torch.device:
        """Where the tensors are stored."""
        return self.rgb.device

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "FusionTensors":
        """A copy on ``device`` (the same object if already there); keeps rgb as uint8."""
        device = torch.device(device)
        if device == self.device:
            return self
        move = lambda t: t.to(device, non_blocking=non_blocking)  # noqa: E731
        return replace(
            self, rgb=move(self.rgb), lidar=move(self.lidar), target=move(self.target), metadata=dict(self.metadata)
        )

    def batch(
        self, index: Index, device: torch.device | str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Frames ``index`` as ``(rgb, lidar, target)`` on ``device`` (default: where they are stored).

        ``rgb`` comes back as float32 in [0, 1]; the uint8 -> float conversion runs on ``device`` after the
        transfer, so only the compact uint8 batch crosses the bus.
        """
        device = self.device if device is None else torch.device(device)
        if not isinstance(index, slice):
            index = torch.as_tensor(np.asarray(index) if isinstance(index, (list, range)) else index, dtype=torch.long)
            index = index.to(self.device)
        non_blocking = device.type == "cuda"
        rgb = self.rgb[index].to(device, non_blocking=non_blocking).float().div_(255.0)
        lidar = self.lidar[index].to(device, non_blocking=non_blocking)
        target = self.target[index].to(device, non_blocking=non_blocking)
        return rgb, lidar, target

    def batches(
        self,
        batch_size: int,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Iterate over the split in batches, like a ``DataLoader`` (shuffle with ``generator`` for determinism).

        With ``drop_last`` a final short batch is skipped (the notebooks drop it for training and validation).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive; got {batch_size}")
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            yield self.batch(order[start : start + batch_size], device)


def _xyza(depth: np.ndarray, azimuth: np.ndarray, zenith: np.ndarray, formula: str, max_range: float) -> torch.Tensor:
    # Chunked into a preallocated output: depth_to_xyza's intermediates would otherwise double the peak memory.
    out = torch.empty((len(depth), 4, *depth.shape[1:]), dtype=torch.float32)
    for start in range(0, len(depth), 1024):
        chunk = torch.from_numpy(depth[start : start + 1024])
        out[start : start + 1024] = depth_to_xyza(chunk, azimuth, zenith, formula=formula, max_range=max_range)
    return out


def to_tensors(
    frames: Frames,
    lidar: str = "xyza",
    formula: str = "assignment",
    rgb_channels: int = 4,
    target: str = "auto",
    max_range: float = MAX_RANGE,
    device: torch.device | str | None = None,
) -> FusionTensors:
    """Convert ``frames`` into :class:`FusionTensors`.

    Args:
        frames: the split to convert.
        lidar: ``"xyza"`` (4 channels x, y, z, hit mask; the notebooks' input) or ``"depth"`` (1 channel, the raw
            range as stored; the course's own assessment).
        formula: the xyza formula, ``"assignment"`` (x = d sin(-az) cos(-ze)) or ``"course"`` (x = d sin(-az));
            see :mod:`mmzoo.data.sensor`. Ignored for ``lidar="depth"``.
        rgb_channels: 4 keeps RGBA as in the PNGs (the notebooks' input), 3 drops alpha.
        target: ``"labels"`` -> ``(N, 1)`` float32 class labels, ``"onehot"`` -> ``(N, K)`` float32 one column
            per class name (for softmax cross-entropy), ``"positions"`` -> ``(N, 9)`` float32 (or any number of
            regression values per frame),
            ``"auto"`` -> labels if the frames have them, else positions.
        max_range: depth at or beyond which a beam counts as no return (the ``a`` channel).
        device: move the result there (default: CPU).
    """
    if lidar not in LIDAR_REPRESENTATIONS:
        raise ValueError(f"unknown lidar representation {lidar!r}; choose one of {LIDAR_REPRESENTATIONS}")
    if lidar == "xyza" and formula not in XYZA_FORMULAS:
        raise ValueError(f"unknown xyza formula {formula!r}; choose one of {XYZA_FORMULAS}")
    if rgb_channels not in (3, 4):
        raise ValueError(f"rgb_channels must be 4 (RGBA) or 3 (RGB); got {rgb_channels!r}")
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose one of {TARGETS}")
    if target == "auto":
        target = "labels" if frames.labels is not None else "positions"
    values = frames.positions if target == "positions" else frames.labels
    if values is None:
        other = "positions" if target != "positions" else "labels"
        hint = f"they have {other}: use target={other!r}" if getattr(frames, other) is not None else "add targets first"
        raise ValueError(f"target={target!r} but the frames have no {target}; {hint}")
    if target == "onehot" and not frames.class_names:
        raise ValueError("target='onehot' needs the frames' class_names (one column per class)")
    if target == "onehot":  # softmax cross-entropy's target: one column per class
        values = np.eye(len(frames.class_names), dtype=np.float32)[np.asarray(values)]
    target_t = torch.as_tensor(np.asarray(values, dtype=np.float32)).reshape(len(frames), -1)
    rgb = torch.from_numpy(np.ascontiguousarray(frames.rgba[..., :rgb_channels].transpose(0, 3, 1, 2)))
    if lidar == "xyza":
        lidar_t = _xyza(frames.depth, frames.azimuth, frames.zenith, formula, max_range)
    else:
        lidar_t = torch.from_numpy(np.array(frames.depth, dtype=np.float32))[:, None]
    meta = dict(frames.metadata)
    meta.update(
        lidar=lidar,
        xyza_formula=formula if lidar == "xyza" else None,
        rgb_channels=rgb_channels,
        target=target,
        class_names=tuple(frames.class_names),
    )
    tensors = FusionTensors(rgb=rgb, lidar=lidar_t, target=target_t, metadata=meta)
    return tensors if device is None else tensors.to(device)
