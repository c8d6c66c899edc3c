"""fit_many's whole-step graph: the eager group's runs (the graphed steps run eagerly on a CPU, captured on a GPU),
no host reads in a step, and the options fit_many does not implement refused up front."""
from __future__ import annotations

import pytest
import torch

from mmzoo.train import many
from mmzoo.train.data import recipe_tensors
from mmzoo.train.engine import EngineOptions
from mmzoo.train.graphed import HostReads
from mmzoo.train.experimental import ExperimentalOptions, fit_many
from mmzoo.train.many import _build_group, _fit_many, check_fit_many_options
from mmzoo.train.recipes import get_recipe

EAGER = EngineOptions(device="cpu", progress=False, channels_last=False, amp=None)
WHOLE = ExperimentalOptions(whole_step_graphs=True)
# 100 frames: 3 steps of 32 per epoch, the last 4 frames of each permutation dropped.
RECIPE = get_recipe("assignment", train_frames=100, val_frames=40, epochs=3, select="last")


@pytest.mark.parametrize("model", ["intermediate_cat_strided", "late_fusion_strided"])
def test_the_whole_step_path_trains_the_eager_groups_runs(model):
    data = recipe_tensors(RECIPE)
    eager = fit_many(model, RECIPE, seeds=(51, 52), data=data, options=EAGER, lidar_scale=0.02)
    whole = _fit_many(model, RECIPE, (51, 52), data, EAGER, {"lidar_scale": 0.02}, capture=False, whole_step=True)
    for mine, theirs in zip(whole, eager):
        assert mine.recipe.seed == theirs.recipe.seed
        assert [r["lr"] for r in mine.history] == [r["lr"] for r in theirs.history]
        for key in theirs.history[0]:
            if key == "train_loss" or key.startswith("val_"):
                assert [r[key] for r in mine.history] == pytest.approx(
                    [r[key] for r in theirs.history], rel=1e-5, abs=1e-6), key
        for key, value in theirs.model.state_dict().items():
            # Adam reads the rate as a float32 tensor instead of a Python float: 1.5e-8 apart after one step (next
            # test), which Adam turns into up to 3.4e-6 on a few weights with ~0 gradients after 9 steps (7 of
            # late_fusion's 640,000 head weights). A wrong batch, rate or mixed gradient differs by about lr.
            torch.testing.assert_close(mine.model.state_dict()[key], value, rtol=1e-5, atol=0.01 * RECIPE.lr)
    assert whole[0].history[-1]["train_loss"] != whole[1].history[-1]["train_loss"], "the seeds gave different runs"


def test_after_one_step_each_run_holds_the_eager_groups_weights():
    recipe = get_recipe("assignment", train_frames=32, val_frames=32, epochs=1, select="last")
    data = recipe_tensors(recipe)
    eager = fit_many("late_fusion_strided", recipe, seeds=(51, 52), data=data, options=EAGER, lidar_scale=0.02)
    whole = _fit_many("late_fusion_strided", recipe, (51, 52), data, EAGER, {"lidar_scale": 0.02}, capture=False,
                      whole_step=True)
    for mine, theirs in zip(whole, eager):
        for key, value in theirs.model.state_dict().items():
            torch.testing.assert_close(mine.model.state_dict()[key], value, rtol=1e-5, atol=1e-6)


def _whole_group(seeds=(51, 52, 53)):
    group, _ = _build_group("intermediate_cat_strided", RECIPE, seeds, recipe_tensors(RECIPE), EAGER, {}, False, True)
    return group


def test_a_whole_step_epoch_runs_every_step_of_every_run():
    group = _whole_group()
    before = {key: value.clone() for key, value in group.params.items()}
    losses, _ = group.train_epoch()
    assert int(group.whole.position) == group.steps
    assert losses.shape == (3,) and bool(((0 < losses) & (losses < 10)).all())
    assert group.scheduler.last_epoch == group.steps  # the schedule advanced by the epoch's steps
    assert isinstance(group.optimizer.param_groups[0]["lr"], float)
    for k in range(3):  # every run trained
        assert any(not torch.equal(before[key][k], value[k]) for key, value in group.params.items()), k


def test_the_group_step_never_reads_a_value_back_to_the_host():
    group = _whole_group()
    whole = group.whole
    group.train_epoch()
    group.optimizer.param_groups[0]["lr"] = whole.lr  # as during a whole-step epoch
    whole.position.zero_()
    with HostReads() as step:
        group.optimizer.zero_grad(set_to_none=True)
        whole._step()
    assert step.reads == []
    with HostReads() as detector:
        float(whole.loss_sum[0])
    assert detector.reads, "the detector sees a host read"


# -- options fit_many does not implement --------------------------------------------------------------------------
def _refusal(monkeypatch, options, recipe=RECIPE, experimental=ExperimentalOptions()):
    # Refused up front: before the data are built.
    monkeypatch.setattr(many, "recipe_tensors", lambda *_: pytest.fail("the data were built before the check"))
    with pytest.raises(ValueError) as error:
        fit_many("late_fusion_strided", recipe, seeds=(1, 2), options=options, experimental=experimental)
    return str(error.value)


def test_compile_is_refused(monkeypatch):
    message = _refusal(monkeypatch, EngineOptions(device="cpu", compile=True, progress=False))
    assert "compile=True" in message and "compile=False" in message


def test_per_module_cuda_graphs_are_refused(monkeypatch):
    message = _refusal(monkeypatch, EngineOptions(device="cpu", cuda_graphs=True, progress=False))
    assert "cuda_graphs=True" in message and "--whole-step-graphs" in message


def test_whole_step_graphs_off_a_cuda_device_are_refused(monkeypatch):
    message = _refusal(monkeypatch, EAGER, experimental=WHOLE)
    assert "whole-step graphs need one CUDA device, not device cpu" in message


def test_whole_step_graphs_of_an_augmenting_recipe_are_refused():
    for extra, named in (({"modality_dropout": 0.5}, "modality_dropout=0.5"),
                         ({"corruption_augment": "camera_noise"}, "corruption_augment='camera_noise'")):
        with pytest.raises(ValueError, match="augments batches") as error:
            check_fit_many_options(EAGER, RECIPE.replace(**extra), torch.device("cuda"), None, whole_step=True)
        assert named in str(error.value)
    check_fit_many_options(EAGER, RECIPE, torch.device("cuda"), None, whole_step=True)  # a plain recipe passes


def test_distributed_under_torchrun_is_refused(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    message = _refusal(monkeypatch, EAGER)
    assert "distributed=True in a torchrun job of 2 ranks" in message and "distributed=False" in message
    check_fit_many_options(EngineOptions(device="cpu", distributed=False), RECIPE, torch.device("cpu"), None)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_whole_step_graphs_match_the_eager_group_on_a_gpu():
    recipe = get_recipe("assignment", train_frames=320, val_frames=64, epochs=3, seed=5)
    data = recipe_tensors(recipe)
    runs = {
        whole: fit_many("intermediate_cat_strided", recipe, seeds=(5, 6, 7), data=data,
                        options=EngineOptions(device="cuda", amp=None, cuda_graphs=False, progress=False),
                        experimental=ExperimentalOptions(whole_step_graphs=whole))
        for whole in (False, True)
    }
    for eager, whole in zip(runs[False], runs[True]):
        for eager_epoch, whole_epoch in zip(eager.history, whole.history):
            assert whole_epoch["train_loss"] == pytest.approx(eager_epoch["train_loss"], rel=1e-3)
            assert whole_epoch["val_loss"] == pytest.approx(eager_epoch["val_loss"], rel=1e-3)
        assert whole.best_epoch == eager.best_epoch
