"""docs/finetune.md runs start to finish, as a newcomer would follow it: every Python block and every command, in
order, in one empty folder; and its benchmark section is the committed result file."""
from __future__ import annotations

import csv
import json
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "finetune.md"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
RESULT = ROOT / "benchmarks" / "results" / "finetune" / "results.md"


@pytest.mark.slow
def test_the_tutorial_runs_in_order_in_an_empty_folder(tmp_path, monkeypatch, capsys):
    from mmzoo.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    namespace = {"__name__": "__main__"}
    ran = []
    tutorial = PAGE.read_text().split("## Does the pretrained start help?")[0]  # the benchmark is tested below
    for language, body in FENCE.findall(tutorial):
        if language == "python":
            exec(compile(body, f"<{PAGE.name} block {len(ran) + 1}>", "exec"), namespace)
            ran.append("python")
        elif language == "bash":
            for line in body.splitlines():
                if line.strip():
                    assert main(shlex.split(line)[1:]) == 0, line
                    ran.append(line.split()[1])
    assert ran == ["python", "train", "predict", "evaluate", "python", "python"]
    monkeypatch.chdir(tmp_path)
    rows = list(csv.DictReader(open("predictions.csv")))
    assert len(rows) == 40 and {r["prediction"] for r in rows} <= {"cube", "sphere", "torus"}
    report = capsys.readouterr().out
    accuracy = float(re.search(r"samples 40\s+accuracy ([\d.]+)", report).group(1))
    assert accuracy >= 0.9, report  # the tutorial's model is worth using: cube, sphere and torus told apart
    assert Path("confusion.png").is_file() and json.loads(Path("my_model/config.json").read_text())["data_config"]
    assert namespace["probabilities"].argmax() == 0  # scene237, a cube, predicted a cube elsewhere


def test_the_benchmark_section_is_the_result_file():
    text = PAGE.read_text()
    section = text.split("<!-- finetune-benchmark:start -->\n")[1].split("<!-- finetune-benchmark:end -->")[0]
    assert RESULT.read_text().strip() in section


@pytest.mark.slow
def test_the_benchmark_script_runs_a_tiny_task(tmp_path, repo_script):
    """benchmarks/finetune.py end to end on 64 training samples, 2 steps, one seed: every start, resumable."""
    module = repo_script("benchmarks/finetune.py")
    args = ["--out", str(tmp_path / "out"), "--work", str(tmp_path / "work"), "--steps", "2", "--seeds", "51",
            "--samples", "64", "16", "16"]
    module.main(args)
    runs = [json.loads(line) for line in (tmp_path / "out" / "runs.jsonl").read_text().splitlines()]
    assert [r["start"] for r in runs] == list(module.STARTS) and all(r["steps"] == 2 for r in runs)
    labels = (tmp_path / "work" / "task" / "labels.csv").read_text().splitlines()
    assert labels[0] == "id,label,split" and len(labels) == 97
    module.main(args)  # everything finished: nothing runs again
    assert len((tmp_path / "out" / "runs.jsonl").read_text().splitlines()) == 3
    summary = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [row["start"] for row in summary["rows"]] == list(module.STARTS)
    assert "| shapes_v1 | 2 | 51 |" in (tmp_path / "out" / "results.md").read_text()
