"""The inference benchmark script runs, and docs/deploy.md shows exactly the committed result file's table."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime", reason="the inference benchmark needs the export extra: pip install 'mmzoo[export]'")
pytest.importorskip("onnxscript", reason="the inference benchmark needs the export extra: pip install 'mmzoo[export]'")

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "inference" / "results.json"


def test_the_script_writes_rows_and_the_machine(tmp_path, repo_script):
    repo_script("benchmarks/inference_speed.py").main(["--models", "late_fusion", "--repeats", "2", "--batch", "4", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "results.json").read_text())
    assert [r["runtime"] for r in result["rows"]] == ["pytorch eager", "onnxruntime"]
    assert all(r["latency_ms_min"] <= r["latency_ms"] <= r["latency_ms_max"] for r in result["rows"])
    assert result["machine"]["cpu"] and result["machine"]["torch"] and result["rows"][0]["batch"] == 4


def test_deploy_page_shows_the_committed_results(repo_script):
    script = repo_script("benchmarks/inference_speed.py")
    result = json.loads(RESULTS.read_text())
    assert {r["model"] for r in result["rows"]} == set(script.DEFAULT_MODELS)
    assert result["rows"][0]["batch"] == 256
    page = (ROOT / "docs" / "deploy.md").read_text()
    block = page.split("<!-- inference:table -->\n")[1].split("<!-- /inference:table -->")[0]
    assert block.strip() == script.markdown(result).strip()
    assert block.strip() == (RESULTS.parent / "results.md").read_text().strip()
