"""finetune(): the head, loss and preprocessing come from the labels and the weights; freezing and the backbone
learning rate do what they say; the result is a verified folder that loads elsewhere."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import mmzoo
from mmzoo.data import frames_from_arrays, generate
from mmzoo.errors import HeadMismatchError
from mmzoo.release.finetuned import save_finetuned
from mmzoo.train import EngineOptions, finetune
from mmzoo.train.finetune import _build
from mmzoo.train.optim import make_optimizer
from mmzoo.train.recipes import get_recipe

CPU = EngineOptions(device="cpu", progress=False)


def frames(n=24, names=("a", "b", "c"), values=False):
    shapes = generate("shapes", n, seed=1)
    kwargs = {"values": np.stack([np.arange(n), -np.arange(n)], 1)} if values else \
        {"labels": [names[i % len(names)] for i in range(n)]}
    return frames_from_arrays(shapes.rgba, shapes.depth, **kwargs)


def test_three_classes_train_softmax_cross_entropy_with_a_new_head():
    result = finetune("late_fusion_strided.shapes_v1", frames(), epochs=1, batch_size=8, options=CPU)
    assert result.model.num_outputs == 3 and result.recipe.loss == "ce" and result.recipe.task == "classification"
    assert result.start == "late_fusion_strided.shapes_v1"
    assert result.data_config.class_names == ("a", "b", "c") and result.model.data_config.lidar_scale == 0.02
    assert set(result.best) == {"loss", "accuracy"} and len(result.val_ids) == 6


def test_two_classes_train_one_logit_with_bce_and_values_train_mse():
    binary = finetune("late_fusion_strided", frames(names=("x", "y")), pretrained=False, epochs=1, batch_size=8,
                      options=CPU)
    assert binary.model.num_outputs == 1 and binary.recipe.loss == "bce"
    assert binary.start == "late_fusion_strided (random init)"
    values = finetune("late_fusion_strided", frames(values=True), pretrained=False, epochs=1, batch_size=8, options=CPU)
    assert values.model.num_outputs == 2 and values.recipe.task == "values" and set(values.best) == {"loss", "mse", "mae"}
    assert values.data_config.target_names == ("value_0", "value_1")


def test_freezing_the_encoders_leaves_them_as_loaded():
    start = mmzoo.create("late_fusion_strided.shapes_v1", pretrained=True).state_dict()
    result = finetune("late_fusion_strided.shapes_v1", frames(), freeze="encoders", epochs=1, batch_size=8, options=CPU)
    trained = result.model.state_dict()
    for key, value in trained.items():
        if key.startswith(("rgb_branch.", "lidar_branch.")):
            assert torch.equal(value, start[key]), key
    assert not torch.equal(trained["head.0.weight"], start["head.0.weight"])  # the rest trains


def test_backbone_lr_scale_gives_the_pretrained_part_a_smaller_learning_rate():
    model = mmzoo.create("late_fusion_strided", num_outputs=3)
    optimizer = make_optimizer(model, get_recipe("assignment", backbone_lr_scale=0.1))
    head, rest = optimizer.param_groups
    assert head["lr"] == pytest.approx(1e-3) and rest["lr"] == pytest.approx(1e-4)
    assert {id(p) for p in head["params"]} == {id(p) for p in model.head[2].parameters()}
    backbone = make_optimizer(mmzoo.create("late_fusion_strided", num_outputs=3), get_recipe("assignment", freeze="backbone"))
    assert sum(p.numel() for g in backbone.param_groups for p in g["params"]) == 100 * 3 + 3


def test_a_new_head_on_pretrained_weights_starts_at_zero():
    model = _build("late_fusion_strided.shapes_v1", True, 3, False, 51)
    assert torch.count_nonzero(model.head[2].weight) == 0 and torch.count_nonzero(model.head[2].bias) == 0
    with torch.no_grad():
        assert torch.count_nonzero(model(torch.rand(2, 4, 64, 64), torch.rand(2, 4, 64, 64))) == 0


def test_keep_head_must_fit_the_task():
    with pytest.raises(HeadMismatchError, match="needs 3 output.*has 1"):
        finetune("late_fusion_strided.shapes_v1", frames(), keep_head=True, epochs=1, batch_size=8, options=CPU)
    kept = finetune("late_fusion_strided.shapes_v1", frames(names=("cube", "sphere")), keep_head=True, epochs=1,
                    batch_size=8, options=CPU)
    assert kept.data_config.class_names == ("cube", "sphere")


def test_same_seed_same_weights():
    runs = [finetune("late_fusion_strided", frames(), pretrained=False, epochs=1, batch_size=8, seed=7,
                     options=CPU).model.state_dict() for _ in range(2)]
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_the_saved_folder_loads_elsewhere_with_its_data_config(tmp_path, monkeypatch):
    data = frames()
    result = finetune("late_fusion_strided.shapes_v1", data, epochs=1, batch_size=8, options=CPU)
    folder = save_finetuned(result, tmp_path / "model")
    assert sorted(os.listdir(folder)) == ["README.md", "config.json", "model.safetensors"]
    assert "late_fusion_strided.shapes_v1" in (folder / "README.md").read_text()
    monkeypatch.chdir(tmp_path.parent)
    loaded = mmzoo.create(f"local-dir:{folder}", pretrained=True).eval()
    assert loaded.data_config == result.data_config and loaded.pretrained_cfg.metrics["accuracy"] == pytest.approx(
        result.best["accuracy"], abs=1e-6)
    tensors = mmzoo.transforms_for(loaded).tensors(data)
    trained = result.model.eval().to(memory_format=torch.contiguous_format)  # trained channels_last
    with torch.no_grad():
        assert torch.equal(loaded(tensors.rgb.float() / 255, tensors.lidar),
                           trained(tensors.rgb.float() / 255, tensors.lidar))
    with pytest.raises(FileExistsError, match="already holds a model"):
        save_finetuned(result, folder)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="holds other files"):
        save_finetuned(result, tmp_path / "busy")
