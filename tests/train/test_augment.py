"""Modality dropout zeroes what it says at the rate it says; corruption augmentation acts on depth; all seeded."""
from __future__ import annotations

import pytest
import torch

from mmzoo.data.sensor import MAX_RANGE, depth_to_xyza
from mmzoo.train.augment import augment_batch, parse_corruption_augment, xyza_to_depth
from mmzoo.train.recipes import get_recipe

MISSING_XYZA = depth_to_xyza(torch.full((64, 64), MAX_RANGE))


def _batch(n: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    rgb = torch.rand(n, 4, 64, 64, generator=g)
    depth = torch.full((n, 64, 64), MAX_RANGE)
    depth[:, 20:40, 10:30] = 20 + 10 * torch.rand(n, 20, 20, generator=g)  # an object's hits
    return rgb, depth_to_xyza(depth)


def _dropped(rgb, lidar, rgb0, lidar0) -> str:
    camera = bool((rgb[:, :3] == 0).all()) and torch.equal(rgb[:, 3], rgb0[:, 3])
    lidar_gone = torch.allclose(lidar, MISSING_XYZA.expand_as(lidar)) and bool((lidar[:, 3] == 0).all())
    assert not (camera and lidar_gone), "a step drops at most one modality"
    if camera:
        assert torch.equal(lidar, lidar0)
        return "camera"
    if lidar_gone:
        assert torch.equal(rgb, rgb0)
        return "lidar"
    assert torch.equal(rgb, rgb0) and torch.equal(lidar, lidar0)
    return "none"


def test_defaults_change_nothing():
    rgb, lidar = _batch()
    out = augment_batch(rgb, lidar, get_recipe("assignment"), step=3)
    assert out[0] is rgb and out[1] is lidar
    assert "modality_dropout" not in get_recipe("assignment").to_dict()  # old run identities stay valid


@pytest.mark.parametrize("formula", ["assignment", "course"])
def test_xyza_to_depth_inverts_the_conversion(formula):
    depth = torch.full((3, 64, 64), MAX_RANGE)
    depth[:, 5:60, 7:50] = torch.rand(3, 55, 43) * 45 + 1
    back = xyza_to_depth(depth_to_xyza(depth, formula=formula), formula)
    torch.testing.assert_close(back, depth, rtol=1e-5, atol=1e-4)
    assert torch.equal(back == MAX_RANGE, depth == MAX_RANGE)  # no-return beams come back exact


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_modality_dropout_zeroes_one_modality_at_the_rate_it_says(p):
    recipe = get_recipe("assignment", modality_dropout=p)
    rgb0, lidar0 = _batch(1)
    steps = 600
    seen = {"camera": 0, "lidar": 0, "none": 0}
    for step in range(steps):
        rgb, lidar = augment_batch(rgb0, lidar0, recipe, step)
        seen[_dropped(rgb, lidar, rgb0, lidar0)] += 1
    rate = (seen["camera"] + seen["lidar"]) / steps
    assert abs(rate - p) <= 4 * (p * (1 - p) / steps) ** 0.5 + 1e-9  # within 4 standard errors
    if p:
        assert abs(seen["camera"] / (seen["camera"] + seen["lidar"]) - 0.5) < 0.1  # equal odds per modality


def test_augmentation_is_deterministic_for_the_recipe_seed():
    rgb0, lidar0 = _batch(2)

    def decisions(seed: int) -> list[str]:
        recipe = get_recipe("assignment", modality_dropout=0.5, seed=seed)
        return [_dropped(*augment_batch(rgb0, lidar0, recipe, step), rgb0, lidar0) for step in range(40)]

    assert decisions(51) == decisions(51)
    assert decisions(51) != decisions(52)
    recipe = get_recipe("assignment", corruption_augment="camera_noise:3")
    torch.testing.assert_close(augment_batch(rgb0, lidar0, recipe, 7)[0], augment_batch(rgb0, lidar0, recipe, 7)[0])
    assert not torch.equal(augment_batch(rgb0, lidar0, recipe, 7)[0], augment_batch(rgb0, lidar0, recipe, 8)[0])


def test_lidar_corruption_augment_acts_on_depth_and_keeps_hit_masks_consistent():
    rgb0, lidar0 = _batch(4)
    recipe = get_recipe("assignment", corruption_augment="lidar_sector:5")
    rgb, lidar = augment_batch(rgb0, lidar0, recipe, step=0)
    assert torch.equal(rgb, rgb0)
    depth = xyza_to_depth(lidar, "assignment")
    torch.testing.assert_close(lidar, depth_to_xyza(depth))  # still a valid xyza: a = (depth < max range)
    lost_rows = (lidar[:, 3] == 0).all(dim=2).sum(dim=1)
    assert (lost_rows >= 32).all()  # severity 5 blocks 32 of 64 azimuth rows in every frame
    assert (lidar[:, 3].sum(dim=(1, 2)) < lidar0[:, 3].sum(dim=(1, 2))).any()


def test_bare_names_draw_severities_including_clean():
    rgb0, lidar0 = _batch(1)
    recipe = get_recipe("assignment", corruption_augment="camera_dark")
    gains = {round(float(augment_batch(rgb0, lidar0, recipe, s)[0][0, 0].sum() / rgb0[0, 0].sum()), 3)
             for s in range(60)}
    assert gains == {1.0, 0.5, 0.3, 0.2, 0.1, 0.05}  # severity 0 (clean) and the five documented gains


def test_bad_fields_are_clear_errors():
    with pytest.raises(ValueError, match="modality_dropout"):
        get_recipe("assignment", modality_dropout=1.5)
    with pytest.raises(ValueError, match="unknown corruption"):
        get_recipe("assignment", corruption_augment="camera_fog")
    with pytest.raises(ValueError, match="0..5"):
        parse_corruption_augment("camera_noise:9")
    assert get_recipe("course").override(["modality_dropout=0.25"]).modality_dropout == 0.25


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_the_engine_applies_modality_dropout_to_every_training_step(p):
    import mmzoo
    from mmzoo.train import EngineOptions, fit

    model = mmzoo.create("late_fusion_strided")
    seen: list[str] = []

    def spy(module, inputs):
        if module.training:
            rgb, lidar = inputs
            camera = bool((rgb[:, :3] == 0).all())
            lidar_gone = bool((lidar[:, 3] == 0).all())
            seen.append("camera" if camera else "lidar" if lidar_gone else "none")

    model.register_forward_pre_hook(spy)
    recipe = get_recipe("assignment", train_frames=64, val_frames=16, batch_size=16, epochs=1, modality_dropout=p)
    fit(model, recipe, options=EngineOptions(progress=False, device="cpu"))
    assert len(seen) == 4
    assert ("none" not in seen) if p else (set(seen) == {"none"})
