"""transforms_for gives exactly the tensors training used, from files, arrays or one sample."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

import mmzoo
from mmzoo.data import generate, to_tensors
from mmzoo.errors import DataFormatError, InputSizeError, UnknownClassError


def _folder(root, frames, names=None, rgb=False):
    (root / "rgb").mkdir(parents=True)
    (root / "lidar").mkdir()
    rows = ["id,label"]
    for i in range(len(frames)):
        image = frames.rgba[i][..., :3] if rgb else frames.rgba[i]
        Image.fromarray(image).save(root / "rgb" / f"f{i}.png")
        np.save(root / "lidar" / f"f{i}.npy", frames.depth[i])
        rows.append(f"f{i},{(names or frames.class_names)[frames.labels[i]]}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.parametrize("weight", ["late_fusion.shapes_v1", "intermediate_cat_strided.shapes_v1"])
def test_a_folder_gives_the_tensors_the_weights_were_trained_on(tmp_path, weight):
    frames = generate("shapes", 6, seed=3)
    transforms = mmzoo.transforms_for(weight)
    read = transforms.tensors(transforms.read_folder(_folder(tmp_path / "d", frames)))
    trained = to_tensors(frames, lidar="xyza", formula="assignment", target="labels")  # the recipe's own call
    assert torch.equal(read.rgb, trained.rgb) and torch.equal(read.lidar, trained.lidar)
    assert torch.equal(read.target, trained.target)
    rgb, lidar = transforms(tmp_path / "d" / "rgb" / "f2.png", tmp_path / "d" / "lidar" / "f2.npy")
    assert torch.equal(rgb, trained.rgb[2].float() / 255) and torch.equal(lidar, trained.lidar[2])


def test_predictions_of_a_shipped_weight_through_the_transforms(tmp_path):
    frames = generate("shapes", 8, seed=5)
    model = mmzoo.create("late_fusion.shapes_v1", pretrained=True).eval()
    transforms = mmzoo.transforms_for(model)
    data = transforms.tensors(transforms.read_folder(_folder(tmp_path / "d", frames, rgb=True)))  # RGB files
    with torch.no_grad():
        logits = model(data.rgb.float() / 255, data.lidar)
    assert ((logits[:, 0] > 0).long().numpy() == frames.labels).mean() >= 0.75


def test_depth_models_get_raw_depth_and_course_models_their_formula():
    depth = mmzoo.transforms_for("intermediate_cat", lidar_channels=1, rgb_channels=3)
    frames = generate("shapes", 2, seed=0)
    rgb, lidar = depth(frames.rgba[0], frames.depth[0])
    assert rgb.shape == (3, 64, 64) and lidar.shape == (1, 64, 64) and torch.equal(lidar[0], torch.from_numpy(frames.depth[0]))
    course = mmzoo.transforms_for("course_intermediate_cat")
    _, xyza = course(frames.rgba[0], frames.depth[0])
    assert torch.equal(xyza, to_tensors(frames, formula="course").lidar[0])


def test_rgb_images_are_refused_where_the_training_alpha_was_not_opaque(tmp_path):
    frames = generate("shapes", 2, seed=0)
    config = dataclasses.replace(mmzoo.data_config_for("late_fusion.shapes_v1"), alpha_opaque=False)
    with pytest.raises(DataFormatError, match="RGBA images whose alpha was not always 255"):
        mmzoo.transforms_for(config)(frames.rgba[0][..., :3], frames.depth[0])


def test_unknown_class_at_predict_time(tmp_path):
    frames = generate("shapes", 4, seed=0)
    root = _folder(tmp_path / "d", frames, names=("cube", "cone"))
    with pytest.raises(UnknownClassError, match="'cone'"):
        mmzoo.transforms_for("late_fusion.shapes_v1").read_folder(root)


def test_a_fixed_size_model_whose_size_the_range_images_cannot_meet():
    transforms = mmzoo.transforms_for("late_fusion.shapes_v1")
    assert transforms.config.fixed_input_size
    small = np.full((32, 32), 20.0, np.float32)
    angles = np.linspace(-0.2, 0.2, 32)
    with pytest.raises(InputSizeError, match="32x32 beams but the model needs 64x64"):
        transforms(np.zeros((64, 64, 3), np.uint8), small, azimuth=angles, zenith=angles)
    assert not mmzoo.transforms_for("timm_resnet18_late").config.fixed_input_size
