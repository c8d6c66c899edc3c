"""The data config each weight records: derived from the architecture and the weight's kwargs, round-tripped."""
import numpy as np
import pytest

import mmzoo
from mmzoo.data import AZIMUTH
from mmzoo.pretrained.data_config import DataConfig, data_config_for, fixed_input_size


def test_registered_weight_records_what_it_was_trained_on():
    cfg = data_config_for("intermediate_add.shapes_v1")
    assert cfg.lidar == "xyza" and cfg.xyza_formula == "assignment"
    assert cfg.lidar_scale == 0.02  # the weight's kwargs, not the architecture default of 1.0
    assert cfg.class_names == ("cube", "sphere") and cfg.dataset == "shapes 1.0"
    assert cfg.rgb_channels == 4 and cfg.no_return == 50.0 and cfg.input_size == (64, 64)
    assert np.allclose(cfg.azimuth, AZIMUTH)
    assert data_config_for("bevfusion_conv.shapes_v1").lidar_scale == 1.0


def test_kwargs_change_the_config():
    depth = data_config_for("intermediate_cat", {"lidar_channels": 1, "rgb_channels": 3})
    assert depth.lidar == "depth" and depth.xyza_formula is None and depth.rgb_channels == 3
    course = data_config_for("course_intermediate_cat")
    assert course.xyza_formula == "course" and course.class_names == ()
    small = data_config_for("timm_resnet18_late", {"input_size": 96})
    assert small.input_size == (96, 96) and len(small.azimuth) == 96 and not small.fixed_input_size


def test_fixed_input_size_is_measured_from_the_weights_shapes():
    assert fixed_input_size("late_fusion") and fixed_input_size("intermediate_cat_strided")
    assert not fixed_input_size("timm_resnet18_film")


def test_round_trip_and_unknown_keys():
    cfg = data_config_for("mmtm.shapes_v1")
    again = DataConfig.from_dict(cfg.to_dict())
    assert again == cfg
    with pytest.raises(ValueError, match="unknown data config fields"):
        DataConfig.from_dict({**cfg.to_dict(), "lidar_sclae": 1.0})
    with pytest.raises(ValueError, match="azimuth"):
        DataConfig(architecture="x", input_size=(32, 32))


def test_pretrained_model_carries_its_config():
    model = mmzoo.create("late_fusion.shapes_v1", pretrained=True)
    assert model.data_config == data_config_for("late_fusion.shapes_v1")
