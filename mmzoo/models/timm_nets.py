"""Any timm backbone per modality: ``TimmFusionNet`` and its registered resnet18 networks.

Each modality gets ``timm.create_model(name, features_only=True, out_indices=(stage,), in_chans=C)``: timm
truncates the backbone after that stage, takes 4 (RGBA, xyza) or 1 (depth) input channels (with pretrained
weights it adapts the stem, summing or repeating the RGB filters), and reports each stage's channels and stride in
``feature_info``. The two stage maps are fused by any registered operator, either as maps (then averaged to a
vector) or, for late fusion, after global averaging (``pool_first=True``); an MLP head decides.

It works offline: backbones start from random weights unless ``pretrained_backbones=True``, which loads timm's
weights from wherever timm finds them (its cache or the Hub). With 64x64 inputs a stage of stride 32 gives 2x2
maps; stages whose maps would be smaller than 2x2 are refused with the list of usable ones.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from mmzoo.models.assignment import INPUT_SPEC, TASK
from mmzoo.models.base import MultiModalNet, make_input_spec
from mmzoo.models.blocks import mlp
from mmzoo.models.fusion import create_fusion
from mmzoo.registry import register_model
from mmzoo.registry.metadata import ArchInfo

__all__ = ["TimmFusionNet", "backbone_stages"]


def _timm():
    """timm, imported when a timm network is built: importing it loads several hundred modules and
    huggingface_hub, which ``import mmzoo`` (and the data and model layers) must not pay for."""
    import timm

    return timm

MIN_SIDE = 2  # smallest feature map fused: a 1x1 map has lost all layout


def backbone_stages(name: str, in_chans: int, input_size: int) -> list[dict[str, int]]:
    """Stages of timm model ``name``: index, channels, stride and map side for ``input_size`` inputs.

    Built on the meta device where the backbone allows it, so it costs no memory; it downloads nothing.

    >>> [s["side"] for s in backbone_stages("resnet18", 4, 64)]
    [32, 16, 8, 4, 2]
    """
    timm = _timm()
    try:
        with torch.device("meta"):
            model = timm.create_model(name, features_only=True, in_chans=in_chans, pretrained=False)
    except NotImplementedError:  # a backbone whose constructor reads a tensor's value (timm 1.0.10's ConvNeXt)
        model = timm.create_model(name, features_only=True, in_chans=in_chans, pretrained=False)
    info = model.feature_info
    return [
        {"index": i, "channels": c, "stride": r, "side": input_size // r}
        for i, (c, r) in enumerate(zip(info.channels(), info.reduction()))
    ]


def _stage(name: str, modality: str, in_chans: int, input_size: int, stage: int) -> dict[str, int]:
    """The stage ``stage`` (negative counts from the last) of backbone ``name``, checked to be >= 2x2."""
    stages = backbone_stages(name, in_chans, input_size)
    if not -len(stages) <= stage < len(stages):
        raise ValueError(f"{modality}_backbone {name!r} has stages 0..{len(stages) - 1}; got fusion_stage={stage}")
    chosen = stages[stage]
    if chosen["side"] < MIN_SIDE or input_size % chosen["stride"]:
        usable = [s["index"] for s in stages if s["side"] >= MIN_SIDE and input_size % s["stride"] == 0]
        raise ValueError(
            f"{modality}_backbone {name!r} stage {chosen['index']} has stride {chosen['stride']}: a {input_size}x"
            f"{input_size} input gives a {chosen['side']}x{chosen['side']} map; fusion needs maps of at least "
            f"{MIN_SIDE}x{MIN_SIDE} (usable stages: {usable})"
        )
    return chosen


class TimmFusionNet(MultiModalNet):
    """Two timm backbones (one per modality) fused at one stage by a registered operator, then an MLP head.

    Args:
        rgb_backbone, lidar_backbone: timm model names (``timm.list_models()``), e.g. "resnet18".
        fusion_op: a registered fusion operator; ``fusion_options`` its arguments.
        fusion_stage: the feature stage both backbones are cut at (index into ``feature_info``; -1 = the last).
            The two backbones must give maps of the same side there.
        pool_first: True = late fusion (global average each map, fuse the vectors); False = fuse the maps.
        head_hidden, num_outputs, lidar_scale, **input_kwargs: as in ``ConvFusionNet``.
        pretrained_backbones: load timm's ImageNet weights (needs them in timm's cache or the Hub).
    """

    def __init__(
        self,
        rgb_backbone: str = "resnet18",
        lidar_backbone: str = "resnet18",
        fusion_op: str = "concat",
        fusion_stage: int = -1,
        pool_first: bool = True,
        head_hidden: Sequence[int] = (100,),
        num_outputs: int = 1,
        lidar_scale: float = 0.02,
        pretrained_backbones: bool = False,
        fusion_options: dict[str, Any] | None = None,
        **input_kwargs: Any,
    ) -> None:
        super().__init__(make_input_spec(("rgb", "lidar"), **input_kwargs), num_outputs, lidar_scale)
        spec = self.input_spec
        rgb = _stage(rgb_backbone, "rgb", spec.rgb_channels, spec.height, fusion_stage)
        lidar = _stage(lidar_backbone, "lidar", spec.lidar_channels, spec.height, fusion_stage)
        if rgb["side"] != lidar["side"]:
            raise ValueError(
                f"fusion_stage {fusion_stage}: rgb_backbone gives {rgb['side']}x{rgb['side']} maps but lidar_backbone "
                f"{lidar['side']}x{lidar['side']}; choose backbones or a stage with the same stride"
            )
        self.pool_first = pool_first
        timm = _timm()
        self.rgb_branch = timm.create_model(
            rgb_backbone, features_only=True, out_indices=(rgb["index"],), in_chans=spec.rgb_channels,
            pretrained=pretrained_backbones,
        )
        self.lidar_branch = timm.create_model(
            lidar_backbone, features_only=True, out_indices=(lidar["index"],), in_chans=spec.lidar_channels,
            pretrained=pretrained_backbones,
        )
        size = None if pool_first else rgb["side"]
        self.fusion = create_fusion(fusion_op, rgb["channels"], lidar["channels"], size, **(fusion_options or {}))
        self.head = mlp(self.fusion.out_channels(rgb["channels"], lidar["channels"]), head_hidden, num_outputs)

    def forward_fused(self, rgb: torch.Tensor, lidar: torch.Tensor) -> torch.Tensor:
        rgb, lidar = self.rgb_branch(rgb)[-1], self.lidar_branch(lidar)[-1]
        if self.pool_first:
            return self.head(self.fusion(rgb.mean(dim=(2, 3)), lidar.mean(dim=(2, 3))))
        return self.head(self.fusion(rgb, lidar).mean(dim=(2, 3)))


def _info(fusion_op: str, num_params: int, detail: str, description: str, pool_first: bool) -> ArchInfo:
    return ArchInfo(
        source="mmzoo",
        family="timm",
        task=TASK,
        fusion_point="late" if pool_first else "intermediate",
        fusion_op=fusion_op,
        num_outputs=1,
        num_params=num_params,
        input_spec=INPUT_SPEC,
        fused_after="resnet18 stage 4 (stride 32, 2x2 at 64x64)",
        fusion_detail=detail,
        downsample="stride",
        description=description,
        fusion_points=(4,),
    )


RESNET18 = dict(rgb_backbone="resnet18", lidar_backbone="resnet18", fusion_stage=-1, head_hidden=(100,), num_outputs=1)


@register_model(info=_info(
    "concat", 22_461_897, "two timm resnet18 (4 input channels each), each 512-d global average, concatenated, "
    "MLP 1024 -> 100 -> 1", "Late fusion of two timm resnet18 backbones (random init; pretrained_backbones=True "
    "for timm's weights)", pool_first=True,
))
def timm_resnet18_late(**kwargs) -> TimmFusionNet:
    """Late fusion of two timm resnet18 backbones: 512-d vectors concatenated, MLP head."""
    return TimmFusionNet(**{**RESNET18, "fusion_op": "concat", "pool_first": True, **kwargs})


@register_model(info=_info(
    "film", 23_461_321, "two timm resnet18; each 512x2x2 stage-4 map modulated by the other's FiLM (both "
    "directions, summed), global average, MLP 512 -> 100 -> 1", "FiLM fusion of two timm resnet18 backbones' "
    "last maps", pool_first=False,
))
def timm_resnet18_film(**kwargs) -> TimmFusionNet:
    """Two timm resnet18 backbones fused by FiLM on their 2x2 stage-4 maps, then averaged and an MLP head."""
    return TimmFusionNet(**{**RESNET18, "fusion_op": "film", "pool_first": False, **kwargs})
