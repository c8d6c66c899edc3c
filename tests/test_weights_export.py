"""``mmzoo export``: train (tiny recipe), evaluate, write the folder and the index, deterministically; the card is
readable by any YAML parser and by huggingface_hub, and says plainly what the weights were trained on."""
from __future__ import annotations

import json
import time

import pytest
import torch
import yaml
from huggingface_hub import ModelCard

import mmzoo
from mmzoo.cli import main
from mmzoo.pretrained.folder import CONFIG_NAME, WEIGHTS_NAME
from mmzoo.utils.files import file_sha256
from mmzoo.pretrained.index import read_index, register_index

ARCH = "intermediate_cat_strided"
TINY = ["--set", "train_frames=64", "--set", "val_frames=32", "--set", "epochs=1"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One tiny export through the command line: (out folder, run dir, index, printed JSON row)."""
    root = tmp_path_factory.mktemp("export")
    argv = ["export", ARCH, *TINY, "--tag", "tiny_v1", "--out", str(root / "weights"), "--run-dir", str(root / "run"),
            "--index", str(root / "index.json"), "--device", "cpu", "--json"]
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(argv) == 0
    return root, argv, json.loads(buffer.getvalue())[0]


def folder_bytes(folder) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_export_writes_the_three_files_and_the_index(exported):
    root, _, row = exported
    folder = root / "weights" / f"{ARCH}.tiny_v1"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", CONFIG_NAME, WEIGHTS_NAME]
    entry = read_index(root / "index.json")[f"{ARCH}.tiny_v1"]
    assert entry["sha256"] == file_sha256(folder / WEIGHTS_NAME) == row["sha256"]
    assert entry["num_bytes"] == (folder / WEIGHTS_NAME).stat().st_size
    assert entry["repo_id"] == f"mmzoo/{ARCH}.tiny_v1" and entry["revision"] is None
    assert entry["dataset"] == "shapes" and entry["dataset_version"] == "1.0" and entry["split"] == "val"
    assert entry["recipe_config"]["train_frames"] == 64 and entry["default"] is True
    assert set(entry["metrics"]) == {"accuracy", "loss"} and entry["metrics"]["accuracy"] == row["val_accuracy"]
    config = json.loads((folder / CONFIG_NAME).read_text())
    assert config["architecture"] == ARCH and config["pretrained_cfg"]["metrics"] == entry["metrics"]
    assert not (mmzoo.pretrained.index.INDEX_PATH.parent / "tiny").exists()  # the package index was not touched


def test_the_exported_files_are_what_the_index_writes(exported):
    from mmzoo.release.weight_files import stale_files

    root, _, _ = exported
    assert stale_files(root / "weights", root / "index.json") == []


def test_the_metrics_are_the_exported_models_own(exported):
    from mmzoo.train import evaluate, get_recipe, recipe_tensors

    root, _, row = exported
    model = mmzoo.create(f"local-dir:{root / 'weights' / f'{ARCH}.tiny_v1'}", pretrained=True)
    _, val = recipe_tensors(get_recipe("assignment", train_frames=64, val_frames=32))
    metrics = evaluate(model, val, "classification", "bce", device="cpu")
    assert metrics["accuracy"] == row["val_accuracy"] and metrics["loss"] == pytest.approx(row["val_loss"], abs=1e-6)


def test_the_card_has_model_index_results_and_says_what_it_was_trained_on(exported):
    root, _, row = exported
    text = (root / "weights" / f"{ARCH}.tiny_v1" / "README.md").read_text()
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["library_name"] == "mmzoo" and meta["license"] == "apache-2.0" and "synthetic-data" in meta["tags"]
    results = ModelCard(text).data.eval_results
    assert {r.metric_type: r.metric_value for r in results} == {"accuracy": row["val_accuracy"], "loss": row["val_loss"]}
    assert {r.dataset_split for r in results} == {"validation"} and results[0].dataset_config == "1.0"
    body = text.split("---\n", 2)[2]
    for needle in ("Trained on synthetic data", "`shapes` set, version 1.0", "not on real camera or LiDAR",
                   f'mmzoo.create("{ARCH}.tiny_v1", pretrained=True)', "seed 51", "frames 64..95 (32 frames)",
                   mmzoo.train.device_name(torch.device("cpu")).split(" (")[0], "s per epoch",
                   "--set train_frames=64 --set val_frames=32 --set epochs=1", "rgb rgba (4, 64, 64) in [0, 1]"):
        assert needle in body, needle


def test_exporting_a_finished_run_again_reuses_it_and_gives_identical_bytes(exported, tmp_path):
    root, argv, _ = exported
    first = folder_bytes(root / "weights" / f"{ARCH}.tiny_v1")
    again = [tmp_path / "w" if a == str(root / "weights") else a for a in argv]
    again = [str(a) for a in again]
    again[again.index("--index") + 1] = str(tmp_path / "index.json")
    start = time.perf_counter()
    assert main(again) == 0
    assert time.perf_counter() - start < 5  # no training: the finished run is reused
    assert folder_bytes(tmp_path / "w" / f"{ARCH}.tiny_v1") == first
    assert (tmp_path / "index.json").read_text() == (root / "index.json").read_text()


def test_training_from_scratch_again_gives_the_same_weights(exported, tmp_path):
    root, _, _ = exported
    from mmzoo.release.export import export_weights
    from mmzoo.train import EngineOptions

    result = export_weights(ARCH, "assignment", "tiny_v1", tmp_path / "w", run_dir=tmp_path / "run2",
                            overrides=["train_frames=64", "val_frames=32", "epochs=1"],
                            options=EngineOptions(device="cpu", progress=False, amp=None), index=False)
    assert result.index is None and not result.reused_run
    first = root / "weights" / f"{ARCH}.tiny_v1"
    assert (result.folder / WEIGHTS_NAME).read_bytes() == (first / WEIGHTS_NAME).read_bytes()
    assert (result.folder / CONFIG_NAME).read_text().split('"training"')[0] == \
        (first / CONFIG_NAME).read_text().split('"training"')[0]  # all but the measured train time


def test_an_exported_index_makes_the_tag_loadable_by_name(exported, monkeypatch, clean_registry):
    root, _, _ = exported
    assert register_index(root / "index.json") == [f"{ARCH}.tiny_v1"]
    monkeypatch.setenv(mmzoo.pretrained.locate.WEIGHTS_DIR_ENV, str(root / "weights"))
    model = mmzoo.create(f"{ARCH}.tiny_v1", pretrained=True)
    assert model.pretrained_file == str(root / "weights" / f"{ARCH}.tiny_v1" / WEIGHTS_NAME)


@pytest.mark.parametrize(("argv", "message"), [
    (["export", "intermediate_catt"], "unknown model 'intermediate_catt'"),
    (["export", "late_fusion", "intermediate_cat", "--run-dir", "runs/x"], "{model} placeholder"),
    (["export", "late_fusion.tiny_v1"], "export takes an architecture name"),
    (["export", "late_fusion", "--set", "epoch=2"], "'epoch' is neither a recipe field nor an argument of late_fusion; did you mean epochs"),
    (["export", "late_fusion", "--model-arg", "lidar_scale"], "must look like KEY=VALUE"),
])
def test_export_errors_exit_1_without_traceback(argv, message, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_name_of_the_index_is_refused_for_other_bytes_with_what_to_do(tmp_path, capsys):
    """intermediate_cat.shapes_v1 names the shipped bytes; a tiny retraining under that name would load as the old
    weight is checked and fail, so export refuses it before writing, naming the way out."""
    import re

    argv = ["export", "intermediate_cat", *TINY, "--set", "lidar_scale=0.02", "--tag", "shapes_v1", "--out",
            str(tmp_path / "weights"), "--run-dir", str(tmp_path / "run"), "--no-index", "--device", "cpu"]
    assert main(argv) != 0
    error = " ".join(capsys.readouterr().err.split())
    assert re.search(r"intermediate_cat.shapes_v1 is already a weight in mmzoo's index .*, not published yet, with "
                     r"sha256 [0-9a-f]{64}; this export's bytes differ .*--tag shapes_v1_2.*delete the "
                     r"'intermediate_cat.shapes_v1' entry", error), error
    assert not (tmp_path / "weights" / "intermediate_cat.shapes_v1").exists()
