"""The training engine: recipes, determinism, per-epoch checkpoints, resume, metrics."""
from __future__ import annotations

import json

import pytest
import torch

import mmzoo
from mmzoo.train import EngineOptions, evaluate, fit, get_recipe, recipe_tensors
from mmzoo.train.checkpoint import CHECKPOINT_NAME, load_checkpoint
from mmzoo.train.metrics import batch_metrics

TINY = dict(train_frames=64, val_frames=32, epochs=3)
QUIET = EngineOptions(progress=False, device="cpu", amp=None)  # float32: the maths these tests check


@pytest.fixture(scope="module")
def tiny_data():
    return recipe_tensors(get_recipe("assignment", **TINY))


def _losses(result):
    return [(r["train_loss"], r["val_loss"]) for r in result.history]


def test_recipes_match_the_notebooks():
    assignment, course = get_recipe("assignment"), get_recipe("course")
    assert (assignment.lr, assignment.min_lr, assignment.schedule, assignment.batch_size, assignment.epochs) == (
        1e-3, 1e-6, "cosine", 32, 20)
    assert (assignment.loss, assignment.seed, assignment.train_frames, assignment.val_frames) == ("bce", 51, 1600, 400)
    assert assignment.steps_per_epoch() == 50  # 1,600 frames, drop_last, as the notebook's 50 steps per epoch
    assert (course.lr, course.schedule, course.loss, course.train_frames, course.val_frames) == (
        1e-4, "constant", "mse", 9679, 320)


def test_recipe_overrides_are_typed_and_checked():
    recipe = get_recipe("course").override(["epochs=3", "lr=3e-4", "dataset=parallel"])
    assert (recipe.epochs, recipe.lr, recipe.dataset) == (3, 3e-4, "parallel")
    with pytest.raises(ValueError, match="did you mean epochs"):
        get_recipe("course").override(["epoch=3"])
    with pytest.raises(ValueError, match="takes a int"):
        get_recipe("course").override(["epochs=three"])
    with pytest.raises(ValueError, match="batch_size=64 exceeds train_frames=32"):
        get_recipe("course", train_frames=32, batch_size=64)
    with pytest.raises(ValueError, match="did you mean course"):
        get_recipe("coarse")


def test_same_seed_same_losses_on_cpu(tiny_data):
    recipe = get_recipe("assignment", **TINY)
    first = fit("intermediate_cat_strided", recipe, data=tiny_data, options=QUIET)
    second = fit("intermediate_cat_strided", recipe, data=tiny_data, options=QUIET)
    other = fit("intermediate_cat_strided", recipe.replace(seed=7), data=tiny_data, options=QUIET)
    assert _losses(first) == _losses(second)
    assert _losses(first) != _losses(other)
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_interrupted_run_resumes_exactly(tiny_data, tmp_path):
    recipe = get_recipe("assignment", **TINY)
    straight = fit("late_fusion_strided", recipe, data=tiny_data, options=QUIET)

    class Killed(Exception):
        pass

    def die_after_first(record):
        if record["epoch"] == 1:
            raise Killed

    with pytest.raises(Killed):
        fit("late_fusion_strided", recipe, data=tiny_data, run_dir=tmp_path, options=QUIET, on_epoch=die_after_first)
    assert load_checkpoint(tmp_path)["history"][-1]["epoch"] == 1
    resumed = fit("late_fusion_strided", recipe, data=tiny_data, run_dir=tmp_path, options=QUIET)
    assert _losses(resumed) == _losses(straight)
    assert json.loads((tmp_path / "history.json").read_text())["history"][-1]["epoch"] == 3

    mtime = (tmp_path / CHECKPOINT_NAME).stat().st_mtime_ns
    finished = fit("late_fusion_strided", recipe, data=tiny_data, run_dir=tmp_path, options=QUIET)
    assert (tmp_path / CHECKPOINT_NAME).stat().st_mtime_ns == mtime  # a finished run is not trained again
    assert finished.best_epoch == resumed.best_epoch


def test_checkpoint_of_another_run_is_refused(tiny_data, tmp_path):
    recipe = get_recipe("assignment", **{**TINY, "epochs": 1})
    fit("late_fusion_strided", recipe, data=tiny_data, run_dir=tmp_path, options=QUIET)
    with pytest.raises(RuntimeError, match="another run"):
        fit("late_fusion_strided", recipe.replace(lr=1e-2), data=tiny_data, run_dir=tmp_path, options=QUIET)
    (tmp_path / CHECKPOINT_NAME).write_bytes(b"truncated")
    with pytest.raises(RuntimeError, match="delete it"):
        fit("late_fusion_strided", recipe, data=tiny_data, run_dir=tmp_path, options=QUIET)


def test_best_validation_loss_epoch_is_kept(tiny_data):
    result = fit("late_fusion_strided", get_recipe("assignment", **TINY), data=tiny_data, options=QUIET)
    losses = [r["val_loss"] for r in result.history]
    assert result.best_epoch == 1 + losses.index(min(losses))
    again = evaluate(result.model, tiny_data[1], "classification", "bce")
    assert again["loss"] == pytest.approx(min(losses), rel=1e-5)


def test_engine_learns_and_records_every_field():
    recipe = get_recipe("assignment", train_frames=480, val_frames=64, epochs=6)
    result = fit("intermediate_cat_strided", recipe, options=QUIET, lidar_scale=0.02)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.best["accuracy"] > 0.75  # 0.91 measured; chance is 0.5
    for key in ("lr", "train_loss", "val_loss", "val_accuracy", "train_time_s", "eval_time_s", "peak_rss_mib"):
        assert key in result.history[0]
    assert result.model.arch_kwargs["lidar_scale"] == 0.02
    assert result.model.input_spec.xyza_formula == "assignment"


def test_position_error_is_the_mean_distance_per_object():
    target = torch.zeros(2, 9)
    output = torch.zeros(2, 9)
    output[0, 0:3] = torch.tensor([3.0, 4.0, 0.0])  # frame 0, first object 5 units off, the others exact
    values = batch_metrics(output, target, "regression")
    assert values["position_error"].item() == pytest.approx(5.0 / 3)  # summed over frames: (5/3 + 0)
    assert values["mse"].item() == pytest.approx(25.0 / 9)


def test_regression_recipe_trains_course_model():
    recipe = get_recipe("course", train_frames=64, val_frames=32, epochs=1)
    result = fit("course_intermediate_matmul", recipe, options=QUIET)
    assert set(result.best) == {"loss", "mse", "position_error"}
    assert result.model.num_outputs == 9 and result.model.input_spec.xyza_formula == "course"


def test_lidar_scale_is_carried_by_the_weights():
    model = mmzoo.create("intermediate_add", lidar_scale=0.02)
    assert model.lidar_gain.tolist() == pytest.approx([0.02, 0.02, 0.02, 1.0])
    plain = mmzoo.create("intermediate_add")
    plain.load_state_dict(model.state_dict())
    rgb, lidar = torch.rand(2, 4, 64, 64), torch.rand(2, 4, 64, 64) * 50
    assert torch.equal(plain(rgb, lidar), model(rgb, lidar))
    assert sum(p.numel() for p in model.parameters()) == 824_201  # a buffer, not a parameter
