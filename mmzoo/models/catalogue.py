"""The fusion catalogue: the assignment's networks with each learned operator, multi-stage and late variants.

Every network here solves the assignment task (cube vs sphere, one logit, assignment xyza) with the shapes of
``intermediate_cat`` (conv 50-100 per modality, fusion on the 16x16 maps, a shared conv block of 100, MLP
100 -> 1) or ``late_fusion`` (conv 25-50-100 + a 100-d embedding per modality), so that a comparison measures
the operator and not the size: every intermediate network stays within 20% of ``intermediate_cat``'s
914,201 parameters. All default to ``lidar_scale=0.02`` (the gain with which the assignment recipe trains on raw
xyza; compare the exact-recipe and ``lidar_scale=0.02`` assignment tables in ``docs/benchmarks.md``); pass ``lidar_scale=1.0`` for the notebooks' unscaled inputs.
"""
from __future__ import annotations

from typing import Any

from mmzoo.models.assignment import INPUT_SPEC, INTERMEDIATE, LATE, TASK
from mmzoo.models.nets import ConvFusionNet, LateFusionNet
from mmzoo.registry import register_model
from mmzoo.registry.metadata import ArchInfo

__all__: list[str] = []  # constructors are reached through mmzoo.create / the registry

SCALE = {"lidar_scale": 0.02}
INTERMEDIATE_AFTER = "2 conv blocks"
LATE_AFTER = "embedding"


def _info(fusion_point: str, fusion_op: str, num_params: int, detail: str, points: tuple[int, ...], description: str) -> ArchInfo:
    return ArchInfo(
        source="mmzoo",
        family="catalogue",
        task=TASK,
        fusion_point=fusion_point,
        fusion_op=fusion_op,
        num_outputs=1,
        num_params=num_params,
        input_spec=INPUT_SPEC,
        fused_after=_fused_after(fusion_point, points),
        fusion_detail=detail,
        fusion_points=points,
        description=description,
    )


def _fused_after(fusion_point: str, points: tuple[int, ...]) -> str:
    if fusion_point != "intermediate":
        return LATE_AFTER
    if len(points) > 1:  # multi-stage: the branches meet after each of these blocks
        return f"conv blocks {', '.join(map(str, points[:-1]))} and {points[-1]}"
    return INTERMEDIATE_AFTER


def _intermediate(fusion_op: str, kwargs: dict[str, Any], **defaults: Any) -> ConvFusionNet:
    return ConvFusionNet(**{**INTERMEDIATE, **SCALE, "fusion_op": fusion_op, **defaults, **kwargs})


def _late(fusion_op: str, kwargs: dict[str, Any], **defaults: Any) -> LateFusionNet:
    return LateFusionNet(**{**LATE, **SCALE, "fusion_op": fusion_op, **defaults, **kwargs})


# --- one operator at the assignment's fusion point (after 2 conv blocks, 100 x 16 x 16 maps) ---------------------

@register_model(info=_info("intermediate", "film", 864_601, "FiLM both ways on the 16x16 maps, summed (100 ch)", (2,),
                           "FiLM (Perez et al. 2018): each modality scales and shifts the other's channels"))
def intermediate_film(**kwargs) -> ConvFusionNet:
    """``intermediate_cat`` with FiLM fusion in both directions (rgb->lidar + lidar->rgb, summed)."""
    return _intermediate("film", kwargs, fusion_options={"direction": "both"})


@register_model(info=_info("intermediate", "gated", 864_501, "gated multimodal unit per pixel (100 ch)", (2,),
                           "gated fusion (GMU, Arevalo et al. 2017): a sigmoid gate mixes the projected modalities"))
def intermediate_gated(**kwargs) -> ConvFusionNet:
    """``intermediate_cat`` with a gated multimodal unit on the 16x16 maps."""
    return _intermediate("gated", kwargs)


@register_model(info=_info("intermediate", "lmf", 905_105, "low-rank tensor fusion, rank 4, per pixel (100 ch)", (2,),
                           "low-rank multimodal fusion (LMF, Liu et al. 2018), rank 4"))
def intermediate_lmf(**kwargs) -> ConvFusionNet:
    """``intermediate_cat`` with low-rank tensor fusion (rank 4; ``fusion_options={"rank": k}`` changes it)."""
    return _intermediate("lmf", kwargs, fusion_options={"rank": 4})


@register_model(info=_info("intermediate", "mlb", 854_501, "MLB bilinear pooling per pixel, 100 joint channels", (2,),
                           "low-rank bilinear pooling (MLB, Kim et al. 2017)"))
def intermediate_mlb(**kwargs) -> ConvFusionNet:
    """``intermediate_cat`` with MLB low-rank bilinear pooling on the 16x16 maps."""
    return _intermediate("mlb", kwargs)


@register_model(info=_info("intermediate", "tokens", 948_701, "one transformer layer over 2 x 4x4 pooled tokens, "
                           "its update added back to each branch, then summed", (2,),
                           "TransFuser-style token fusion at one point (Prakash et al. 2021)"))
def intermediate_tokens(**kwargs) -> ConvFusionNet:
    """``intermediate_cat`` with TransFuser-style token fusion (4x4 grid, 1 layer, 2 heads) at one point."""
    return _intermediate("tokens", kwargs, fusion_options={"grid": 4, "layers": 1, "heads": 2})


@register_model(info=_info("intermediate", "convfuse", 1_004_301, "BEVFusion conv fuser: concat (200 ch), conv3x3 "
                           "-> 100, ReLU", (2,), "BEVFusion-style conv fuser (Liu et al. 2022)"))
def bevfusion_conv(**kwargs) -> ConvFusionNet:
    """``intermediate_cat`` with BEVFusion's conv fuser: concatenation, then a 3x3 conv back to 100 channels."""
    return _intermediate("convfuse", kwargs)


# --- multi-stage: the branches exchange after block 1, then fuse after block 2 ------------------------------------

@register_model(info=_info("intermediate", "mmtm", 849_576, "MMTM after blocks 1 (50 ch, 32x32) and 2 (100 ch, "
                           "16x16), branches summed after block 2", (1, 2),
                           "MMTM (Joze et al. 2020): squeeze-and-excitation exchange between the branches"))
def mmtm(**kwargs) -> ConvFusionNet:
    """MMTM between the branches after blocks 1 and 2; the excited maps are summed after block 2."""
    return _intermediate("mmtm", kwargs, exchange_points=(1,))


@register_model(info=_info("intermediate", "tokens", 980_951, "token transformer after blocks 1 (50 ch, 32x32) and "
                           "2 (100 ch, 16x16), 4x4 grids, 1 layer each; branches summed after block 2", (1, 2),
                           "a tiny TransFuser (Prakash et al. 2021): token fusion at two stages"))
def transfuser_tiny(**kwargs) -> ConvFusionNet:
    """TransFuser at the assignment's size: token fusion after blocks 1 and 2, then sum, shared block, head."""
    options = {"grid": 4, "layers": 1, "heads": 2}
    return _intermediate("tokens", kwargs, fusion_options=options, exchange_points=(1,), exchange_options=options)


@register_model(info=_info("intermediate", "film", 874_801, "FiLM both ways after block 1 (50 ch) and block 2 "
                           "(100 ch, summed)", (1, 2), "FiLM at two stages (Perez et al. 2018)"))
def multistage_film(**kwargs) -> ConvFusionNet:
    """FiLM in both directions after blocks 1 and 2 (the modulated maps are summed after block 2)."""
    options = {"direction": "both"}
    return _intermediate("film", kwargs, fusion_options=options, exchange_points=(1,), exchange_options=options)


# --- late: the assignment's 100-d embeddings fused as vectors -----------------------------------------------------

@register_model(info=_info("late", "film", 1_445_451, "FiLM both ways on the 100-d embeddings, summed", (),
                           "late fusion by FiLM (Perez et al. 2018)"))
def late_film(**kwargs) -> LateFusionNet:
    """``late_fusion`` with the embeddings fused by FiLM in both directions."""
    return _late("film", kwargs, fusion_options={"direction": "both"})


@register_model(info=_info("late", "gated", 1_445_351, "gated multimodal unit on the 100-d embeddings", (),
                           "late fusion by a gated multimodal unit (Arevalo et al. 2017)"))
def late_gated(**kwargs) -> LateFusionNet:
    """``late_fusion`` with the embeddings fused by a gated multimodal unit."""
    return _late("gated", kwargs)


@register_model(info=_info("late", "lmf", 1_485_955, "low-rank tensor fusion, rank 4, of the 100-d embeddings", (),
                           "late low-rank multimodal fusion (Liu et al. 2018), rank 4"))
def late_lmf(**kwargs) -> LateFusionNet:
    """``late_fusion`` with the embeddings fused by low-rank tensor fusion (rank 4)."""
    return _late("lmf", kwargs, fusion_options={"rank": 4})


@register_model(info=_info("late", "mlb", 1_435_351, "MLB bilinear pooling of the 100-d embeddings", (),
                           "late fusion by low-rank bilinear pooling (MLB, Kim et al. 2017)"))
def late_mlb(**kwargs) -> LateFusionNet:
    """``late_fusion`` with the embeddings fused by MLB low-rank bilinear pooling."""
    return _late("mlb", kwargs)
