"""The fusion catalogue: each operator computes its formula, costs what its docstring says, and the catalogue's
networks, filters and timm builder behave as documented."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import mmzoo
from mmzoo.cli import main
from mmzoo.models import TimmFusionNet, create_fusion, fusion_param_count

INTERMEDIATE_CAT = 914_201
CATALOGUE = mmzoo.list_models(family="catalogue")


def pair(shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=gen), torch.randn(shape, generator=gen)


# --- formulas ---------------------------------------------------------------------------------------------------

def test_film_scales_and_shifts_the_other_modality():
    op = create_fusion("film", 3, 5, 4, direction="rgb->lidar")
    rgb, lidar = torch.randn(2, 3, 4, 4), torch.randn(2, 5, 4, 4)
    gamma, beta = op.to_lidar(rgb.mean((2, 3))).chunk(2, 1)
    expected = (1 + gamma[:, :, None, None]) * lidar + beta[:, :, None, None]
    assert torch.allclose(op(rgb, lidar), expected, atol=1e-6)
    assert op.out_channels(3, 5) == 5 and op.to_rgb is None
    both = create_fusion("film", 4, 4, None)
    r, l = pair((2, 4))
    new_r, new_l = both.exchange(r, l)
    g_r, b_r = both.to_rgb(l).chunk(2, 1)
    assert torch.allclose(new_r, (1 + g_r) * r + b_r, atol=1e-6)
    assert torch.allclose(both(r, l), new_r + new_l, atol=1e-6)


def test_gated_unit_mixes_with_a_sigmoid_gate():
    op = create_fusion("gated", 3, 4, None, dim=5)
    r, l = torch.randn(2, 3), torch.randn(2, 4)
    g = torch.sigmoid(F.linear(torch.cat([r, l], 1), op.gate.weight, op.gate.bias))
    expected = g * torch.tanh(F.linear(r, op.proj_rgb.weight, op.proj_rgb.bias)) + (1 - g) * torch.tanh(
        F.linear(l, op.proj_lidar.weight, op.proj_lidar.bias))
    assert torch.allclose(op(r, l), expected, atol=1e-6)
    # On maps the same unit acts on every pixel.
    maps = pair((2, 3, 4, 4))
    lidar_map = torch.randn(2, 4, 4, 4)
    assert torch.allclose(op(maps[0], lidar_map)[:, :, 1, 2], op(maps[0][:, :, 1, 2], lidar_map[:, :, 1, 2]), atol=1e-6)


def test_lmf_equals_its_rank_sum():
    op = create_fusion("lmf", 3, 2, None, rank=3, dim=4)
    r, l = torch.randn(2, 3), torch.randn(2, 2)
    ones = torch.ones(2, 1)
    expected = op.bias.clone().expand(2, 4).clone()
    for k in range(3):
        expected = expected + op.rank_weight[k] * (torch.cat([r, ones], 1) @ op.rgb_factor[k]) * (
            torch.cat([l, ones], 1) @ op.lidar_factor[k])
    assert torch.allclose(op(r, l), expected, atol=1e-5)


def test_mlb_is_a_projected_hadamard_product():
    op = create_fusion("mlb", 3, 3, None, rank=6, dim=2)
    r, l = pair((2, 3))
    joint = torch.tanh(op.proj_rgb(r)) * torch.tanh(op.proj_lidar(l))
    assert torch.allclose(op(r, l), op.out(joint), atol=1e-6)


def test_mmtm_excites_each_branch_from_the_joint_code():
    op = create_fusion("mmtm", 4, 6, 8, ratio=2)
    r, l = torch.randn(2, 4, 8, 8), torch.randn(2, 6, 8, 8)
    z = torch.relu(op.squeeze(torch.cat([r.mean((2, 3)), l.mean((2, 3))], 1)))
    new_r, new_l = op.exchange(r, l)
    assert torch.allclose(new_r, 2 * torch.sigmoid(op.excite_rgb(z))[:, :, None, None] * r, atol=1e-6)
    assert torch.allclose(new_l, 2 * torch.sigmoid(op.excite_lidar(z))[:, :, None, None] * l, atol=1e-6)
    assert op.squeeze.out_features == 5  # (4 + 6) / ratio


def test_tokens_pool_to_the_grid_and_add_back_the_update():
    op = create_fusion("tokens", 8, 8, 16, grid=4, layers=2, heads=2).eval()
    assert op.pool == 4 and op.pos.shape == (1, 32, 8)
    r, l = pair((2, 8, 16, 16))
    new_r, new_l = op.exchange(r, l)
    assert torch.equal(new_r, r) and torch.equal(new_l, l)  # zero-initialised residual branches: identity at first
    for parameter in op.parameters():
        nn.init.normal_(parameter, std=0.2)
    new_r, new_l = op.exchange(r, l)
    pooled = [F.avg_pool2d(x, 4).flatten(2).transpose(1, 2) for x in (r, l)]
    scales = [x.pow(2).mean((1, 2), keepdim=True).sqrt() for x in pooled]
    tokens = torch.cat([x / scale for x, scale in zip(pooled, scales)], 1) + op.pos
    update = op.transformer(tokens) - tokens
    for new, old, part, scale in ((new_r, r, update[:, :16], scales[0]), (new_l, l, update[:, 16:], scales[1])):
        grid = (part * scale).transpose(1, 2).reshape(2, 8, 4, 4)
        assert torch.allclose(new - old, F.interpolate(grid, size=(16, 16), mode="bilinear"), atol=1e-5)
        assert (new - old).abs().max() > 1e-2  # the transformer now changes both branches
    assert torch.allclose(op(r, l), new_r + new_l, atol=1e-6)
    # scale-equivariant in each input: a LiDAR map 1000 times smaller gets an update 1000 times smaller
    small_r, small_l = op.exchange(r, l / 1000)
    assert torch.allclose(small_r, new_r, atol=1e-5) and torch.allclose(small_l * 1000, new_l, atol=1e-4)
    with pytest.raises(ValueError, match=r"grid=5 must divide the 16x16 feature map; use one of \[1, 2, 4, 8, 16\]"):
        create_fusion("tokens", 8, 8, 16, grid=5)
    with pytest.raises(ValueError, match="heads=3 must divide the 8 channels"):
        create_fusion("tokens", 8, 8, 16, heads=3)


def test_convfuser_is_conv_of_the_concatenation():
    op = create_fusion("convfuse", 3, 2, 8, dim=4)
    r, l = torch.randn(2, 3, 8, 8), torch.randn(2, 2, 8, 8)
    assert torch.allclose(op(r, l), torch.relu(op.conv(torch.cat([r, l], 1))), atol=1e-6)
    assert op.conv.kernel_size == (3, 3) and create_fusion("convfuse", 3, 2, None).conv.kernel_size == (1, 1)


# --- costs, as the docstrings state them --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "name,options,cost",
    [
        ("film", {"direction": "rgb->lidar"}, lambda r, l: 2 * l * (r + 1)),
        ("film", {"direction": "both"}, lambda r, l: 2 * l * (r + 1) + 2 * r * (l + 1)),
        ("gated", {}, lambda r, l: r * (2 * r + 2 * l + 3)),
        ("lmf", {"rank": 3}, lambda r, l: 3 * (r + l + 2) * r + 3 + r),
        ("mlb", {}, lambda r, l: r * (r + l + 2) + r * (r + 1)),
        ("mmtm", {"ratio": 4}, lambda r, l: (h := (r + l) // 4) * (r + l + 1) + (h + 1) * (r + l)),
        ("convfuse", {}, lambda r, l: 9 * (r + l) * r + r),
        ("concat", {}, lambda r, l: 0),
    ],
)
def test_parameter_cost_matches_the_documented_formula(name, options, cost):
    for r, l in ((100, 100), (32, 48)):
        if name == "film" and options["direction"] == "both" and r != l:
            continue
        assert fusion_param_count(name, r, l, 16, **options) == cost(r, l)


def test_operators_need_their_channels_and_known_options():
    with pytest.raises(ValueError, match=r"build it with create_fusion\('lmf', rgb_channels=\.\.\., lidar_channels"):
        create_fusion("lmf")
    with pytest.raises(ValueError, match=r"fusion op 'lmf' has no option\(s\) \['rnak'\]; its options: \['rank', 'dim'\]"):
        create_fusion("lmf", 4, 4, rnak=2)
    with pytest.raises(ValueError, match="film direction must be one of"):
        create_fusion("film", 4, 4, direction="sideways")
    with pytest.raises(ValueError, match="direction 'both' sums two maps: needs equal channels"):
        create_fusion("film", 4, 6)


# --- the registered networks ----------------------------------------------------------------------------------------

def test_catalogue_size_and_shape():
    assert len(CATALOGUE) >= 12
    for name in CATALOGUE:
        info = mmzoo.model_info(name)
        assert info.source == "mmzoo" and info.fusion_op and info.description and info.fused_after
        if info.fusion_point == "intermediate":
            # Equal budget: the comparison measures the operator, not the size.
            assert abs(info.num_params / INTERMEDIATE_CAT - 1) <= 0.2, name
            assert info.fusion_points and info.fusion_points[-1] == 2


@pytest.mark.parametrize("name", CATALOGUE + mmzoo.list_models(family="timm"))
def test_new_networks_train_on_raw_xyza_by_default(name):
    model = mmzoo.create(name) if "timm" not in name else mmzoo.create(name, rgb_backbone="test_resnet",
                                                                          lidar_backbone="test_resnet")
    assert model.lidar_gain.tolist() == pytest.approx([0.02, 0.02, 0.02, 1.0])
    assert mmzoo.create("intermediate_cat").lidar_gain.tolist() == [1.0, 1.0, 1.0, 1.0]


def test_multistage_networks_exchange_between_separate_branches():
    model = mmzoo.create("mmtm")
    assert list(model.exchanges) == ["1"] and model.exchanges["1"].excite_rgb.out_features == 50
    assert mmzoo.create("transfuser_tiny").exchanges["1"].pool == 8  # 32x32 maps pooled to a 4x4 grid
    with pytest.raises(ValueError, match="exchange_op 'concat' merges the branches and cannot exchange"):
        mmzoo.create("intermediate_cat", exchange_points=(1,))
    with pytest.raises(ValueError, match=r"exchange_points must be distinct blocks between 1 and fusion_point=2"):
        mmzoo.create("mmtm", exchange_points=(3,))


def test_operator_arguments_go_through_the_constructor():
    model = mmzoo.create("intermediate_lmf", fusion_options={"rank": 2})
    assert model.fusion.rank == 2
    assert model.model_config["kwargs"] == {"fusion_options": {"rank": 2}}


# --- filters ------------------------------------------------------------------------------------------------------

def test_list_models_filters_by_metadata():
    assert mmzoo.list_models(fusion_op="film") == ["intermediate_film", "late_film", "multistage_film", "timm_resnet18_film"]
    assert mmzoo.list_models(family="timm") == ["timm_resnet18_film", "timm_resnet18_late"]
    assert mmzoo.list_models(family="catalogue", fusion_point=1) == ["mmtm", "multistage_film", "transfuser_tiny"]
    assert set(mmzoo.list_models(fusion_point="late", family="catalogue")) == {"late_film", "late_gated", "late_lmf", "late_mlb"}
    assert mmzoo.list_models("intermediate_*", fusion_op="matmul") == []
    assert "intermediate_cat" in mmzoo.list_models(family="assignment", fusion_op="concat")


def test_cli_filters(capsys):
    assert main(["list", "--fusion-op", "film"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:] if line and not line.startswith("source")]
    assert names == mmzoo.list_models(fusion_op="film")
    assert main(["list", "--family", "catalogue", "--fusion-point", "1", "--json"]) == 0
    assert "mmtm" in capsys.readouterr().out


# --- the timm builder (small timm test models: fast, no download) -------------------------------------------------

def test_timm_builder_reads_channels_and_strides_from_feature_info():
    model = TimmFusionNet("test_resnet", "test_efficientnet", fusion_op="gated", pool_first=False)
    assert model.fusion.rgb_channels == 96 and model.fusion.lidar_channels == 64 and model.fusion.size == 2
    rgb, lidar = torch.rand(2, 4, 64, 64), torch.rand(2, 1, 64, 64)
    depth = TimmFusionNet("test_resnet", "test_convnext", fusion_op="concat", lidar_channels=1)
    assert depth.lidar_branch.feature_info.channels() == [64]
    assert depth(rgb, lidar).shape == (2, 1)
    assert model(rgb, torch.rand(2, 4, 64, 64)).shape == (2, 1)


def test_timm_builder_refuses_maps_smaller_than_2x2():
    with pytest.raises(ValueError, match=r"stage 4 has stride 32: a 32x32 input gives a 1x1 map; .*usable stages: \[0, 1, 2, 3\]"):
        TimmFusionNet("test_resnet", "test_resnet", input_size=32)
    with pytest.raises(ValueError, match=r"rgb_backbone gives 4x4 maps but lidar_backbone 2x2"):
        TimmFusionNet("test_resnet", "test_convnext", fusion_stage=3)
    with pytest.raises(ValueError, match=r"has stages 0..4; got fusion_stage=7"):
        TimmFusionNet("test_resnet", "test_resnet", fusion_stage=7)


def test_registered_timm_networks_accept_other_backbones():
    model = mmzoo.create("timm_resnet18_film", rgb_backbone="test_efficientnet", lidar_backbone="test_efficientnet")
    assert model(torch.rand(2, 4, 64, 64), torch.rand(2, 4, 64, 64)).shape == (2, 1)
    assert model.model_config["kwargs"] == {"rgb_backbone": "test_efficientnet", "lidar_backbone": "test_efficientnet"}


# --- the user page: its tables are the code's numbers ---------------------------------------------------------------

DOC = Path(__file__).resolve().parents[2] / "docs" / "catalogue.md"


def doc_rows(heading: str) -> list[list[str]]:
    """Cells of the first table under ``## heading`` in docs/catalogue.md (names without backticks)."""
    section = DOC.read_text().split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")][1:]  # skip the header (the rule starts "|-")
    return [[cell.strip().strip("`") for cell in line.strip().strip("|").split("|")] for line in lines]


def test_doc_operator_table_lists_every_operator_with_its_cost():
    rows = {row[0]: row for row in doc_rows("Operators")}
    assert sorted(rows) == mmzoo.models.list_fusions()
    for name, row in rows.items():
        assert int(row[3].replace(",", "")) == fusion_param_count(name, 100, 100, 16), name
        assert row[4] == ("yes" if mmzoo.models.fusion_class(name).exchanges else "no"), name


def test_doc_architecture_table_is_the_registry():
    rows = {row[0]: row for row in doc_rows("Architectures")}
    assert sorted(rows) == sorted(CATALOGUE + mmzoo.list_models(family="timm"))
    for name, (_, point, op, points, params, detail) in rows.items():
        info = mmzoo.model_info(name)
        assert (point, op, detail) == (info.fusion_point, info.fusion_op, info.fusion_detail), name
        assert points == (", ".join(map(str, info.fusion_points)) or "-") and int(params.replace(",", "")) == info.num_params
