"""The course lab "Intermediate Fusion": networks that regress the x, y, z of three objects (9 numbers).

Inputs: RGBA in [0, 1] and LiDAR xyza *without* the cos(zenith) factor on x ("course" formula), both 4x64x64.
All are named ``course_*`` to keep them apart from the assignment's classifiers. Here "intermediate" fuses
after all three conv blocks of each modality, with no shared conv block; "early" fuses the raw inputs.
Every network ends in the lab's MLP 1000 -> 100 -> 9 after flattening.
"""
from __future__ import annotations

from mmzoo.models.nets import ConvFusionNet, LateFusionNet, SingleModalityNet
from mmzoo.registry.metadata import ArchInfo, InputSpec
from mmzoo.registry import register_model

__all__: list[str] = []  # constructors are reached through mmzoo.create / the registry

TASK = "regression: x, y, z of three objects (9 outputs), MSE"

# Constructor defaults, exactly as in the lab. ``Net(in_ch)`` is conv 50-100-200 + MLP 12,800 -> 1000 -> 100 -> 9.
COMMON = dict(num_outputs=9, xyza_formula="course")
NET = dict(widths=(50, 100, 200), head_hidden=(1000, 100), **COMMON)
LATE = dict(branch_widths=(50, 100, 200), branch_hidden=(1000, 100), branch_dim=9, head_hidden=(90,), **COMMON)
INTERMEDIATE = dict(widths=(25, 50, 100), fusion_point=3, head_hidden=(1000, 100), **COMMON)

FUSED_AFTER = {"early": "inputs", "intermediate": "3 conv blocks", "late": "full Net(4)", "none": "-"}
INTERMEDIATE_DETAIL = "after all 3 conv blocks per modality (25-50-100, 8x8), no shared conv block"


def _info(fusion_point: str, fusion_op: str | None, num_params: int, detail: str, modalities=("rgb", "lidar")) -> ArchInfo:
    return ArchInfo(
        source="course",
        task=TASK,
        fusion_point=fusion_point,
        fusion_op=fusion_op,
        num_outputs=9,
        num_params=num_params,
        input_spec=InputSpec(modalities=tuple(modalities), xyza_formula="course"),
        fused_after=FUSED_AFTER[fusion_point],
        fusion_detail=detail,
    )


@register_model(info=_info("early", "concat", 13_130_959, "rgb and xyza concatenated (8 channels) into the lab's Net(8)"))
def course_early_fusion(**kwargs) -> ConvFusionNet:
    """Early fusion: the lab's Net(8) on RGBA and xyza concatenated along channels (13,130,959 parameters)."""
    return ConvFusionNet(**{**NET, "fusion_point": 0, "fusion_op": "concat", **kwargs})


@register_model(info=_info("late", "concat", 26_260_847, "two full Net(4), their 9-d outputs concatenated, MLP 90 -> 9"))
def course_late_fusion(**kwargs) -> LateFusionNet:
    """Late fusion: a Net(4) per modality, predictions concatenated (18) -> 90 -> 9 (26,260,847 parameters)."""
    return LateFusionNet(**{**LATE, "fusion_op": "concat", **kwargs})


@register_model(info=_info("intermediate", "concat", 13_016_659, INTERMEDIATE_DETAIL))
def course_intermediate_cat(**kwargs) -> ConvFusionNet:
    """Intermediate fusion by concatenating the two (100, 8, 8) maps (13,016,659 parameters)."""
    return ConvFusionNet(**{**INTERMEDIATE, "fusion_op": "concat", **kwargs})


@register_model(info=_info("intermediate", "matmul", 6_616_659, INTERMEDIATE_DETAIL))
def course_intermediate_matmul(**kwargs) -> ConvFusionNet:
    """Intermediate fusion by a per-channel 8x8 @ 8x8 matrix product (6,616,659 parameters)."""
    return ConvFusionNet(**{**INTERMEDIATE, "fusion_op": "matmul", **kwargs})


@register_model(info=_info("none", None, 13_129_159, "RGB-only baseline: Net(4) on RGBA; the lidar input is ignored", ("rgb",)))
def course_rgb_only(**kwargs) -> SingleModalityNet:
    """RGB-only baseline, the lab's Net(4) on RGBA (13,129,159 parameters). ``model(rgb, lidar)`` ignores lidar."""
    return SingleModalityNet(**{**NET, "modality": "rgb", **kwargs})


@register_model(info=_info("none", None, 13_129_159, "LiDAR-only baseline: Net(4) on xyza; the rgb input is ignored", ("lidar",)))
def course_lidar_only(**kwargs) -> SingleModalityNet:
    """LiDAR-only baseline, the lab's Net(4) on xyza (13,129,159 parameters). ``model(rgb, lidar)`` ignores rgb."""
    return SingleModalityNet(**{**NET, "modality": "lidar", **kwargs})
