"""docs/studies.md's summary table quotes each study's committed result file."""
from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "studies" / "results"
PAGE = ROOT / "docs" / "studies.md"


def _result(name: str) -> dict:
    return json.loads((RESULTS / name / "results.json").read_text())


def _row(question: str) -> str:
    """The summary table's line that asks ``question``."""
    return next(line for line in PAGE.read_text().splitlines() if line.startswith(f"| {question}"))


def test_the_summary_quotes_the_speed_ratio_and_the_bf16_speedups():
    ratio = _result("speed-ratio")
    machine = ratio["machine"]
    line = _row("How much faster is the engine than the notebooks' loop?")
    assert f"{ratio['median_ratios']['reference/engine-fp32']:.2f}x" in line
    assert f"{machine['threads']}-core {machine['cpu'].replace('(R)', '').replace(' Processor', '')}" in line
    amd = json.loads((RESULTS / "amd-epyc" / "speed-ratio" / "results.json").read_text())["runs"]
    speedups = sorted(run["engine"]["time_s"] / run["engine-bf16"]["time_s"] for run in amd)
    line = _row("Is bf16 faster on a CPU?")
    assert f"AMD EPYC {speedups[0]:.1f}x to {speedups[-1]:.1f}x" in line
    assert ratio["median_ratios"]["reference/engine-bf16"] < ratio["median_ratios"]["reference/engine-fp32"]
    assert "Intel Xeon slower" in line


def test_the_summary_quotes_parity_many_runs_and_import_time():
    parity = _result("precision-parity")["models"]
    holds = [model for model in parity if model["holds"]]
    assert len(holds) == len(parity) == 8
    assert "all eight assignment networks" in _row("Does bf16 train as accurately as float32?")
    assert f"({_result('many-runs')['speedup']:.2f}x)" in _row("Does training K seeds at once pay on a CPU?")
    assert f"{_result('import-time')['mmzoo_over_torch_s']:.2f} s more" in _row("How long does `import mmzoo` take?")
