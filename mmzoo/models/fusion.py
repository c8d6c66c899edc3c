"""Fusion operators: small modules that merge an RGB feature and a LiDAR feature into one, chosen by name.

Each operator works on feature maps ``(B, C, H, W)`` and, where it makes sense, on vectors ``(B, C)``, and
says how many channels it outputs, so that a network can size the layers after it. Adding an operator is one
small class and one ``@register_fusion`` line:

>>> import torch
>>> @register_fusion("max")
... class MaxFusion(FusionOp):
...     def forward(self, rgb, lidar):
...         return torch.maximum(rgb, lidar)
>>> create_fusion("max")(torch.zeros(1, 2), torch.ones(1, 2)).tolist()
[[1.0, 1.0]]
>>> _ = _FUSION_OPS.pop("max")  # keep the doctest from leaking into the registry
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

__all__ = ["FusionOp", "register_fusion", "create_fusion", "list_fusions"]

_FUSION_OPS: dict[str, type["FusionOp"]] = {}


class FusionOp(nn.Module):
    """Base class: ``forward(rgb, lidar) -> fused``; by default the output has as many channels as each input."""

    name: str = ""
    #: True when the operator needs both inputs to have the same shape (element-wise operators).
    same_shape: bool = True

    def out_channels(self, rgb_channels: int, lidar_channels: int) -> int:
        """Channels (dim 1) of the fused output for inputs with these channel counts."""
        if self.same_shape and rgb_channels != lidar_channels:
            raise ValueError(
                f"{self.name!r} fusion needs the same number of channels from both modalities; "
                f"got rgb {rgb_channels} and lidar {lidar_channels}"
            )
        return rgb_channels

    def extra_repr(self) -> str:
        return f"op={self.name!r}"


def register_fusion(name: str) -> Callable[[type[FusionOp]], type[FusionOp]]:
    """Class decorator registering a ``FusionOp`` subclass under ``name``."""

    def decorator(cls: type[FusionOp]) -> type[FusionOp]:
        if name in _FUSION_OPS:
            first = _FUSION_OPS[name]
            raise ValueError(f"fusion op {name!r} is already registered by {first.__module__}.{first.__qualname__}")
        cls.name = name
        _FUSION_OPS[name] = cls
        return cls

    return decorator


def create_fusion(name: str) -> FusionOp:
    """A new instance of the fusion operator registered as ``name``."""
    if name not in _FUSION_OPS:
        raise ValueError(f"unknown fusion op {name!r}; registered: {', '.join(list_fusions())}")
    return _FUSION_OPS[name]()


def list_fusions() -> list[str]:
    """Names of the registered fusion operators, sorted."""
    return sorted(_FUSION_OPS)


@register_fusion("concat")
class ConcatFusion(FusionOp):
    """Channel concatenation: ``C_rgb + C_lidar`` channels."""

    same_shape = False

    def out_channels(self, rgb_channels: int, lidar_channels: int) -> int:
        return rgb_channels + lidar_channels

    def forward(self, rgb: torch.Tensor, lidar: torch.Tensor) -> torch.Tensor:
        return torch.cat([rgb, lidar], dim=1)


@register_fusion("add")
class AddFusion(FusionOp):
    """Element-wise sum."""

    def forward(self, rgb: torch.Tensor, lidar: torch.Tensor) -> torch.Tensor:
        return rgb + lidar


@register_fusion("hadamard")
class HadamardFusion(FusionOp):
    """Element-wise (Hadamard) product."""

    def forward(self, rgb: torch.Tensor, lidar: torch.Tensor) -> torch.Tensor:
        return rgb * lidar


@register_fusion("matmul")
class MatmulFusion(FusionOp):
    """Per-channel matrix product of the two ``H x W`` maps (``H == W``), as in the course lab."""

    def forward(self, rgb: torch.Tensor, lidar: torch.Tensor) -> torch.Tensor:
        if rgb.ndim != 4 or rgb.shape[-1] != rgb.shape[-2]:
            raise ValueError(f"'matmul' fusion needs square feature maps (B, C, N, N); got {tuple(rgb.shape)}")
        return torch.matmul(rgb, lidar)
