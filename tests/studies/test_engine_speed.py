"""studies/engine_speed.py: each configuration in a fresh process, one failing setting reported without hiding
the others, and the published block in docs/studies.md is the committed result file's."""
from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "studies" / "results" / "engine-speed" / "results.json"


def test_engine_speed_runs_every_setting_and_reports_a_failing_one(repo_script, tmp_path):
    script = repo_script("studies/engine_speed.py")
    results = script.main(["--model", "late_fusion_strided", "--configs", "eager", "nchw", "whole-step",
                           "--set", "train_frames=64", "--set", "val_frames=32", "--set", "epochs=2",
                           "--rounds", "2", "--device", "cpu", "--out", str(tmp_path)])
    assert json.loads((tmp_path / "results.json").read_text()) == results
    assert (tmp_path / "results.md").read_text() == script.markdown(results)
    assert [run["config"] for run in results["runs"]] == ["eager", "nchw", "whole-step", "nchw", "whole-step", "eager"]
    rows = {row["config"]: row for row in results["rows"]}
    assert "CUDA device" in rows["whole-step"]["error"]  # the CPU refuses it; the other two still ran
    eager_runs = [run for run in results["runs"] if run["config"] == "eager"]
    assert rows["eager"]["steady_epoch_s"] == statistics.median(run["steady_epoch_s"] for run in eager_runs)
    assert rows["nchw"]["vs_eager"] == pytest.approx(rows["eager"]["steady_epoch_s"] / rows["nchw"]["steady_epoch_s"])
    # the same seed, data and recipe: the memory layout changes the speed, not what is learned
    assert rows["nchw"]["val_loss"] == pytest.approx(rows["eager"]["val_loss"], rel=1e-3)


def test_the_docs_show_the_committed_engine_speed(published):
    script, results, block = published("studies/engine_speed.py", "engine-speed")
    assert block.strip() == script.markdown(results).strip()
    assert results["rows"] == script.summarize(results["runs"], results["configs"])
    # what the prose under the table says of it
    steady = {row["config"]: row["steady_epoch_s"] for row in results["rows"]}
    assert min(steady, key=steady.get) == "eager", "docs: the engine's defaults are the fastest of these settings"
    compile_cost = {row["config"]: row["first_epoch_s"] - row["steady_epoch_s"] for row in results["rows"]}
    assert 20 < compile_cost["compile"] < 45, "docs: about half a minute compiling in the first epoch"
    assert "the engine's defaults are the fastest of these settings" in (ROOT / "docs" / "studies.md").read_text()
