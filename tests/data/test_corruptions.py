"""Corruptions change the frames as documented, severity 0 is the identity, and a seed fixes the result."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mmzoo.data import generate
from mmzoo.data.corruptions import (
    SEVERITIES,
    corrupt,
    corrupt_frames,
    corruption_table,
    get_corruption,
    list_corruptions,
    register_corruption,
)
from mmzoo.data.sensor import MAX_RANGE


@pytest.fixture(scope="module")
def frames():
    return generate("shapes", 20, seed=5)


def _hits(frames) -> np.ndarray:
    return frames.depth < MAX_RANGE


def test_registry_has_every_modality_and_five_levels():
    assert set(list_corruptions("camera")) >= {
        "camera_missing", "camera_dark", "camera_overexposure", "camera_noise", "camera_blur", "camera_occlusion"}
    assert set(list_corruptions("lidar")) >= {
        "lidar_missing", "lidar_dropout", "lidar_range_noise", "lidar_sector", "lidar_lasers", "lidar_spurious"}
    assert list_corruptions("both")
    for row in corruption_table():
        assert len(row["levels"]) == 5, row["name"]
    with pytest.raises(ValueError, match="unknown corruption"):
        get_corruption("camera_fog")
    with pytest.raises(ValueError, match="already registered"):
        register_corruption("camera_noise", "camera", (1, 2, 3, 4, 5), "x")(lambda rgb, level, g: rgb)


@pytest.mark.parametrize("name", list_corruptions())
def test_severity_zero_is_identity_and_every_severity_changes_its_modality_only(frames, name):
    assert corrupt_frames(frames, name, 0, seed=1) is frames
    modality = get_corruption(name).modality
    for severity in SEVERITIES:
        out = corrupt_frames(frames, name, severity, seed=1)
        camera_changed = not np.array_equal(out.rgba[..., :3], frames.rgba[..., :3])
        lidar_changed = not np.array_equal(out.depth, frames.depth)
        assert camera_changed == (modality in ("camera", "both")), (name, severity)
        assert lidar_changed == (modality in ("lidar", "both")), (name, severity)
        np.testing.assert_array_equal(out.rgba[..., 3], frames.rgba[..., 3])  # alpha is never touched
        assert out.metadata["corruption"] == {"name": name, "severity": severity, "seed": 1}


@pytest.mark.parametrize("name", list_corruptions())
def test_same_seed_same_frames_other_seed_other_frames(frames, name):
    a, b = corrupt_frames(frames, name, 3, seed=7), corrupt_frames(frames, name, 3, seed=7)
    np.testing.assert_array_equal(a.rgba, b.rgba)
    np.testing.assert_array_equal(a.depth, b.depth)


def test_random_corruptions_depend_on_the_seed(frames):
    for name in ("camera_noise", "lidar_dropout", "lidar_sector", "camera_occlusion"):
        a, b = corrupt_frames(frames, name, 3, seed=7), corrupt_frames(frames, name, 3, seed=8)
        assert not (np.array_equal(a.rgba, b.rgba) and np.array_equal(a.depth, b.depth)), name


def test_missing_camera_is_black_with_alpha_kept_in_exactly_the_fraction_of_frames(frames):
    for severity, fraction in zip(SEVERITIES, get_corruption("camera_missing").levels):
        out = corrupt_frames(frames, "camera_missing", severity, seed=0)
        black = (out.rgba[..., :3] == 0).all(axis=(1, 2, 3))
        changed = (out.rgba != frames.rgba).any(axis=(1, 2, 3))
        assert black.sum() >= round(fraction * len(frames)) and changed.sum() <= round(fraction * len(frames))
    out = corrupt_frames(frames, "camera_missing", 5, seed=0)
    assert (out.rgba[..., :3] == 0).all() and (out.rgba[..., 3] == frames.rgba[..., 3]).all()


def test_missing_lidar_has_no_hits(frames):
    out = corrupt_frames(frames, "lidar_missing", 5, seed=0)
    assert _hits(out).sum() == 0 and (out.depth == MAX_RANGE).all()
    out = corrupt_frames(frames, "lidar_missing", 2, seed=0)  # 0.4 of the frames
    assert (~_hits(out).any(axis=(1, 2))).sum() == round(0.4 * len(frames))


def test_blocked_sector_removes_exactly_a_run_of_rows():
    depth = torch.full((6, 64, 64), 25.0)
    for severity, fraction in zip(SEVERITIES, get_corruption("lidar_sector").levels):
        _, out = corrupt("lidar_sector", severity, depth=depth, generator=torch.Generator().manual_seed(severity))
        for frame in out:
            lost_rows = (frame == MAX_RANGE).all(dim=1).nonzero().flatten()
            assert len(lost_rows) == round(fraction * 64)
            assert (lost_rows.diff() == 1).all()  # contiguous
            kept = torch.ones(64, dtype=torch.bool)
            kept[lost_rows] = False
            assert (frame[kept] == 25.0).all()  # every other beam untouched
    _, out = corrupt("lidar_lasers", 3, depth=depth, generator=torch.Generator().manual_seed(0))
    lost_cols = (out[0] == MAX_RANGE).all(dim=0).nonzero().flatten()
    assert len(lost_cols) == round(0.3 * 64) and (lost_cols.diff() == 1).all()
    assert (out == MAX_RANGE).sum() == 6 * 64 * len(lost_cols)


def test_lidar_corruptions_keep_hit_masks_consistent(frames):
    noisy = corrupt_frames(frames, "lidar_range_noise", 5, seed=0)
    np.testing.assert_array_equal(_hits(noisy), _hits(frames))  # noise moves hits, never creates or loses one
    moved = np.abs(noisy.depth - frames.depth)[_hits(frames)]
    assert 0.5 < moved.std() / 0.8 < 1.5  # sigma 0.8 at severity 5
    dropped = corrupt_frames(frames, "lidar_dropout", 3, seed=0)
    assert not (_hits(dropped) & ~_hits(frames)).any()  # dropout only removes
    kept = _hits(dropped).sum() / _hits(frames).sum()
    assert abs(kept - 0.6) < 0.05
    ghosts = corrupt_frames(frames, "lidar_spurious", 5, seed=0)
    assert (ghosts.depth <= frames.depth).all()  # first return wins: a ghost is never behind the true return
    assert abs(_hits(ghosts).mean() - _hits(frames).mean() - 0.2 * (1 - _hits(frames).mean())) < 0.02


def test_camera_levels_do_what_they_say():
    rgb = torch.rand(4, 4, 16, 16)
    out, _ = corrupt("camera_dark", 2, rgb=rgb)
    torch.testing.assert_close(out[:, :3], rgb[:, :3] * 0.3)
    torch.testing.assert_close(out[:, 3], rgb[:, 3])
    out, _ = corrupt("camera_overexposure", 5, rgb=torch.zeros(1, 3, 8, 8))
    assert torch.allclose(out, torch.full_like(out, 0.5))  # the flare offset lifts black to 0.5
    out, _ = corrupt("camera_noise", 1, rgb=torch.full((2, 3, 64, 64), 0.5))
    assert abs(float(out.std()) - 0.08) < 0.005  # sigma 0.08 at severity 1 (too small to be clipped at 0.5)
    out, _ = corrupt("camera_occlusion", 5, rgb=torch.ones(3, 3, 64, 64))
    assert ((out == 0).sum(dim=(1, 2, 3)) == 3 * 32 * 32).all()
    impulse = torch.zeros(1, 3, 33, 33)
    impulse[..., 16, 16] = 1.0
    out, _ = corrupt("camera_blur", 4, rgb=impulse)
    assert abs(float(out[0, 0].sum()) - 1.0) < 1e-4 and float(out[0, 0, 16, 16]) < 0.1  # spread, energy kept


def test_bad_severity_and_missing_input_are_clear_errors():
    with pytest.raises(ValueError, match="severity"):
        corrupt("camera_noise", 6, rgb=torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="pass depth"):
        corrupt("lidar_dropout", 1, rgb=torch.zeros(1, 3, 4, 4))


def _centroid(image: torch.Tensor) -> torch.Tensor:
    """``(B, 2)`` x, y of each frame's brightness, in pixels."""
    weights = image[:, 0]
    ys, xs = torch.meshgrid(torch.arange(weights.shape[1]), torch.arange(weights.shape[2]), indexing="ij")
    total = weights.sum(dim=(1, 2))
    return torch.stack([(weights * xs).sum(dim=(1, 2)) / total, (weights * ys).sum(dim=(1, 2)) / total], dim=1)


@pytest.mark.parametrize("severity, pixels", [(1, 1.0), (3, 4.0), (5, 8.0)])
def test_misalignment_shift_moves_the_camera_by_its_level_in_pixels(severity, pixels):
    rgb = torch.zeros(6, 3, 64, 64)
    rgb[:, :, 28:36, 28:36] = 1.0  # a bright square in the middle, far from the borders
    depth = torch.full((6, 64, 64), 20.0)
    out, out_depth = corrupt("misalign_shift", severity, rgb=rgb, depth=depth)
    moved = (_centroid(out) - _centroid(rgb)).norm(dim=1)
    torch.testing.assert_close(moved, torch.full((6,), pixels), atol=1e-3, rtol=0)
    assert torch.equal(out_depth, depth)  # the LiDAR stays where it was
    torch.testing.assert_close(out.sum(), rgb.sum())  # moved, not lost: bilinear weights sum to one


def test_misalignment_rotation_turns_the_camera_about_its_centre_by_its_level_in_degrees():
    rgb = torch.zeros(8, 3, 65, 65)
    rgb[:, :, 31:34, 52:55] = 1.0  # a small square 21 pixels right of the centre pixel (32, 32)
    out, _ = corrupt("misalign_rotation", 5, rgb=rgb)
    before, after = _centroid(rgb) - 32, _centroid(out) - 32
    turned = torch.rad2deg(torch.atan2(after[:, 1], after[:, 0]) - torch.atan2(before[:, 1], before[:, 0]))
    torch.testing.assert_close(turned.abs(), torch.full((8,), 8.0), atol=0.05, rtol=0)
    assert {1.0, -1.0} == set(torch.sign(turned).tolist())  # both senses occur across the frames
    torch.testing.assert_close(after.norm(dim=1), before.norm(dim=1), atol=0.05, rtol=0)  # about the centre
