"""The side-by-side speed ratio in docs/studies.md is the committed result file's, rendered by the script
that measured it; the ratios are the measured times' ratios."""
from __future__ import annotations

import json
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "studies" / "results" / "speed-ratio" / "results.json"


def test_the_docs_show_the_committed_measurement(published):
    module, results, block = published("studies/speed_ratio.py", "speed-ratio")
    assert block.strip() == module.markdown(results).strip()
    seeds = [run["seed"] for run in results["runs"]]
    assert len(set(seeds)) == len(seeds) >= 3
    for run in results["runs"]:
        assert run["recipe"]["seed"] == run["seed"]
        assert {**run["recipe"], "seed": 0} == {**results["runs"][0]["recipe"], "seed": 0}  # like with like
        assert set(run["order"]) == {"reference", *(key.split("/")[1] for key in run["ratios"])}
        for key, ratio in run["ratios"].items():
            loop = key.split("/")[1]
            assert ratio == pytest.approx(run["reference"]["time_s"] / run[loop]["time_s"])


def test_the_amd_epyc_bf16_speedup_quoted_in_the_training_docs_is_the_files():
    runs = json.loads((RESULTS.parents[1] / "amd-epyc" / "speed-ratio" / "results.json").read_text())["runs"]
    speedups = [run["engine"]["time_s"] / run["engine-bf16"]["time_s"] for run in runs]
    assert len(speedups) == 3 and f"{min(speedups):.1f}" == "1.6" and f"{max(speedups):.1f}" == "2.0"
    assert "1.6x to 2.0x faster than float32 over three seeds" in (ROOT / "docs" / "training.md").read_text()
