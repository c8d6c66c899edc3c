"""The tensor view: xyza formulas against hand-computed points, raw depth, rgb, targets and batching."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mmzoo.data.frames import Frames
from mmzoo.data.tensors import FusionTensors, to_tensors

BEAMS = [(0, 0), (5, 60), (32, 10), (63, 63), (40, 32)]  # (azimuth row, zenith column)


def make_frames(n: int = 6, seed: int = 0, labels: bool = True) -> Frames:
    rng = np.random.default_rng(seed)
    depth = rng.uniform(5.0, 60.0, size=(n, 64, 64)).astype(np.float32)
    depth[depth > 40] = 50.0
    depth[:, 5, 60] = 20.0  # a hit where the cos(zenith) factor matters
    depth[:, 63, 63] = 50.0  # a no-return beam
    return Frames(
        rgba=rng.integers(0, 256, size=(n, 64, 64, 4), dtype=np.uint8),
        depth=depth,
        labels=rng.integers(0, 2, size=n).astype(np.int64) if labels else None,
        positions=rng.normal(size=(n, 9)).astype(np.float32),
        class_names=("cube", "sphere"),
        metadata={"source": "test"},
    )


def expected_point(d: float, az: float, ze: float, formula: str) -> list[float]:
    x = d * math.sin(-az) * (math.cos(-ze) if formula == "assignment" else 1.0)
    return [x, d * math.cos(-az) * math.cos(-ze), d * math.sin(-ze), 1.0 if d < 50 else 0.0]


@pytest.mark.parametrize("formula", ["assignment", "course"])
def test_xyza_matches_hand_computed_points(formula):
    frames = make_frames()
    t = to_tensors(frames, lidar="xyza", formula=formula)
    assert t.lidar.shape == (6, 4, 64, 64) and t.lidar.dtype == torch.float32
    assert t.metadata["lidar"] == "xyza" and t.metadata["xyza_formula"] == formula
    for n in (0, 3):
        for row, col in BEAMS:
            d = float(frames.depth[n, row, col])
            want = expected_point(d, float(frames.azimuth[row]), float(frames.zenith[col]), formula)
            assert t.lidar[n, :, row, col].tolist() == pytest.approx(want, rel=1e-5, abs=1e-5)


def test_formulas_differ_only_by_the_cos_zenith_factor_on_x():
    frames = make_frames()
    a = to_tensors(frames, formula="assignment").lidar
    c = to_tensors(frames, formula="course").lidar
    assert torch.equal(a[:, 1:], c[:, 1:])
    cos_ze = torch.cos(-torch.from_numpy(frames.zenith))
    assert torch.allclose(a[:, 0], c[:, 0] * cos_ze, atol=1e-5)
    # beam (5, 60): azimuth and zenith are far from 0, so the two x values differ clearly
    assert abs(float(a[0, 0, 5, 60]) - float(c[0, 0, 5, 60])) > 1e-3


def test_no_return_beams_keep_max_range_xyz():
    t = to_tensors(make_frames())
    assert float(t.lidar[0, 3, 63, 63]) == 0.0
    assert float(t.lidar[0, 1, 63, 63]) == pytest.approx(50 * math.cos(-0.27053) * math.cos(-0.27053), rel=1e-4)
    assert torch.equal(t.lidar[:, 3], (torch.from_numpy(make_frames().depth) < 50).float())


def test_custom_angles_are_used():
    frames = make_frames()
    frames.azimuth = np.linspace(-0.5, 0.5, 64, dtype=np.float32)
    t = to_tensors(frames)
    d = float(frames.depth[1, 5, 60])
    want = expected_point(d, float(frames.azimuth[5]), float(frames.zenith[60]), "assignment")
    assert t.lidar[1, :, 5, 60].tolist() == pytest.approx(want, rel=1e-5)


def test_raw_depth_option():
    frames = make_frames()
    t = to_tensors(frames, lidar="depth", formula="ignored-for-depth")
    assert t.lidar.shape == (6, 1, 64, 64) and t.lidar.dtype == torch.float32
    assert np.array_equal(t.lidar[:, 0].numpy(), frames.depth)
    assert t.metadata["lidar"] == "depth" and t.metadata["xyza_formula"] is None
    t.lidar[0, 0, 0, 0] = -1  # a copy, not a view of the frames
    assert frames.depth[0, 0, 0] != -1


@pytest.mark.parametrize("channels", [4, 3])
def test_rgb_is_compact_nchw(channels):
    frames = make_frames()
    t = to_tensors(frames, rgb_channels=channels)
    assert t.rgb.dtype == torch.uint8 and t.rgb.shape == (6, channels, 64, 64)
    assert np.array_equal(t.rgb.numpy(), frames.rgba[..., :channels].transpose(0, 3, 1, 2))
    assert t.metadata["rgb_channels"] == channels and t.metadata["source"] == "test"


def test_targets():
    frames = make_frames()
    labels = to_tensors(frames)
    assert labels.target.shape == (6, 1) and labels.target.dtype == torch.float32
    assert labels.target[:, 0].tolist() == frames.labels.astype(float).tolist()
    assert labels.metadata["target"] == "labels" and labels.metadata["class_names"] == ("cube", "sphere")
    positions = to_tensors(frames, target="positions")
    assert positions.target.shape == (6, 9) and np.array_equal(positions.target.numpy(), frames.positions)
    assert to_tensors(make_frames(labels=False)).metadata["target"] == "positions"  # auto
    with pytest.raises(ValueError, match="no labels; they have positions"):
        to_tensors(make_frames(labels=False), target="labels")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lidar": "points"}, "unknown lidar representation"),
        ({"formula": "kitti"}, "unknown xyza formula"),
        ({"rgb_channels": 1}, "rgb_channels must be 4"),
        ({"target": "boxes"}, "unknown target"),
    ],
)
def test_options_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        to_tensors(make_frames(), **kwargs)


def test_batch_converts_rgb_on_the_device():
    frames = make_frames()
    t = to_tensors(frames, target="positions")
    assert t.to("cpu") is t and t.device == torch.device("cpu")
    for index in ([4, 1], torch.tensor([4, 1]), np.array([4, 1])):
        rgb, lidar, target = t.batch(index, "cpu")
        assert rgb.dtype == torch.float32 and rgb.shape == (2, 4, 64, 64)
        assert 0.0 <= float(rgb.min()) and float(rgb.max()) <= 1.0
        assert torch.allclose(rgb, torch.from_numpy(frames.rgba[[4, 1]]).permute(0, 3, 1, 2).float() / 255)
        assert torch.equal(lidar, t.lidar[[4, 1]]) and torch.equal(target, t.target[[4, 1]])
    rgb, _, _ = t.batch(slice(0, 3))
    assert rgb.shape[0] == 3
    assert t.rgb.dtype == torch.uint8  # the stored tensors are untouched


def test_batches_like_a_dataloader():
    t = to_tensors(make_frames(n=10))
    assert [len(b[0]) for b in t.batches(4)] == [4, 4, 2]
    assert [len(b[0]) for b in t.batches(4, drop_last=True)] == [4, 4]
    shuffled = t.batches(3, shuffle=True, generator=torch.Generator().manual_seed(0))
    seen = torch.cat([target for _, _, target in shuffled])
    assert sorted(seen[:, 0].tolist()) == sorted(t.target[:, 0].tolist())
    first = [b[2] for b in t.batches(3, shuffle=True, generator=torch.Generator().manual_seed(5))]
    again = [b[2] for b in t.batches(3, shuffle=True, generator=torch.Generator().manual_seed(5))]
    assert all(torch.equal(x, y) for x, y in zip(first, again, strict=True))
    with pytest.raises(ValueError, match="batch_size"):
        next(t.batches(0))


def test_fusion_tensors_checks_its_fields():
    with pytest.raises(ValueError, match="uint8"):
        FusionTensors(rgb=torch.zeros(2, 4, 8, 8), lidar=torch.zeros(2, 4, 8, 8), target=torch.zeros(2, 1))
    with pytest.raises(ValueError, match="frame count"):
        FusionTensors(
            rgb=torch.zeros(2, 4, 8, 8, dtype=torch.uint8), lidar=torch.zeros(3, 4, 8, 8), target=torch.zeros(2, 1)
        )
