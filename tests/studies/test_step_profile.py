"""The CPU step profile in docs/studies.md is the committed result file's, rendered by the script that
measured it, and the numbers in it are consistent with the runs it records."""
from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "studies" / "results" / "step-profile" / "results.json"


def test_the_docs_show_the_committed_profile(published):
    module, results, block = published("studies/step_profile.py", "step-profile")
    assert block.strip() == module.docs_table(results).strip()
    assert [row["model"] for row in results["rows"]] == list(module.MODELS)
    for row in results["rows"]:
        runs = row["runs"]
        assert len(runs["glibc_default"]) == len(runs["kept"]) >= 3
        assert row["engine_s"] == statistics.median(run["pool_first_s"] for run in runs["kept"])
        assert row["speedup"] == pytest.approx(row["notebook_order_s"] / row["engine_s"])
        assert row["fraction_of_ceiling"] == pytest.approx(row["train_gflop_per_step"] / row["engine_s"] / row["ceiling_gflops"])
        assert all(run["keep_freed_memory"] for run in runs["kept"])


@pytest.mark.skipif(not RESULTS.exists(), reason="no step profile committed yet")
def test_the_training_docs_claims_about_page_faults_are_measured():
    """docs/training.md says glibc's defaults cost thousands of page faults per step, which kept memory avoids."""
    rows = json.loads(RESULTS.read_text())["rows"]
    assert "thousands of page faults per step" in " ".join((ROOT / "docs" / "training.md").read_text().split())
    assert min(row["faults_per_step"]["glibc_default"] for row in rows) >= 1000
    assert max(row["faults_per_step"]["kept"] for row in rows) < 100
