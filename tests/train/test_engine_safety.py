"""The engine never fails silently: the data decide the steps, a nan loss stops the run, a second writer of a run
folder is refused, and the kept (best) epoch is what a run folder hands out."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from mmzoo.errors import BusyError, NonFiniteLossError
from mmzoo.train import EngineOptions, fit, get_recipe, recipe_tensors
from mmzoo.train.checkpoint import CHECKPOINT_NAME, best_state_dict, load_checkpoint
from mmzoo.train.loop import rows, samples_per_second

QUIET = EngineOptions(progress=False, device="cpu")
MODEL = "late_fusion_strided"


@pytest.fixture(scope="module")
def small():
    recipe = get_recipe("assignment", train_frames=64, val_frames=32, epochs=2)
    return recipe, recipe_tensors(recipe)


def test_the_data_decide_the_steps(small):
    recipe, (train, val) = small
    # 40 frames for a recipe that says 64: one whole batch of 32, never an empty second one (which gave nan).
    result = fit(MODEL, recipe, data=(rows(train, 0, 40), val), options=QUIET)
    for record in result.history:
        assert record["train_samples"] == 32
        assert torch.isfinite(torch.tensor(record["train_loss"]))
    with pytest.raises(ValueError, match="20 training frames cannot fill one batch of batch_size=32"):
        fit(MODEL, recipe, data=(rows(train, 0, 20), val), options=QUIET)


def test_a_nan_loss_stops_the_run_and_keeps_no_garbage(small, tmp_path):
    recipe, (train, val) = small
    poisoned = replace(train, lidar=train.lidar.clone())
    poisoned.lidar[5] = float("nan")  # one bad frame in a real folder
    with pytest.raises(NonFiniteLossError, match="training loss of epoch 1 is nan"):
        fit(MODEL, recipe, data=(poisoned, val), run_dir=tmp_path, options=QUIET)
    assert not (tmp_path / CHECKPOINT_NAME).exists()


def test_a_second_writer_of_a_run_folder_is_refused(small, tmp_path):
    recipe, data = small
    refused = []

    def second_run(record):
        with pytest.raises(BusyError, match="run folder"):
            fit(MODEL, recipe, data=data, run_dir=tmp_path, options=QUIET)
        refused.append(record["epoch"])

    fit(MODEL, recipe, data=data, run_dir=tmp_path, options=QUIET, on_epoch=second_run)
    assert refused == [1, 2]
    assert [r["epoch"] for r in load_checkpoint(tmp_path)["history"]] == [1, 2]  # the first run's, unmixed
    fit(MODEL, recipe, data=data, run_dir=tmp_path, options=QUIET)  # the lock went with the first run


def test_best_state_dict_is_the_kept_epoch_not_the_last(small, tmp_path):
    recipe, (train, val) = small
    # With a learning rate this high the validation loss is lowest at epoch 3 of 4 (5.2, against 20.3 at epoch 4;
    # deterministic on CPU, and far from a tie, so other CPUs' rounding keeps it).
    recipe = recipe.replace(lr=3e-2, epochs=4)
    result = fit(MODEL, recipe, data=(train, val), run_dir=tmp_path, options=QUIET)
    assert result.best_epoch < recipe.epochs, "precondition: the kept epoch is not the last one"
    last = load_checkpoint(tmp_path)["model"]
    for path in (tmp_path, tmp_path / CHECKPOINT_NAME):
        best = best_state_dict(path)
        for key, value in result.model.state_dict().items():
            assert torch.equal(best[key], value.cpu()), key
        assert any(not torch.equal(best[key], last[key]) for key in best)
    with pytest.raises(FileNotFoundError, match="finished at least one epoch"):
        best_state_dict(tmp_path / "elsewhere")


def test_throughput_is_samples_over_training_seconds():
    history = [{"train_time_s": 1.5, "eval_time_s": 9.0}, {"train_time_s": 0.5, "eval_time_s": 9.0}]
    assert samples_per_second(history, 64) == pytest.approx(64.0)
