"""Every registered architecture builds, runs, and is exactly the size its metadata and its notebook say."""
from __future__ import annotations

import pytest
import torch

import mmzoo

# Parameter counts published in the source notebooks (seeds.md), independent of mmzoo's own metadata.
NOTEBOOK_PARAMS = {
    "late_fusion": 1_415_051,
    "intermediate_cat": 914_201,
    "intermediate_add": 824_201,
    "intermediate_hadamard": 824_201,
    "late_fusion_strided": 1_415_051,
    "intermediate_cat_strided": 914_201,
    "intermediate_add_strided": 824_201,
    "intermediate_hadamard_strided": 824_201,
    "course_early_fusion": 13_130_959,
    "course_late_fusion": 26_260_847,
    "course_intermediate_cat": 13_016_659,
    "course_intermediate_matmul": 6_616_659,
    "course_rgb_only": 13_129_159,
    "course_lidar_only": 13_129_159,
}


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def inputs(model, batch: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    spec = model.input_spec
    return torch.rand(batch, *spec.shape("rgb")), torch.rand(batch, *spec.shape("lidar"))


def test_registry_holds_exactly_the_notebook_architectures():
    notebooks = [n for n in mmzoo.list_models() if mmzoo.model_info(n).source in ("assignment", "course")]
    assert sorted(notebooks) == sorted(NOTEBOOK_PARAMS)


@pytest.mark.parametrize("name", sorted(NOTEBOOK_PARAMS))
def test_builds_runs_and_counts(name):
    torch.manual_seed(0)
    model = mmzoo.create(name)
    info = mmzoo.model_info(name)
    assert n_params(model) == info.num_params == NOTEBOOK_PARAMS[name]
    out = model(*inputs(model))
    assert out.shape == (2, info.num_outputs)
    assert torch.isfinite(out).all()
    assert model.input_spec.modalities == info.input_spec.modalities
    assert model.input_spec.xyza_formula == info.input_spec.xyza_formula


@pytest.mark.parametrize("name", ["late_fusion", "intermediate_cat_strided", "course_intermediate_matmul"])
def test_model_carries_what_rebuilds_it(name):
    model = mmzoo.create(name, num_outputs=3, lidar_channels=1)
    cfg = model.model_config
    assert cfg == {"architecture": name, "kwargs": {"num_outputs": 3, "lidar_channels": 1}}
    rebuilt = mmzoo.create(cfg["architecture"], **cfg["kwargs"])
    assert [(k, v.shape) for k, v in rebuilt.state_dict().items()] == [(k, v.shape) for k, v in model.state_dict().items()]
    rebuilt.load_state_dict(model.state_dict())  # strict: same keys, same shapes
    rgb, lidar = inputs(model)
    assert torch.equal(rebuilt(rgb, lidar), model(rgb, lidar))


@pytest.mark.parametrize("name", ["late_fusion", "intermediate_add", "course_early_fusion", "course_lidar_only"])
@pytest.mark.parametrize("rgb_channels,lidar_channels,num_outputs", [(3, 1, 1), (4, 1, 5), (3, 4, 9)])
def test_configurable_head_and_channels(name, rgb_channels, lidar_channels, num_outputs):
    model = mmzoo.create(name, rgb_channels=rgb_channels, lidar_channels=lidar_channels, num_outputs=num_outputs)
    assert model.input_spec.shape("rgb") == (rgb_channels, 64, 64)
    assert model.input_spec.lidar_format == ("depth" if lidar_channels == 1 else "xyza")
    assert model.input_spec.xyza_formula is None or lidar_channels == 4
    assert model(*inputs(model)).shape == (2, num_outputs)


def test_strided_variant_differs_from_pooled_only_in_downsampling():
    pooled, strided = mmzoo.create("intermediate_cat"), mmzoo.create("intermediate_cat_strided")
    assert [v.shape for v in pooled.state_dict().values()] == [v.shape for v in strided.state_dict().values()]
    convs = [m for m in strided.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(c.stride == (2, 2) for c in convs)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in strided.modules())
    assert all(c.stride == (1, 1) for c in pooled.modules() if isinstance(c, torch.nn.Conv2d))


def test_single_modality_baselines_read_only_their_input():
    rgb_only, lidar_only = mmzoo.create("course_rgb_only"), mmzoo.create("course_lidar_only")
    rgb, lidar = inputs(rgb_only)
    assert torch.equal(rgb_only(rgb, lidar), rgb_only(rgb, None))
    assert torch.equal(lidar_only(rgb, lidar), lidar_only(None, lidar))
    assert rgb_only.input_spec.modalities == ("rgb",)


def test_early_fusion_is_net8_on_concatenated_inputs():
    model = mmzoo.create("course_early_fusion")
    first = model.trunk[0][0]
    assert isinstance(first, torch.nn.Conv2d) and first.in_channels == 8 and first.out_channels == 50


def test_intermediate_fusion_points_differ_between_families():
    assignment, course = mmzoo.create("intermediate_cat"), mmzoo.create("course_intermediate_cat")
    assert (assignment.fusion_point, len(assignment.trunk)) == (2, 1)
    assert (course.fusion_point, len(course.trunk)) == (3, 0)
    assert mmzoo.model_info("intermediate_cat").fused_after != mmzoo.model_info("course_intermediate_cat").fused_after
