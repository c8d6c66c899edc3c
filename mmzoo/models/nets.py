"""The three network shapes every zoo model is an instance of, assembled from blocks and fusion operators.

- ``ConvFusionNet``: per-modality conv branches, a fusion operator on the feature maps after ``fusion_point``
  blocks, a shared conv trunk, an MLP head. ``fusion_point=0`` is early fusion (fuse the raw inputs).
  ``exchange_points`` adds multi-stage fusion: an exchanging operator (MMTM, tokens, FiLM) after those blocks
  enriches each branch with the other while the branches stay separate, as TransFuser and MMTM do.
- ``LateFusionNet``: two complete per-modality networks (conv encoder + MLP to an embedding or prediction),
  fused as vectors, then an MLP head.
- ``SingleModalityNet``: the baselines, one conv encoder + MLP head on one modality.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from mmzoo.models.base import MultiModalNet, make_input_spec
from mmzoo.models.blocks import ConvEncoder, mlp
from mmzoo.models.fusion import FusionOp, create_fusion, fusion_class

__all__ = ["ConvFusionNet", "LateFusionNet", "SingleModalityNet"]


class ConvFusionNet(MultiModalNet):
    """Early or intermediate fusion of feature maps.

    Args:
        widths: output channels of every conv block, branch blocks first, then shared trunk blocks.
        fusion_point: how many blocks each modality has before fusion (0 = early fusion on the raw inputs,
            ``len(widths)`` = fusion after the last conv block).
        fusion_op: a registered fusion operator (``mmzoo.models.list_fusions()``).
        fusion_options: the operator's own arguments, e.g. ``{"rank": 4}`` for "lmf".
        exchange_points: blocks (1 .. ``fusion_point``) after which ``exchange_op`` exchanges information
            between the still separate branches (multi-stage fusion); empty by default.
        exchange_op, exchange_options: an exchanging operator (default: ``fusion_op``) and its arguments.
        head_hidden: hidden sizes of the MLP head after flattening.
        num_outputs: 1 logit, k classes or 9 positions.
        downsample: "pool" (MaxPool2d after each conv) or "stride" (stride-2 convs).
        lidar_scale: fixed gain on LiDAR x, y, z before the first layer (1.0 = the notebooks; the hit mask is
            never scaled). Stored as the ``lidar_gain`` buffer, so weights carry the scale they were trained with.
        **input_kwargs: ``rgb_channels`` (4 or 3), ``lidar_channels`` (4 or 1), ``input_size`` (64),
            ``xyza_formula`` ("assignment" or "course"): the input spec, see ``make_input_spec``.
    """

    def __init__(
        self,
        widths: Sequence[int],
        fusion_point: int,
        fusion_op: str = "concat",
        head_hidden: Sequence[int] = (100,),
        num_outputs: int = 1,
        downsample: str = "pool",
        lidar_scale: float = 1.0,
        fusion_options: dict[str, Any] | None = None,
        exchange_points: Sequence[int] = (),
        exchange_op: str | None = None,
        exchange_options: dict[str, Any] | None = None,
        **input_kwargs: Any,
    ) -> None:
        super().__init__(make_input_spec(("rgb", "lidar"), **input_kwargs), num_outputs, lidar_scale)
        spec = self.input_spec
        if not 0 <= fusion_point <= len(widths):
            raise ValueError(f"fusion_point must be between 0 and len(widths)={len(widths)}; got {fusion_point}")
        self.fusion_point = fusion_point
        self.rgb_branch = ConvEncoder(spec.rgb_channels, widths[:fusion_point], downsample)
        self.lidar_branch = ConvEncoder(spec.lidar_channels, widths[:fusion_point], downsample)
        self.exchange_points = tuple(sorted(exchange_points))
        # Empty for the notebook networks, so their state-dict keys stay those of the published weights.
        self.exchanges = _exchanges(self.exchange_points, exchange_op or fusion_op, exchange_options, widths, fusion_point, spec.height)
        self.fusion = create_fusion(
            fusion_op, self.rgb_branch.out_channels, self.lidar_branch.out_channels,
            spec.height // 2**fusion_point, **(fusion_options or {}),
        )
        fused = self.fusion.out_channels(self.rgb_branch.out_channels, self.lidar_branch.out_channels)
        self.trunk = ConvEncoder(fused, widths[fusion_point:], downsample)
        side = spec.height // 2 ** len(widths)
        self.head = nn.Sequential(nn.Flatten(), mlp(self.trunk.out_channels * side * side, head_hidden, num_outputs))

    def forward_fused(self, rgb: torch.Tensor, lidar: torch.Tensor) -> torch.Tensor:
        if self.exchange_points:
            # Block by block, so that the exchanges sit between the branches' blocks (a static loop: exports).
            for i, (rgb_block, lidar_block) in enumerate(zip(self.rgb_branch, self.lidar_branch), start=1):
                rgb, lidar = rgb_block(rgb), lidar_block(lidar)
                if i in self.exchange_points:
                    rgb, lidar = self.exchanges[str(i)].exchange(rgb, lidar)
        else:
            rgb, lidar = self.rgb_branch(rgb), self.lidar_branch(lidar)
        return self.head(self.trunk(self.fusion(rgb, lidar)))


def _exchanges(
    points: tuple[int, ...], op: str, options: dict[str, Any] | None, widths: Sequence[int], fusion_point: int, size: int
) -> nn.ModuleDict:
    """One exchanging operator per point in ``points`` (blocks after which the branches exchange)."""
    if not points:
        return nn.ModuleDict()
    if not fusion_class(op).exchanges:
        raise ValueError(
            f"exchange_op {op!r} merges the branches and cannot exchange between them; "
            "use an exchanging operator such as 'mmtm', 'tokens' or 'film'"
        )
    bad = [p for p in points if not 1 <= p <= fusion_point]
    if bad or len(set(points)) != len(points):
        raise ValueError(f"exchange_points must be distinct blocks between 1 and fusion_point={fusion_point}; got {points}")
    modules: dict[str, FusionOp] = {
        str(p): create_fusion(op, widths[p - 1], widths[p - 1], size // 2**p, **(options or {})) for p in points
    }
    return nn.ModuleDict(modules)


def _branch(in_channels: int, widths: Sequence[int], hidden: Sequence[int], out: int, size: int, downsample: str):
    encoder = ConvEncoder(in_channels, widths, downsample)
    side = encoder.output_size(size)
    return nn.Sequential(encoder, nn.Flatten(), mlp(encoder.out_channels * side * side, hidden, out))


class LateFusionNet(MultiModalNet):
    """Late fusion: each modality runs a full network to a vector, the vectors are fused, an MLP head decides.

    Args:
        branch_widths: conv widths of each modality's encoder.
        branch_hidden: hidden sizes of each branch's MLP after flattening.
        branch_dim: size of each branch's output vector (an embedding, or a full prediction in the course).
        fusion_op: a registered fusion operator that works on vectors (every one but "matmul").
        fusion_options: the operator's own arguments, e.g. ``{"rank": 4}`` for "lmf".
        head_hidden, num_outputs, downsample, **input_kwargs: as in ``ConvFusionNet``.
    """

    def __init__(
        self,
        branch_widths: Sequence[int],
        branch_hidden: Sequence[int],
        branch_dim: int,
        fusion_op: str = "concat",
        head_hidden: Sequence[int] = (100,),
        num_outputs: int = 1,
        downsample: str = "pool",
        lidar_scale: float = 1.0,
        fusion_options: dict[str, Any] | None = None,
        **input_kwargs: Any,
    ) -> None:
        super().__init__(make_input_spec(("rgb", "lidar"), **input_kwargs), num_outputs, lidar_scale)
        spec = self.input_spec
        if fusion_class(fusion_op).maps_only:
            raise ValueError(f"late fusion fuses vectors; {fusion_op!r} needs feature maps (use concat, add or hadamard)")
        self.rgb_branch = _branch(spec.rgb_channels, branch_widths, branch_hidden, branch_dim, spec.height, downsample)
        self.lidar_branch = _branch(spec.lidar_channels, branch_widths, branch_hidden, branch_dim, spec.height, downsample)
        self.fusion = create_fusion(fusion_op, branch_dim, branch_dim, None, **(fusion_options or {}))
        self.head = mlp(self.fusion.out_channels(branch_dim, branch_dim), head_hidden, num_outputs)

    def forward_fused(self, rgb: torch.Tensor, lidar: torch.Tensor) -> torch.Tensor:
        return self.head(self.fusion(self.rgb_branch(rgb), self.lidar_branch(lidar)))


class SingleModalityNet(MultiModalNet):
    """A baseline that reads one modality: ``model(rgb, lidar)`` uses only the input named by ``modality``
    (the other may be None)."""

    def __init__(
        self,
        modality: str,
        widths: Sequence[int],
        head_hidden: Sequence[int],
        num_outputs: int = 1,
        downsample: str = "pool",
        lidar_scale: float = 1.0,
        **input_kwargs: Any,
    ) -> None:
        if modality not in ("rgb", "lidar"):
            raise ValueError(f"modality must be 'rgb' or 'lidar'; got {modality!r}")
        super().__init__(make_input_spec((modality,), **input_kwargs), num_outputs, lidar_scale)
        self.modality = modality
        in_channels = self.input_spec.shape(modality)[0]
        self.net = _branch(in_channels, widths, head_hidden, num_outputs, self.input_spec.height, downsample)

    def forward_fused(self, rgb: torch.Tensor | None, lidar: torch.Tensor | None) -> torch.Tensor:
        return self.net(rgb if self.modality == "rgb" else lidar)
