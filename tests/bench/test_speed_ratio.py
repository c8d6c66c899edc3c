"""The side-by-side speed ratio in docs/benchmarks.md is the committed result file's, rendered by the script
that measured it; the ratios are the measured times' ratios."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "speed-ratio" / "results.json"


def script():
    spec = importlib.util.spec_from_file_location("speed_ratio", ROOT / "benchmarks" / "speed_ratio.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not RESULTS.exists(), reason="no speed-ratio result committed yet")
def test_the_docs_show_the_committed_measurement():
    results = json.loads(RESULTS.read_text())
    module = script()
    page = (ROOT / "docs" / "benchmarks.md").read_text()
    block = page[page.index(module.MARKERS[0]) + len(module.MARKERS[0]) + 1:page.index(module.MARKERS[1])]
    assert block.strip() == module.markdown(results).strip()
    for run in results["runs"]:
        assert {r["seed"] for r in results["runs"]} and run["recipe"] == results["runs"][0]["recipe"]
        for key, ratio in run["ratios"].items():
            loop = key.split("/")[1]
            assert ratio == pytest.approx(run["reference"]["time_s"] / run[loop]["time_s"])
