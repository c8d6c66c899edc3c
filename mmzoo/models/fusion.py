"""Fusion operators: small modules that merge an RGB feature and a LiDAR feature into one, chosen by name.

Each operator works on feature maps ``(B, C, H, W)`` and, where it makes sense, on vectors ``(B, C)``, and
says how many channels it outputs, so that a network can size the layers after it. An operator with weights
receives the channel counts of its two inputs (and the side of the maps, ``size``; None for vectors) when it is
built, so that every weight exists, registered, before the first batch. An *exchanging* operator (MMTM, token
fusion) can also return both branches, each enriched by the other, so that a network inserts it at several
stages while the branches stay separate. Adding an operator is one small class and one ``@register_fusion`` line:

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

import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

__all__ = ["FusionOp", "register_fusion", "create_fusion", "list_fusions", "fusion_class", "fusion_param_count"]

_FUSION_OPS: dict[str, type["FusionOp"]] = {}


class FusionOp(nn.Module):
    """Base class: ``forward(rgb, lidar) -> fused``; by default the output has as many channels as each input.

    Args:
        rgb_channels, lidar_channels: channels (dim 1) of the two inputs; operators with weights need them.
        size: side of the (square) feature maps the operator will see, or None when it fuses vectors ``(B, C)``.
            Taken from the network's input spec, never from a tensor, so that exported graphs have no
            shape-dependent branches.
    """

    name: str = ""
    #: True when the operator needs both inputs to have the same shape (element-wise operators).
    same_shape: bool = True
    #: True when the operator needs feature maps ``(B, C, H, W)`` and cannot fuse vectors.
    maps_only: bool = False
    #: True when ``exchange(rgb, lidar)`` returns both branches (insertable at several stages).
    exchanges: bool = False
    #: One-line formula and the paper it comes from (the catalogue page is written from these).
    formula: str = ""
    paper: str = ""

    def __init__(self, rgb_channels: int | None = None, lidar_channels: int | None = None, size: int | None = None) -> None:
        super().__init__()
        self.rgb_channels = rgb_channels
        self.lidar_channels = lidar_channels
        self.size = size

    def channels(self) -> tuple[int, int]:
        """The input channel counts this operator was built for; an error if it was built without them."""
        if self.rgb_channels is None or self.lidar_channels is None:
            raise ValueError(
                f"{self.name!r} fusion has weights sized by its inputs: build it with "
                f"create_fusion({self.name!r}, rgb_channels=..., lidar_channels=...)"
            )
        return self.rgb_channels, self.lidar_channels

    def exchange(self, rgb: torch.Tensor, lidar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both branches, each enriched by the other (only operators with ``exchanges = True``)."""
        raise ValueError(f"{self.name!r} fusion merges the two inputs into one; it cannot exchange between branches")

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


def create_fusion(
    name: str,
    rgb_channels: int | None = None,
    lidar_channels: int | None = None,
    size: int | None = None,
    **options: Any,
) -> FusionOp:
    """A new instance of the fusion operator registered as ``name``.

    ``options`` are the operator's own arguments (``rank`` for "lmf", ``direction`` for "film"...); an unknown
    one is an error that lists the accepted ones.

    >>> create_fusion("lmf", rgb_channels=100, lidar_channels=100, rank=4).out_channels(100, 100)
    100
    """
    cls = fusion_class(name)
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "rgb_channels", "lidar_channels", "size")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"fusion op {name!r} has no option(s) {unknown}; its options: {accepted or 'none'}")
    return cls(rgb_channels=rgb_channels, lidar_channels=lidar_channels, size=size, **options)


def fusion_param_count(
    name: str, rgb_channels: int, lidar_channels: int, size: int | None = None, **options: Any
) -> int:
    """Parameters the operator adds for inputs of these channels (built on the meta device: no memory used).

    >>> fusion_param_count("film", 100, 100, size=16, direction="rgb->lidar")
    20200
    """
    with torch.device("meta"):
        op = create_fusion(name, rgb_channels, lidar_channels, size, **options)
    return sum(p.numel() for p in op.parameters())


def list_fusions() -> list[str]:
    """Names of the registered fusion operators, sorted."""
    return sorted(_FUSION_OPS)


def fusion_class(name: str) -> type[FusionOp]:
    """The class registered as ``name`` (its ``formula``, ``paper``, ``maps_only``, ``exchanges``)."""
    if name not in _FUSION_OPS:
        raise ValueError(f"unknown fusion op {name!r}; registered: {', '.join(list_fusions())}")
    return _FUSION_OPS[name]


@register_fusion("concat")
class ConcatFusion(FusionOp):
    """Channel concatenation: ``C_rgb + C_lidar`` channels."""

    same_shape = False
    formula = "y = [x_rgb; x_lidar] (channels concatenated)"

    def out_channels(self, rgb_channels: int, lidar_channels: int) -> int:
        return rgb_channels + lidar_channels

    def forward(self, rgb: torch.Tensor, lidar: torch.Tensor) -> torch.Tensor:
        return torch.cat([rgb, lidar], dim=1)


@register_fusion("add")
class AddFusion(FusionOp):
    """Element-wise sum."""

    formula = "y = x_rgb + x_lidar"

    def forward(self, rgb: torch.Tensor, lidar: torch.Tensor) -> torch.Tensor:
        return rgb + lidar


@register_fusion("hadamard")
class HadamardFusion(FusionOp):
    """Element-wise (Hadamard) product."""

    formula = "y = x_rgb * x_lidar"

    def forward(self, rgb: torch.Tensor, lidar: torch.Tensor) -> torch.Tensor:
        return rgb * lidar


@register_fusion("matmul")
class MatmulFusion(FusionOp):
    """Per-channel matrix product of the two ``H x W`` maps (``H == W``), as in the course lab."""

    formula = "y[c] = x_rgb[c] @ x_lidar[c] (per channel, H x W matrices)"
    maps_only = True

    def forward(self, rgb: torch.Tensor, lidar: torch.Tensor) -> torch.Tensor:
        if rgb.ndim != 4 or rgb.shape[-1] != rgb.shape[-2]:
            raise ValueError(f"'matmul' fusion needs square feature maps (B, C, N, N); got {tuple(rgb.shape)}")
        return torch.matmul(rgb, lidar)
