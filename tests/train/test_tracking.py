"""Experiment tracking read back through each tracker's own reader: TensorBoard's event accumulator, the MLflow
client, and the records of a W&B offline run; the per-epoch CSV; resuming continues the tracker runs; a tracker
that fails never stops training. The real packages (``mmzoo[tensorboard,mlflow,wandb]``); each test skips where
its tracker is not installed."""
from __future__ import annotations

import csv
import io
import shutil
import re
import struct
import sys
import warnings
from pathlib import Path

import pytest
from PIL import Image

from mmzoo.cli import main
from mmzoo.train import EngineOptions, fit, get_recipe
from mmzoo.train.experimental import fit_many
from mmzoo.train.data import recipe_tensors
from mmzoo.train.tracking import CSV_NAME, IDS_NAME, RunLogger, Tracking

MODEL = "late_fusion_strided"
RECIPE = get_recipe("assignment", train_frames=64, val_frames=32, epochs=2)
OPTIONS = EngineOptions(device="cpu", progress=False)
SCALARS = {"train_loss", "val_loss", "val_accuracy", "lr", "epoch_time_s", "train_samples_per_s"}


@pytest.fixture(scope="module")
def data():
    return recipe_tensors(RECIPE)


@pytest.fixture(autouse=True)
def local_trackers(monkeypatch, tmp_path):
    """Every tracker keeps to the test's folders: no server, no account."""
    for name in ("MLFLOW_TRACKING_URI", "WANDB_MODE", "WANDB_PROJECT", "WANDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb-data"))  # where W&B stages artifacts until a sync


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory):
    """A fresh SQLite store, created once (its schema migrations take seconds) and copied into each root."""
    mlflow = pytest.importorskip("mlflow")
    template = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    mlflow.MlflowClient(f"sqlite:///{template}").search_experiments()

    def copy_into(root: Path) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        shutil.copy(template, root / "mlflow.db")
        return root
    return copy_into


def wandb_records(run_folder: Path) -> list:
    """The records of a W&B offline run's ``run-<id>.wandb`` file, parsed with wandb's own protobuf messages.

    The file is wandb's transaction log: a 7-byte header (``:W&B``, magic 0xBEE1, a version byte), then LevelDB's log
    format (32 KiB blocks of chunks, each with a 7-byte header: checksum, length, type FULL/FIRST/MIDDLE/LAST),
    each record a serialized ``wandb_internal_pb2.Record``.
    """
    from wandb.proto import wandb_internal_pb2

    data = next(Path(run_folder).glob("run-*.wandb")).read_bytes()
    assert data[:6] == b":W&B" + struct.pack("<H", 0xBEE1)
    records, pending, position, block = [], b"", 7, 32768
    while position + 7 <= len(data):
        if block - position % block < 7:  # a block's tail too short for a header is padding
            position += block - position % block
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        if kind == 0:
            break
        pending += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # FULL, LAST
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def wandb_contents(run_folder: Path) -> tuple[dict, dict, dict]:
    """(history by step, summary, config) of an offline run, as the records hold them."""
    import json

    history, summary, config = {}, {}, {}
    key = lambda item: item.key or "/".join(item.nested_key)  # noqa: E731
    for record in wandb_records(run_folder):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            items = {key(item): json.loads(item.value_json) for item in record.history.item}
            history[record.history.step.num] = items
        elif kind == "summary":
            summary.update({key(item): json.loads(item.value_json) for item in record.summary.update})
        elif kind == "config":
            config.update({key(item): json.loads(item.value_json) for item in record.config.update})
    return history, summary, config


def test_the_csv_is_written_beside_every_checkpoint(tmp_path, data):
    result = fit(MODEL, RECIPE, data=data, run_dir=tmp_path / "run", options=OPTIONS)
    rows = list(csv.DictReader(open(tmp_path / "run" / CSV_NAME)))
    assert [int(row["epoch"]) for row in rows] == [1, 2]
    for row, record in zip(rows, result.history):
        assert float(row["val_loss"]) == pytest.approx(record["val_loss"])
        assert float(row["epoch_time_s"]) == pytest.approx(record["train_time_s"] + record["eval_time_s"])
        assert float(row["lr"]) == record["lr"] and float(row["train_samples_per_s"]) > 0
    assert not (tmp_path / "run" / IDS_NAME).exists()  # no tracker: nothing to continue


def test_no_run_folder_and_no_tracker_writes_nothing(tmp_path, data, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fit(MODEL, RECIPE.replace(epochs=1), data=data, options=OPTIONS)
    assert list(tmp_path.iterdir()) == []


def test_only_rank_0_logs(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with RunLogger(Tracking(("tensorboard",), root=tmp_path), "r1", local_dir=tmp_path / "run") as logger:
        logger.start({"architecture": MODEL})
        logger.epoch({"epoch": 1, "train_loss": 0.5})
    assert list(tmp_path.iterdir()) == []


def test_tensorboard_reader_sees_the_scalars_and_images(tmp_path, data):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tracking = Tracking(("tensorboard",), root=tmp_path / "logs", experiment="exp", samples=3)
    result = fit(MODEL, RECIPE, data=data, run_dir=tmp_path / "cat", options=OPTIONS, log=tracking)
    events = EventAccumulator(str(tmp_path / "logs" / "tensorboard" / "exp" / "cat"), size_guidance={"images": 0})
    events.Reload()
    tags = events.Tags()
    assert SCALARS <= set(tags["scalars"])
    assert [event.step for event in events.Scalars("val_loss")] == [1, 2]
    assert [event.value for event in events.Scalars("val_loss")] == pytest.approx(
        [record["val_loss"] for record in result.history])
    assert sorted(tags["images"]) == [f"predictions/frame_{i}" for i in range(3)]
    image = Image.open(io.BytesIO(events.Images("predictions/frame_0")[0].encoded_image_string))
    assert image.size == (258, 128)  # the camera image beside the LiDAR range image
    assert {"config", "predictions"} <= {tag.split("/")[0] for tag in tags["tensors"]}


@pytest.mark.slow
def test_mlflow_client_finds_the_run_its_params_and_history(tmp_path, data, mlflow_store):
    from mlflow import MlflowClient

    root = mlflow_store(tmp_path / "logs")
    result = fit(MODEL, RECIPE, data=data, run_dir=tmp_path / "cat", options=OPTIONS,
                 log=Tracking(("mlflow",), root=root, experiment="exp"))
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("exp").experiment_id])
    assert run.info.run_name == "cat" and run.info.status == "FINISHED"
    params = run.data.params
    assert params["architecture"] == MODEL and params["recipe.lr"] == "0.001" and params["recipe.epochs"] == "2"
    assert int(params["params"]) == sum(p.numel() for p in result.model.parameters())
    assert {"precision", "device", "versions.mmzoo", "versions.torch", "data.dataset"} <= set(params)
    history = client.get_metric_history(run.info.run_id, "val_loss")
    assert [(m.step, m.value) for m in history] == [(r["epoch"], pytest.approx(r["val_loss"])) for r in result.history]
    assert run.data.metrics["final.best_epoch"] == result.best_epoch
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"weights", "predictions", "predictions.json"} <= artifacts
    weights = {a.path for a in client.list_artifacts(run.info.run_id, "weights")}
    assert weights == {"weights/config.json", "weights/model.safetensors"}


@pytest.mark.slow
def test_wandb_offline_run_holds_history_summary_and_config(tmp_path, data):
    pytest.importorskip("wandb")
    result = fit(MODEL, RECIPE, data=data, run_dir=tmp_path / "cat", options=OPTIONS,
                 log=Tracking(("wandb",), root=tmp_path / "logs"))
    (folder,) = (tmp_path / "logs" / "wandb").glob("offline-run-*")
    history, summary, config = wandb_contents(folder)
    epochs = {step: items for step, items in history.items() if "val_loss" in items}
    assert sorted(epochs) == [1, 2] and SCALARS <= set(epochs[1])
    assert [epochs[r["epoch"]]["val_loss"] for r in result.history] == pytest.approx(
        [r["val_loss"] for r in result.history])
    assert summary["best_epoch"] == result.best_epoch
    assert summary["predictions/_type"] == "table-file" and summary["predictions/nrows"] == 5  # the notebook's table
    pngs = [Image.open(path) for path in (folder / "files" / "media" / "images").glob("prediction_images_*.png")]
    assert [image.size for image in pngs] == [(258, 128)] * 5  # the camera beside the LiDAR, per frame
    assert config["architecture"] == MODEL and config["recipe"]["lr"] == 0.001


@pytest.mark.slow
def test_a_resumed_run_continues_its_tracker_runs(tmp_path, data, mlflow_store):
    pytest.importorskip("tensorboard")
    pytest.importorskip("wandb")
    from mlflow import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    root = mlflow_store(tmp_path / "logs")
    tracking = Tracking(("tensorboard", "mlflow", "wandb"), root=root, experiment="exp", samples=0)

    def stop(record):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(MODEL, RECIPE, data=data, run_dir=tmp_path / "cat", options=OPTIONS, log=tracking, on_epoch=stop)
    first = (tmp_path / "cat" / IDS_NAME).read_text()
    result = fit(MODEL, RECIPE, data=data, run_dir=tmp_path / "cat", options=OPTIONS, log=tracking)
    assert (tmp_path / "cat" / IDS_NAME).read_text() != first  # the same ids, now with 2 epochs each
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("exp").experiment_id])
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")] == [1, 2]
    assert run.info.status == "FINISHED"
    (tensorboard,) = (root / "tensorboard" / "exp").iterdir()
    events = EventAccumulator(str(tensorboard))
    events.Reload()
    assert [event.step for event in events.Scalars("val_loss")] == [1, 2]
    sessions = sorted((root / "wandb").glob("offline-run-*"))
    # A session folder is offline-run-DATE_TIME-RUNID, with "-N" added when two sessions start within one second.
    run_ids = {re.fullmatch(r"offline-run-\d{8}_\d{6}-([a-z0-9]+)(?:-\d+)?", folder.name).group(1)
               for folder in sessions}
    assert len(sessions) == 2 and len(run_ids) == 1  # two sessions of one run
    steps = [sorted(s for s, items in wandb_contents(folder)[0].items() if "val_loss" in items) for folder in sessions]
    assert steps == [[1], [2]] and result.best_epoch in (1, 2)


@pytest.mark.slow
def test_a_failing_tracker_never_stops_training(tmp_path, data, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if not installed: ``import wandb`` raises ImportError
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the TensorBoard store should go")
    tracking = Tracking(("tensorboard", "mlflow", "wandb"), root=blocked)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit(MODEL, RECIPE, data=data, run_dir=tmp_path / "cat", options=OPTIONS, log=tracking)
    messages = [str(w.message) for w in caught if "training goes on" in str(w.message)]
    assert len(messages) == 3, messages  # one per tracker
    assert any("pip install 'mmzoo[wandb]'" in m for m in messages)
    assert any("mlflow" in m and "not logged to mlflow" in m for m in messages)
    assert any("tensorboard" in m and "not logged to tensorboard" in m for m in messages)
    assert [record["epoch"] for record in result.history] == [1, 2]
    assert len(list(csv.DictReader(open(tmp_path / "cat" / CSV_NAME)))) == 2  # the CSV is still kept


def test_fit_many_logs_one_run_per_seed(tmp_path, data):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    runs = fit_many(MODEL, RECIPE, seeds=(1, 2), data=data, options=OPTIONS,
                    log=Tracking(("tensorboard",), root=tmp_path, experiment="sweep", samples=1))
    folders = sorted((tmp_path / "tensorboard" / "sweep").iterdir())
    assert [folder.name.split("-")[-3] for folder in folders] == ["seed1", "seed2"]
    for folder, run in zip(folders, runs):
        events = EventAccumulator(str(folder))
        events.Reload()
        assert [e.value for e in events.Scalars("val_loss")] == pytest.approx([r["val_loss"] for r in run.history])


def test_unknown_tracker_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown tracker 'tensorbord'.*tensorboard, mlflow, wandb"):
        Tracking.parse("tensorbord")


@pytest.mark.slow
def test_mmzoo_train_log_mlflow(tmp_path, monkeypatch, mlflow_store, capsys):
    from mlflow import MlflowClient

    monkeypatch.chdir(tmp_path)
    mlflow_store(tmp_path / "mmzoo-logs")
    # docs/training.md's command, on tiny settings
    args = ["train", "intermediate_cat", "--run-dir", "runs/cat", "--log", "mlflow", "--set", "epochs=2",
            "--set", "train_frames=64", "--set", "val_frames=32", "--device", "cpu"]
    assert main(args) == 0
    client = MlflowClient("sqlite:///mmzoo-logs/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("mmzoo").experiment_id])
    assert run.info.run_name == "cat" and run.data.params["architecture"] == "intermediate_cat"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")] == [1, 2]
    assert (tmp_path / "runs" / "cat" / CSV_NAME).is_file()


@pytest.mark.slow
def test_mmzoo_bench_quick_log_tensorboard(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    # docs/training.md's command, one row on tiny settings
    args = ["bench", "--quick", "--log", "tensorboard", "--models", "late_fusion", "--seeds", "51", "--set", "epochs=1",
            "--set", "train_frames=64", "--set", "val_frames=32", "--device", "cpu", "--out", str(tmp_path), "--quiet"]
    assert main(args) == 0
    runs = sorted((tmp_path / "tensorboard" / "bench-quick").iterdir())
    assert runs and all(run.name.startswith("late_fusion--") for run in runs)  # one run per row of the table
    for run in runs:
        events = EventAccumulator(str(run))
        events.Reload()
        assert [e.step for e in events.Scalars("val_loss")] == [1]
        assert "final/train_samples_per_s" in events.Tags()["scalars"]  # the row's columns, compared in HParams


def test_fine_tuning_logs_through_the_same_interface(tmp_path):
    pytest.importorskip("tensorboard")
    import numpy as np
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from mmzoo.data import frames_from_arrays
    from mmzoo.train.finetune import finetune

    rng = np.random.default_rng(0)
    frames = frames_from_arrays(rng.integers(0, 255, (24, 64, 64, 3), dtype=np.uint8),
                                rng.uniform(5, 60, (24, 64, 64)).astype(np.float32), labels=["a", "b", "c"] * 8)
    result = finetune(MODEL, frames, pretrained=False, epochs=2, batch_size=8, options=OPTIONS,
                      run_dir=tmp_path / "mine", log=Tracking(("tensorboard",), root=tmp_path, samples=2))
    events = EventAccumulator(str(tmp_path / "tensorboard" / "mmzoo" / "mine"))
    events.Reload()
    assert [e.value for e in events.Scalars("val_accuracy")] == pytest.approx(
        [r["val_accuracy"] for r in result.fit.history])
    assert len(events.Tags()["images"]) == 2
    assert "(p=" in events.Tensors("predictions/text_summary")[0].tensor_proto.string_val[0].decode()


def test_the_docs_show_the_committed_tracking_overhead(repo_script):
    import json

    from mmzoo.bench.docs_tables import read_block

    root = Path(__file__).resolve().parents[2]
    results = root / "studies" / "results" / "tracking-overhead" / "results.json"
    if not results.is_file():
        pytest.skip("no tracking-overhead result committed yet")
    script = repo_script("studies/tracking_overhead.py")
    results = json.loads(results.read_text())
    assert results["rows"] == script.summarize(results["runs"])
    assert read_block(root / "docs" / "training.md", script.MARKERS).strip() == script.markdown(results).strip()
    # what the prose under the table says of it
    text = " ".join((root / "docs" / "training.md").read_text().split())
    plain = [run["epochs_s"] for run in results["runs"] if run["setting"] == "none"]
    assert f"took from {min(plain):.0f} to {max(plain):.0f} s with the other load" in text
    added = {row["setting"]: row["added_outside_s"] for row in results["rows"]}
    assert 0 < added["tensorboard"] < added["wandb"] < added["mlflow"], "docs: TensorBoard least, MLflow most"


@pytest.mark.slow
def test_the_overhead_study_times_each_setting(repo_script, tmp_path):
    pytest.importorskip("tensorboard")
    script = repo_script("studies/tracking_overhead.py")
    results = script.main(["--rounds", "1", "--settings", "none", "tensorboard", "--out", str(tmp_path)])
    rows = {row["setting"]: row for row in results["rows"]}
    assert set(rows) == {"none", "tensorboard"} and rows["none"]["added_s"] == 0
    assert rows["tensorboard"]["added_s"] == pytest.approx(rows["tensorboard"]["fit_s"] - rows["none"]["fit_s"])
    assert all(0 < row["epochs_s"] <= row["fit_s"] for row in rows.values())
    assert (tmp_path / "results.md").read_text() == script.markdown(results)


def _table(name: str, **fields):
    from mmzoo.bench.tables import BenchTable

    return BenchTable(name=name, title=name, caption="tracking test", recipe="assignment",
                      overrides=("train_frames=64", "val_frames=32", "epochs=1"), models=(MODEL,), **fields)


@pytest.mark.slow
def test_a_benchmark_table_is_one_experiment_with_a_run_per_row(tmp_path, mlflow_store):
    from mlflow import MlflowClient

    from mmzoo.bench import load_rows, run_table

    root = mlflow_store(tmp_path)
    run_table(_table("tinytrack", reference=(MODEL,)), out_dir=tmp_path, progress=False,
              options={"device": "cpu"}, log="mlflow")
    rows = {row["loop"]: row for row in load_rows(tmp_path / "tinytrack")}
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("bench-tinytrack").experiment_id])
    by_loop = {run.data.params["bench.loop"]: run for run in runs}
    assert sorted(by_loop) == ["engine", "reference"]  # the notebook-style loop's row too
    for loop, run in by_loop.items():
        assert run.info.status == "FINISHED" and run.data.params["architecture"] == MODEL
        assert run.data.metrics["final.val_loss"] == pytest.approx(rows[loop]["val_loss"])
        assert run.data.metrics["final.train_samples_per_s"] == pytest.approx(rows[loop]["train_samples_per_s"])
        assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")] == [1]


@pytest.mark.slow
def test_seeds_at_once_log_one_run_per_seed(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from mmzoo.bench import load_rows, run_table

    run_table(_table("tinyseeds", seeds=(1, 2)), out_dir=tmp_path, progress=False, options={"device": "cpu"},
              seeds_at_once=True, log="tensorboard")
    rows = {row["seed"]: row for row in load_rows(tmp_path / "tinyseeds")}
    folders = sorted((tmp_path / "tensorboard" / "bench-tinyseeds").iterdir())
    assert len(folders) == 2
    for folder in folders:
        events = EventAccumulator(str(folder))
        events.Reload()
        seed = int(folder.name.split("--seed")[1].split("--")[0])
        assert events.Scalars("val_loss")[0].value == pytest.approx(rows[seed]["history"][0]["val_loss"])
