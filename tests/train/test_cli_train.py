"""``mmzoo train`` on folders and with model arguments, and when interrupted: it says what happened, never trains
on empty batches, never exits 0 on a run that did not happen."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mmzoo.cli import main
from mmzoo.cli.options import model_arguments, split_settings
from mmzoo.data.writers import write_folder
from mmzoo.data.sets import generate
from mmzoo.train import get_recipe
from mmzoo.train.checkpoint import load_checkpoint
from mmzoo.train.data import recipe_frames

TINY = ["--set", "train_frames=32", "--set", "val_frames=32", "--set", "epochs=1", "--device", "cpu"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("folders")
    write_folder(generate("shapes", 24, seed=5), root / "assessment")
    write_folder(generate("cubes", 20, seed=5), root / "course")
    return root


def test_assessment_folder_honours_the_recipe_counts(folders):
    recipe = get_recipe("assignment", train_frames=16, val_frames=8, batch_size=8)
    train, val = recipe_frames(recipe, folders / "assessment")
    assert (len(train), len(val)) == (16, 8)
    assert np.bincount(train.labels).tolist() == [8, 8] and np.bincount(val.labels).tolist() == [4, 4]
    with pytest.raises(ValueError, match="must be even; .* train_frames=15"):
        recipe_frames(recipe.replace(train_frames=15), folders / "assessment")
    with pytest.raises(ValueError, match=r"holds 12 cubes and 12 spheres \(13 per class needed\)"):
        recipe_frames(recipe.replace(train_frames=18), folders / "assessment")


def test_course_folder_honours_the_recipe_counts(folders):
    recipe = get_recipe("course", train_frames=12, val_frames=4, batch_size=4)
    train, val = recipe_frames(recipe, folders / "course")
    assert train.metadata["frame_indices"].tolist() == list(range(4, 16))  # right before the validation frames
    assert val.metadata["frame_indices"].tolist() == [16, 17, 18, 19]  # the last frames, as the course split them


def test_train_refuses_a_folder_smaller_than_the_recipe(folders, capsys):
    # Before: 20 frames for a recipe of 9,679 + 320 trained on empty batches, recorded nan and exited 0.
    code = main(["train", "course_early_fusion", "--recipe", "course", "--data-dir", str(folders / "course"),
                 "--device", "cpu"])
    assert code == 1
    assert "holds 20 frames, fewer than recipe 'course' needs (train_frames=9679 + val_frames=320)" in (
        capsys.readouterr().err)


def test_train_passes_model_arguments(tmp_path, capsys):
    assert main(["train", "late_fusion_strided", *TINY, "--set", "lidar_scale=0.02", "--run-dir", str(tmp_path),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["best_epoch"] == 1
    assert load_checkpoint(tmp_path)["identity"]["kwargs"]["lidar_scale"] == 0.02


def test_unknown_settings_name_the_models_arguments(capsys):
    assert main(["train", "late_fusion_strided", *TINY, "--set", "lidar_scal=0.02"]) == 1
    err = capsys.readouterr().err
    assert "did you mean lidar_scale" in err and "late_fusion_strided takes" in err and "branch_dim" in err
    assert "lidar_scale" in model_arguments("intermediate_cat") and "num_outputs" not in model_arguments("late_fusion")
    assert split_settings(["epochs=2", "fusion_op=add", "head_hidden=[64]"], ["intermediate_cat"]) == (
        ["epochs=2"], {"fusion_op": "add", "head_hidden": [64]})


def test_ctrl_c_says_what_was_kept_and_rerunning_resumes(tmp_path, capsys, monkeypatch):
    import mmzoo.train.engine as engine

    real = engine.run_epoch

    def interrupted_in_epoch_two(session, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return real(session, epoch)

    command = ["train", "late_fusion_strided", *TINY, "--set", "epochs=2", "--run-dir", str(tmp_path)]
    monkeypatch.setattr(engine, "run_epoch", interrupted_in_epoch_two)
    assert main(command) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "keeps epoch 1 of 2" in err and "Rerun the same command to resume" in err
    monkeypatch.setattr(engine, "run_epoch", real)
    assert main(command) == 0
    assert [r["epoch"] for r in load_checkpoint(tmp_path)["history"]] == [1, 2]


def test_train_says_which_precision_it_used_and_trains_in_float32_by_default(tmp_path, capsys):
    assert main(["train", "late_fusion_strided", *TINY, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["precision"] == "float32 (amp=None)"
    with pytest.warns(FutureWarning, match="retired"):  # the old default still runs, in float32
        assert main(["train", "late_fusion_strided", *TINY, "--amp", "auto", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["precision"] == "float32 (amp=None)"
