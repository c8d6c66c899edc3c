"""A sweep's seeds trained at once (``run_table(..., seeds_at_once=True)``): one worker per model trains its seeds
with ``fit_many`` and writes one row per seed, each the row its seed trains to alone, within float rounding."""
from __future__ import annotations

import json

import pytest

from mmzoo.bench import harness, run_table, table_jobs
from mmzoo.bench.harness import rows_of
from mmzoo.bench.tables import BenchTable
from mmzoo.bench.worker import main as worker_main

SWEEP = BenchTable(
    name="sweep",
    title="two seeds of one model",
    caption="two epochs of 64 frames",
    recipe="assignment",
    overrides=("train_frames=64", "val_frames=32", "epochs=2"),
    models=("intermediate_add_strided",),
    seeds=(51, 52),
    model_kwargs={"lidar_scale": 0.02},
)
# Like with like: the seeds trained one at a time in fit_many's memory format.
NCHW = {"channels_last": False}


def test_each_row_of_a_group_is_its_seeds_separate_row(tmp_path):
    run_table(SWEEP, out_dir=tmp_path, progress=False, options=NCHW)
    run_table(SWEEP, out_dir=tmp_path, progress=False, options=NCHW, seeds_at_once=True)
    alone = {row["seed"]: row for row in rows_of(tmp_path / "sweep", table_jobs(SWEEP, options=NCHW))}
    grouped_jobs = table_jobs(SWEEP, options=NCHW, seeds_at_once=True)
    together = {row["seed"]: row for row in rows_of(tmp_path / "sweep", grouped_jobs)}
    assert set(alone) == set(together) == {51, 52}  # new rows beside the separate ones, neither replacing the other
    for seed, row in together.items():
        assert row["identity"]["seeds_at_once"] and row["runs_at_once"] == 2
        assert row["accelerations"] == "seeds at once (fit_many)" and row["channels_last"] is False
        assert row.keys() - {"runs_at_once"} == alone[seed].keys()
        # fit_many's batched convolutions round differently (why the tolerances: tests/train/test_many.py).
        first_epoch = [row["history"][0]["train_loss"] for row in (row, alone[seed])]
        assert first_epoch[0] == pytest.approx(first_epoch[1], rel=1e-4)
        assert row["val_loss"] == pytest.approx(alone[seed]["val_loss"], rel=2e-3)
    # The seeds' first epochs are told apart well beyond that tolerance: a row given the other seed's run fails.
    assert abs(together[51]["history"][0]["train_loss"] - together[52]["history"][0]["train_loss"]) > 1e-3
    # Trained in one step: each epoch's joint time is the same for both rows, and each row's share is half of it.
    for first, second in zip(together[51]["history"], together[52]["history"]):
        assert first["joint_train_time_s"] == second["joint_train_time_s"]
        assert first["train_time_s"] == pytest.approx(first["joint_train_time_s"] / 2)
    markdown = (tmp_path / "sweep" / "results.md").read_text()
    assert "NCHW, seeds at once (fit_many).\n" in markdown


def test_shards_take_whole_groups(tmp_path, monkeypatch):
    table = BenchTable(**{**SWEEP.__dict__, "models": ("intermediate_add_strided", "late_fusion_strided")})
    launched = []
    monkeypatch.setattr(harness, "_run_rows", lambda pending, *args: launched.append(pending) or [])
    for rank in (0, 1):
        run_table(table, out_dir=tmp_path, progress=False, shard=(rank, 2), seeds_at_once=True)
    assert [[(job["model"], job["seed"]) for job, _ in pending] for pending in launched] == [
        [("intermediate_add_strided", 51), ("intermediate_add_strided", 52)],
        [("late_fusion_strided", 51), ("late_fusion_strided", 52)]]
    assert all("run_dir" not in job for pending in launched for job, _ in pending)  # fit_many keeps no checkpoints


@pytest.mark.parametrize("options, message", [
    ({"compile": True}, r"seeds at once \(--seeds-at-once\): fit_many cannot run as asked: compile=True"),
    ({"cuda_graphs": True}, "cuda_graphs=True: fit_many has no per-module graphs"),
    ({"whole_step_graphs": True, "device": "cpu"}, "whole-step graphs need one CUDA device, not device cpu"),
])
def test_options_fit_many_does_not_implement_are_refused_before_any_row(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        run_table(SWEEP, out_dir=tmp_path, progress=False, options=options, seeds_at_once=True)
    assert not (tmp_path / "sweep").exists()


def test_the_worker_refuses_a_group_without_a_row_file_for_each_job(tmp_path, capsys):
    group = tmp_path / "group.json"
    group.write_text(json.dumps(table_jobs(SWEEP, seeds_at_once=True)))
    assert worker_main([str(group), str(tmp_path / "row.json")]) == 2
    assert "holds 2 job(s) but 1 row file(s)" in capsys.readouterr().err
    assert not (tmp_path / "row.json").exists()


def test_the_bench_command_passes_seeds_at_once_and_the_graphs(tmp_path, monkeypatch, capsys):
    import mmzoo.cli.bench as bench_cli
    from mmzoo.cli import main as cli_main

    calls = []
    (tmp_path / "results.md").write_text("| table |\n")

    def record(name, **kwargs):
        calls.append((name, kwargs))
        return {"md": tmp_path / "results.md"}

    monkeypatch.setattr(bench_cli, "run_table", record)
    argv = ["bench", "--table", "assignment-scaled", "--device", "cuda", "--whole-step-graphs", "--out", str(tmp_path)]
    assert cli_main([*argv, "--seeds-at-once"]) == 0 and cli_main(argv) == 0
    (name, grouped), (_, alone) = calls
    assert name == "assignment-scaled" and grouped["seeds_at_once"] and not alone["seeds_at_once"]
    assert grouped["options"]["whole_step_graphs"] is True and grouped["options"]["device"] == "cuda"
