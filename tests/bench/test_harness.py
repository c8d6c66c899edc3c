"""The benchmark harness on a tiny table: every column, reruns skip, interrupted rows resume, shards agree."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from mmzoo.bench import load_rows, run_table, table_jobs
from mmzoo.bench.harness import rows_of
from mmzoo.bench.report import CSV_COLUMNS, summarize
from mmzoo.bench.tables import TABLES, BenchTable, get_table
from mmzoo.train import EngineOptions, fit, get_recipe

TINY = BenchTable(
    name="tiny",
    title="tiny table",
    caption="two strided models, two epochs of 64 frames",
    recipe="assignment",
    overrides=("train_frames=64", "val_frames=32", "epochs=2"),
    models=("intermediate_cat_strided", "late_fusion_strided"),
    model_kwargs={"lidar_scale": 0.02},
    reference=("late_fusion_strided",),
)
ALWAYS_PRESENT = [c for c in CSV_COLUMNS if c not in ("val_position_error", "val_mse", "cuda_peak_allocated_mib", "cuda_peak_reserved_mib",
                                                    "nvml_process_mib")]


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    paths = run_table(TINY, out_dir=out, progress=False)
    return out, paths


def test_a_row_has_every_column(measured):
    out, paths = measured
    rows = load_rows(out / "tiny")
    assert {(r["model"], r["loop"]) for r in rows} == {
        ("intermediate_cat_strided", "engine"), ("late_fusion_strided", "engine"), ("late_fusion_strided", "reference")}
    for row in rows:
        missing = [c for c in ALWAYS_PRESENT if row.get(c) is None]
        assert not missing, f"{row['model']} {row['loop']} lacks {missing}"
        assert row["params"] == {"intermediate_cat_strided": 914_201, "late_fusion_strided": 1_415_051}[row["model"]]
        assert 0 < row["fraction_of_peak"] < 1.5 and row["matmul_gflops_s"] > 1
        assert len(row["history"]) == 2 and row["variant"] == "lidar_scale=0.02"
    with open(paths["csv"]) as handle:
        assert len(list(csv.DictReader(handle))) == 3
    text = paths["md"].read_text()
    assert "| late_fusion_strided | lidar_scale=0.02 | reference |" in text
    assert "Engine vs notebook-style loop on late_fusion_strided" in text
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ratio = json.loads(paths["json"].read_text())["speed_ratio"][0]
    # The ratio is the two loops' measured train times (how fast each is belongs in the harness, not in a test
    # that shares two cores with other tests).
    times = {r["loop"]: r["train_time_s"] for r in rows if r["model"] == "late_fusion_strided"}
    assert ratio["speedup"] == pytest.approx(times["reference"] / times["engine"])


def test_rerun_skips_finished_rows(measured):
    out, _ = measured
    before = {p.name: p.stat().st_mtime_ns for p in (out / "tiny" / "rows").glob("*.json")}
    run_table(TINY, out_dir=out, progress=False)
    after = {p.name: p.stat().st_mtime_ns for p in (out / "tiny" / "rows").glob("*.json")}
    assert before == after


def test_interrupted_row_resumes_from_its_checkpoint(tmp_path):
    table = BenchTable(**{**TINY.__dict__, "models": ("late_fusion_strided",), "reference": ()})
    job = table_jobs(table)[0]
    recipe = get_recipe(table.recipe).from_dict(job["recipe"])
    run_dir = tmp_path / "runs" / "tiny" / "late_fusion_strided" / f"seed51-{job['key']}"  # the row's identity

    def stop(record):
        raise KeyboardInterrupt  # the row was killed after its first epoch's checkpoint

    with pytest.raises(KeyboardInterrupt):
        fit("late_fusion_strided", recipe, run_dir=run_dir, options=EngineOptions(progress=False), on_epoch=stop,
            lidar_scale=0.02)
    first = json.loads((run_dir / "history.json").read_text())["history"][0]
    run_table(table, out_dir=tmp_path, progress=False)
    (row,) = load_rows(tmp_path / "tiny")
    assert [r["epoch"] for r in row["history"]] == [1, 2]
    assert row["history"][0]["train_time_s"] == first["train_time_s"]  # epoch 1 was not trained again


def test_shards_give_the_rows_of_a_sequential_sweep(measured, tmp_path, monkeypatch):
    out, _ = measured
    table = BenchTable(**{**TINY.__dict__, "reference": ()})
    # As two torchrun ranks would see it; the workers must train alone, not try to join that (absent) job.
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "9")
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("LOCAL_RANK", str(rank))
        run_table(table, out_dir=tmp_path, progress=False)
    sharded = {(r["model"], r["seed"], r["loop"]): r for r in load_rows(tmp_path / "tiny")}
    sequential = {(r["model"], r["seed"], r["loop"]): r for r in load_rows(out / "tiny") if r["loop"] == "engine"}
    assert sharded.keys() == sequential.keys()
    for key, row in sharded.items():
        assert row.keys() == sequential[key].keys()
        assert row["val_loss"] == sequential[key]["val_loss"]  # CPU training is deterministic


def test_summary_gives_mean_and_spread():
    rows = [{"model": "m", "variant": "", "loop": "engine", "seed": s, "params": 10, "val_accuracy": a,
             "val_loss": 0.1, "train_time_s": 1.0} for s, a in ((1, 0.9), (2, 1.0))]
    (entry,) = summarize(rows)
    assert entry["val_accuracy"] == pytest.approx(0.95)
    assert entry["val_accuracy_sd"] == pytest.approx(0.0707, abs=1e-4)
    assert entry["seeds"] == [1, 2]


def test_tables_name_every_notebook_model():
    import mmzoo

    # The notebook's four fusion networks, pooled and strided (the zoo registers more intermediate_* since).
    notebook = [f"{name}{suffix}" for name in ("late_fusion", "intermediate_cat", "intermediate_add",
                                                "intermediate_hadamard") for suffix in ("", "_strided")]
    assert set(TABLES["assignment"].models) == set(notebook) <= set(mmzoo.list_models())
    assert set(TABLES["course"].models) == set(mmzoo.list_models("course_*"))
    with pytest.raises(ValueError, match="did you mean quick"):
        get_table("quik")


def test_the_zoo_tables_hold_every_registered_architecture_once(clean_registry):
    import mmzoo

    @clean_registry.register_model(info=mmzoo.model_info("late_fusion_strided"))
    def zoo_newcomer(**kwargs):  # registered after mmzoo.bench was imported, as a plugin would be
        return mmzoo.create("late_fusion_strided", **kwargs)

    for name in ("zoo-shapes", "zoo-cubes"):
        table = get_table(name)
        assert sorted(table.models) == mmzoo.list_models() and table.models[-1] == "zoo_newcomer"
        assert table.models[:-1] == TABLES[name].models, "the published rows keep their order"
        assert len(set(table.models)) == len(table.models) and len(table.seeds) >= 3
        assert {job["model"] for job in table.jobs()} == set(table.models)
    assert TABLES["zoo-shapes"].recipe == "assignment" and TABLES["zoo-cubes"].recipe == "course"


def test_a_table_without_inference_shows_no_inference_columns():
    from mmzoo.bench.report import markdown_table, summarize

    row = {"model": "m", "variant": "", "loop": "engine", "seed": 1, "params": 10, "val_loss": 0.1,
           "val_accuracy": 0.9, "train_time_s": 1.0, "train_samples_per_s": 10.0, "fraction_of_peak": 0.5}
    without = markdown_table(summarize([{**row, "inference_samples_per_s": None, "latency_ms": None}]), "classification")
    assert "infer samples/s" not in without and "latency ms" not in without and "| 0.900 |" in without
    with_inference = markdown_table(summarize([{**row, "inference_samples_per_s": 5.0, "latency_ms": 2.0}]), "classification")
    assert "| infer samples/s | latency ms |" in with_inference and "| 5 | 2.00 |" in with_inference


def test_a_rows_identity_is_everything_that_changes_its_result(tmp_path):
    base = table_jobs(TINY)
    keys = {job["key"] for job in base}
    variants = [
        table_jobs(TINY, ("epochs=3",)),
        table_jobs(TINY, model_kwargs={"lidar_scale": 0.05}),
        table_jobs(TINY, data_dir=tmp_path),
        [job for job in table_jobs(TINY, options={"amp": "bf16"}) if job["loop"] == "engine"],
        table_jobs(TINY, options={"compile": True}),
    ]
    # The notebook-style loop trains in float32 whatever the engine's precision: the same row.
    assert ({j["key"] for j in table_jobs(TINY, options={"amp": "bf16"}) if j["loop"] == "reference"}
            == {j["key"] for j in base if j["loop"] == "reference"})
    for jobs in variants:
        assert not keys & {job["key"] for job in jobs}
        assert not {j["name"] for j in base} & {j["name"] for j in jobs}
    assert table_jobs(TINY, model_kwargs={"lidar_scale": 0.05})[0]["variant"] == "lidar_scale=0.05"
    assert [job["key"] for job in table_jobs(TINY)] == [job["key"] for job in base]  # stable


def test_rows_of_other_data_are_neither_skipped_nor_reported(measured, tmp_path):
    out, _ = measured
    synthetic = rows_of(out / "tiny", table_jobs(TINY))
    assert len(synthetic) == 3
    # Before: a --data-dir rerun found these rows "done" by their recipe alone and published them as its own.
    assert rows_of(out / "tiny", table_jobs(TINY, data_dir=tmp_path)) == []
    legacy = {k: v for k, v in synthetic[0].items() if k not in ("identity", "data_dir")}
    (tmp_path / "rows").mkdir()
    (tmp_path / "rows" / "legacy.json").write_text(json.dumps(legacy))  # rows written before identities
    assert rows_of(tmp_path, table_jobs(TINY)) == [legacy]
    assert rows_of(tmp_path, table_jobs(TINY, options={"amp": "bf16"})) == []


def test_a_bf16_row_is_compared_with_the_bf16_ceiling(monkeypatch):
    """"% of peak" divides by the rate of the arithmetic the row used: a bf16 matmul for a bf16 row."""
    import torch

    from mmzoo.bench import worker
    from mmzoo.train.precision import cpu_bf16_hardware

    if cpu_bf16_hardware() == "none":
        pytest.skip("this CPU has no bf16 matrix hardware, so no bf16 row can be measured on it")
    asked, measure = [], worker.matmul_gflops

    def small_ceiling(device, dtype):
        asked.append(dtype)
        return measure(device, size=256, repeats=2, dtype=dtype)

    monkeypatch.setattr(worker, "matmul_gflops", small_ceiling)
    options = {"amp": "bf16", "device": "cpu"}
    (job,) = [j for j in table_jobs(TINY, options=options) if j["loop"] == "engine" and j["model"] == "late_fusion_strided"]
    row = worker.run_job({**job, "options": options})
    assert asked == [torch.bfloat16, torch.bfloat16]
    assert row["dtype"] == "bfloat16 autocast" and row["precision"].startswith("bf16 autocast (amp=bf16 on ")
    assert row["fraction_of_peak"] == pytest.approx(row["achieved_gflops_s"] / row["matmul_gflops_s"])


def test_a_table_runs_one_recipe_whatever_the_hardware(monkeypatch):
    """The quick table trains the same rows, recipe and precision on every machine: bf16 hardware changes nothing,
    and bf16 is only what the caller asks for (a new identity)."""
    from mmzoo.bench.tables import QUICK
    from mmzoo.train import precision

    def quick(hardware: str, options: dict | None = None) -> list[tuple]:
        monkeypatch.setattr(precision, "cpu_bf16_hardware", lambda: hardware)
        jobs = table_jobs(QUICK, options={"device": "cpu", **(options or {})})
        return [(job["loop"], job["recipe"]["epochs"], job["recipe"]["train_frames"], job["key"]) for job in jobs]

    plain = quick("none")
    assert plain == quick("amx") == quick("avx512_bf16")
    assert [(loop, epochs, frames) for loop, epochs, frames, _ in plain] == [("engine", 5, 640)] * 4 + [("reference", 5, 640)]
    asked = quick("amx", {"amp": "bf16"})
    assert [row[:3] for row in asked] == [row[:3] for row in plain]
    assert {row[3] for row in asked if row[0] == "engine"}.isdisjoint(row[3] for row in plain)


@pytest.mark.parametrize("name", ["quick", "assignment-scaled", "assignment-scaled-bf16"])
def test_committed_rows_keep_their_identity(name):
    """A change to what a row's identity holds would orphan every committed row: the tables must still find them
    (float32 rows measured under the retired amp='auto' included)."""
    jobs = table_jobs(get_table(name), options={"device": "cpu"})
    assert len(rows_of(Path(__file__).parents[2] / "benchmarks" / "results" / name, jobs)) == len(jobs)
