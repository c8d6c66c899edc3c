"""The assignment notebook "Fusion Architecture Comparison": late and intermediate fusion for cube vs sphere.

Inputs: RGBA in [0, 1] and LiDAR xyza with the cos(zenith) factor on x ("assignment" formula), both 4x64x64;
one logit (cube 0, sphere 1). Here "intermediate" fuses after two conv blocks per modality and is followed by
one shared conv block. The ``*_strided`` variants are the notebook's ablation: every max-pool replaced by
stride 2 in the convolution before it (same parameter counts, different accuracy).

The constructors default to the notebook's raw inputs (``lidar_scale=1.0``), but every architecture here has
published ``shapes_v1`` weights trained with ``lidar_scale=0.02`` (x, y, z times 1/50 inside the model: on mmzoo's
synthetic frames the notebook's recipe needs it). ``mmzoo.create("intermediate_cat.shapes_v1", pretrained=True)``
builds with it; ``mmzoo.model_info(name).pretrained_kwargs`` lists each weight's constructor arguments, read from
the weights' records in ``mmzoo/pretrained/index.json``.
"""
from __future__ import annotations

from mmzoo.models.nets import ConvFusionNet, LateFusionNet
from mmzoo.registry.metadata import ArchInfo, InputSpec
from mmzoo.registry import register_model

__all__: list[str] = []  # constructors are reached through mmzoo.create / the registry

TASK = "binary classification: cube (0) vs sphere (1), 1 logit"
INPUT_SPEC = InputSpec(xyza_formula="assignment")

# Constructor defaults of the two network shapes, exactly as in the notebook.
LATE = dict(branch_widths=(25, 50, 100), branch_hidden=(), branch_dim=100, head_hidden=(100,), num_outputs=1)
INTERMEDIATE = dict(widths=(50, 100, 100), fusion_point=2, head_hidden=(100,), num_outputs=1)

LATE_DETAIL = "each modality: conv 25-50-100 + Linear 6400->100 embedding; embeddings fused, MLP 100 -> 1"
INTERMEDIATE_DETAIL = "after 2 conv blocks per modality (50-100, 16x16), then a shared conv block (100), MLP 100 -> 1"


def _info(fusion_point: str, fusion_op: str, num_params: int, downsample: str, detail: str) -> ArchInfo:
    return ArchInfo(
        source="assignment",
        task=TASK,
        fusion_point=fusion_point,
        fusion_op=fusion_op,
        num_outputs=1,
        num_params=num_params,
        input_spec=INPUT_SPEC,
        fused_after="2 conv blocks" if fusion_point == "intermediate" else "embedding",
        fusion_detail=detail,
        downsample=downsample,
    )


@register_model(info=_info("late", "concat", 1_415_051, "pool", LATE_DETAIL))
def late_fusion(**kwargs) -> LateFusionNet:
    """Late fusion: two 100-d embeddings concatenated, then an MLP head (1,415,051 parameters)."""
    return LateFusionNet(**{**LATE, **kwargs})


@register_model(info=_info("late", "concat", 1_415_051, "stride", LATE_DETAIL))
def late_fusion_strided(**kwargs) -> LateFusionNet:
    """``late_fusion`` with stride-2 convolutions instead of max-pooling."""
    return LateFusionNet(**{**LATE, "downsample": "stride", **kwargs})


@register_model(info=_info("intermediate", "concat", 914_201, "pool", INTERMEDIATE_DETAIL))
def intermediate_cat(**kwargs) -> ConvFusionNet:
    """Intermediate fusion by channel concatenation (200 channels into the shared block; 914,201 parameters)."""
    return ConvFusionNet(**{**INTERMEDIATE, "fusion_op": "concat", **kwargs})


@register_model(info=_info("intermediate", "add", 824_201, "pool", INTERMEDIATE_DETAIL))
def intermediate_add(**kwargs) -> ConvFusionNet:
    """Intermediate fusion by element-wise sum (824,201 parameters)."""
    return ConvFusionNet(**{**INTERMEDIATE, "fusion_op": "add", **kwargs})


@register_model(info=_info("intermediate", "hadamard", 824_201, "pool", INTERMEDIATE_DETAIL))
def intermediate_hadamard(**kwargs) -> ConvFusionNet:
    """Intermediate fusion by element-wise product (824,201 parameters)."""
    return ConvFusionNet(**{**INTERMEDIATE, "fusion_op": "hadamard", **kwargs})


@register_model(info=_info("intermediate", "concat", 914_201, "stride", INTERMEDIATE_DETAIL))
def intermediate_cat_strided(**kwargs) -> ConvFusionNet:
    """``intermediate_cat`` with stride-2 convolutions instead of max-pooling."""
    return ConvFusionNet(**{**INTERMEDIATE, "fusion_op": "concat", "downsample": "stride", **kwargs})


@register_model(info=_info("intermediate", "add", 824_201, "stride", INTERMEDIATE_DETAIL))
def intermediate_add_strided(**kwargs) -> ConvFusionNet:
    """``intermediate_add`` with stride-2 convolutions instead of max-pooling."""
    return ConvFusionNet(**{**INTERMEDIATE, "fusion_op": "add", "downsample": "stride", **kwargs})


@register_model(info=_info("intermediate", "hadamard", 824_201, "stride", INTERMEDIATE_DETAIL))
def intermediate_hadamard_strided(**kwargs) -> ConvFusionNet:
    """``intermediate_hadamard`` with stride-2 convolutions instead of max-pooling."""
    return ConvFusionNet(**{**INTERMEDIATE, "fusion_op": "hadamard", "downsample": "stride", **kwargs})
