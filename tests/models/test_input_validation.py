"""Wrong inputs raise errors that name the expected and the received shape."""
from __future__ import annotations

import pytest
import torch

import mmzoo


@pytest.fixture(scope="module")
def model():
    return mmzoo.create("intermediate_cat")


def test_wrong_channel_count_names_both_shapes(model):
    with pytest.raises(ValueError, match=r"expected rgb of shape \(B, 4, 64, 64\).*got \(2, 3, 64, 64\)"):
        model(torch.rand(2, 3, 64, 64), torch.rand(2, 4, 64, 64))


def test_wrong_spatial_size(model):
    with pytest.raises(ValueError, match=r"expected lidar of shape \(B, 4, 64, 64\).*got \(2, 4, 32, 32\)"):
        model(torch.rand(2, 4, 64, 64), torch.rand(2, 4, 32, 32))


def test_missing_batch_dimension_gets_a_hint(model):
    with pytest.raises(ValueError, match=r"got \(4, 64, 64\).*unsqueeze\(0\)"):
        model(torch.rand(4, 64, 64), torch.rand(2, 4, 64, 64))


def test_batch_sizes_must_agree(model):
    with pytest.raises(ValueError, match="rgb has batch size 2 but lidar has 3"):
        model(torch.rand(2, 4, 64, 64), torch.rand(3, 4, 64, 64))


def test_uint8_images_are_refused_with_the_conversion(model):
    with pytest.raises(ValueError, match=r"floating-point.*x.float\(\) / 255"):
        model(torch.zeros(2, 4, 64, 64, dtype=torch.uint8), torch.rand(2, 4, 64, 64))


def test_missing_input_for_fusion_model(model):
    with pytest.raises(TypeError, match="lidar must be a torch.Tensor"):
        model(torch.rand(2, 4, 64, 64), None)


def test_depth_model_expects_one_lidar_channel():
    model = mmzoo.create("late_fusion", lidar_channels=1)
    with pytest.raises(ValueError, match=r"expected lidar of shape \(B, 1, 64, 64\).*raw depth"):
        model(torch.rand(2, 4, 64, 64), torch.rand(2, 4, 64, 64))


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"num_outputs": 0}, "num_outputs must be between 1 and"),
        ({"lidar_channels": 2}, "lidar_channels must be 4"),
        ({"downsample": "avg"}, "downsample must be one of"),
        ({"fusion_op": "nope"}, "unknown fusion op 'nope'"),
        ({"fusion_point": 5}, "fusion_point must be between 0 and"),
        ({"input_size": 60}, "input_size must be a multiple of 8"),
    ],
)
def test_bad_constructor_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mmzoo.create("intermediate_add", **kwargs)


def test_elementwise_fusion_refuses_mismatched_channels():
    with pytest.raises(ValueError, match="'add' fusion needs the same number of channels"):
        mmzoo.create("intermediate_add", fusion_point=0, rgb_channels=3)


def test_late_fusion_refuses_matmul():
    with pytest.raises(ValueError, match="'matmul' needs feature maps"):
        mmzoo.create("late_fusion", fusion_op="matmul")
