"""The robustness table: every column for a tiny model, MultiBench's formulas, the files, the command, the docs."""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from mmzoo.bench.robustness import (
    CLEAN,
    CSV_COLUMNS,
    evaluate_robustness,
    load_subject,
    summarize_robustness,
    write_robustness_reports,
)
from mmzoo.cli import main

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "robustness"
TINY = "late_fusion_strided.shapes_v1"  # the fastest committed weight
CORRUPTIONS = ["camera_missing", "lidar_missing", "lidar_sector"]


@pytest.fixture(scope="module")
def rows():
    subjects = [load_subject(TINY), load_subject("intermediate_cat_strided.shapes_v1")]
    return evaluate_robustness(subjects, frames=16, seed=1, corruptions=CORRUPTIONS)


def test_one_row_per_model_corruption_and_severity(rows):
    assert len(rows) == 2 * (1 + len(CORRUPTIONS) * 5)
    for row in rows:
        assert {"model", "corruption", "severity", "accuracy", "loss", "frames", "seed"} <= set(row)
    clean = [r for r in rows if r["corruption"] == CLEAN]
    assert {r["severity"] for r in clean} == {0} and len(clean) == 2
    lost = next(r for r in rows if r["corruption"] == "lidar_missing" and r["severity"] == 5 and r["model"] == TINY)
    assert lost["level"] == "1.0" and lost["modality"] == "lidar"


def test_summary_has_every_column_and_the_multibench_formulas(rows):
    summary = summarize_robustness(rows, baseline=TINY)
    for entry in summary:
        for key in ("clean", "mean_corrupted", "relative_robustness", "effective_robustness"):
            assert entry[key] is not None, key
        for name in CORRUPTIONS:
            for key in (name, f"{name}@5", f"relative_{name}", f"effective_{name}"):
                assert entry[key] is not None, key
    other = next(e for e in summary if e["model"] != TINY)
    curve = [other["clean"]] + [
        next(r["accuracy"] for r in rows if r["model"] == other["model"] and r["corruption"] == "lidar_sector"
             and r["severity"] == s) for s in range(1, 6)
    ]
    area = sum((a + b) / 2 * 0.2 for a, b in zip(curve, curve[1:]))  # trapezoid over noise level s / 5
    assert other["relative_lidar_sector"] == pytest.approx(area)
    assert other["lidar_sector"] == pytest.approx(sum(curve[1:]) / 5)
    base = next(e for e in summary if e["model"] == TINY)
    assert base["effective_robustness"] == pytest.approx(0.0)  # the baseline predicts itself exactly
    assert summarize_robustness(rows)[0]["effective_robustness"] is None  # no baseline, no effective robustness
    with pytest.raises(ValueError, match="baseline"):
        summarize_robustness(rows, baseline="nope")


def test_reports_hold_every_column(rows, tmp_path):
    summary = summarize_robustness(rows, baseline=TINY)
    paths = write_robustness_reports(tmp_path, rows, summary, {"frames": 16, "seed": 1, "machine": "m", "torch": "t"})
    with open(paths["csv"]) as handle:
        table = list(csv.DictReader(handle))
    assert tuple(table[0]) == CSV_COLUMNS and len(table) == len(rows)
    data = json.loads(paths["json"].read_text())
    assert data["summary"] == json.loads(json.dumps(summary)) and data["levels"]["lidar_sector"][4] == "0.5"
    text = paths["md"].read_text()
    assert TINY in text and "relative robustness" in text and "lidar_sector" in text
    assert "png" not in paths or paths["png"].stat().st_size > 1000


def test_frames_the_model_was_trained_on_are_refused():
    with pytest.raises(ValueError, match="another seed"):
        evaluate_robustness([load_subject(TINY)], frames=4, seed=0, corruptions=["camera_dark"])


def test_command_and_run_folder(tmp_path):
    from mmzoo.train import EngineOptions, fit, get_recipe

    run = tmp_path / "run"
    recipe = get_recipe("assignment", train_frames=32, val_frames=16, epochs=1)
    fit("late_fusion_strided", recipe, run_dir=run, options=EngineOptions(progress=False, device="cpu"),
        lidar_scale=0.02)
    out = tmp_path / "out"
    code = main(["robustness", TINY, "--run-dir", str(run), "--frames", "8", "--corruptions", "lidar_missing",
                 "--out", str(out), "--quiet"])
    assert code == 0
    models = {row["model"] for row in json.loads((out / "results.json").read_text())["rows"]}
    assert models == {TINY, "late_fusion_strided@run"}


def _doc_rows(text: str, occurrence: int = 0) -> dict[str, list[str]]:
    """model -> cells of its ``occurrence``-th Markdown table row (0: the headline table, 1: per corruption)."""
    found: dict[str, list[list[str]]] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and re.fullmatch(r"[a-z_]+\.\w+", cells[0]):
            found.setdefault(cells[0], []).append(cells)
    return {model: rows[occurrence] for model, rows in found.items() if len(rows) > occurrence}


def test_numbers_in_the_docs_are_the_published_results():
    doc = ROOT / "docs" / "robustness.md"
    if not (RESULTS / "results.json").is_file() or not doc.is_file():
        pytest.skip("the published robustness results or docs/robustness.md are not in this checkout")
    summary = json.loads((RESULTS / "results.json").read_text())["summary"]
    published = _doc_rows(doc.read_text())
    assert set(published) == {e["model"] for e in summary}
    for entry in summary:
        cells = published[entry["model"]]
        expected = [entry["clean"], entry["mean_corrupted"], entry["camera_missing@5"], entry["lidar_missing@5"],
                    entry["relative_robustness"]]
        assert [float(c) for c in cells[2:7]] == pytest.approx(expected, abs=5e-4), entry["model"]
        if entry["effective_robustness"] is not None:
            assert float(cells[7]) == pytest.approx(entry["effective_robustness"], abs=5e-5)


def test_the_script_runs_the_command_with_the_published_settings(repo_script):
    script = repo_script("benchmarks/robustness.py")
    args = script.parse_args([])
    argv = script.table_argv(args, args.out)
    assert argv[0] == "robustness" and Path(args.out) == RESULTS
    if (RESULTS / "results.json").is_file():
        settings = json.loads((RESULTS / "results.json").read_text())["settings"]
        assert (settings["frames"], settings["seed"]) == (args.frames, args.seed)


def test_per_corruption_numbers_levels_and_plot_in_the_docs_are_the_published_ones():
    doc = ROOT / "docs" / "robustness.md"
    if not (RESULTS / "results.json").is_file() or not doc.is_file():
        pytest.skip("the published robustness results or docs/robustness.md are not in this checkout")
    from mmzoo.data.corruptions import corruption_table

    data = json.loads((RESULTS / "results.json").read_text())
    names = data["settings"]["corruptions"]
    per_corruption = _doc_rows(doc.read_text(), occurrence=1)
    for entry in data["summary"]:
        cells = per_corruption[entry["model"]]
        assert [float(c) for c in cells[1:]] == pytest.approx([entry[n] for n in names], abs=5e-4), entry["model"]
    levels = {}
    for line in doc.read_text().splitlines():
        match = re.match(r"\| `(\w+)` \|", line)
        if match:
            levels[match.group(1)] = [c.strip() for c in line.strip().strip("|").split("|")][-5:]
    for row in corruption_table():
        flat = [" / ".join(str(v) for v in level) if isinstance(level, tuple) else str(level) for level in row["levels"]]
        assert levels[row["name"]] == flat, row["name"]
    assert (ROOT / "docs" / "robustness.png").read_bytes() == (RESULTS / "robustness.png").read_bytes()


def test_the_dropout_comparison_merges_its_shards_into_mean_and_spread(repo_script, tmp_path, monkeypatch):
    import statistics

    script = repo_script("benchmarks/robustness.py")
    tiny = ("train_frames=64", "val_frames=32", "epochs=1")
    monkeypatch.setitem(script.BUDGETS, "zoo", ("dropout-comparison-zoo", tiny, "The tiny budget"))
    base = ["--dropout-comparison", "--models", "late_fusion_strided", "--seeds", "51", "52", "--out", str(tmp_path),
            "--frames", "4", "--threads", "1", "--budget", "zoo", "--dropout", "0.25", "1.0"]
    with pytest.raises(SystemExit, match="not evaluated yet"):
        script.dropout_comparison(script.parse_args([*base, "--report"]))
    for shard in ("1/2", "0/2"):
        assert script.dropout_comparison(script.parse_args([*base, "--shard", shard])) == 0
    out = tmp_path / "dropout-comparison-zoo"  # the budget's own folder
    baseline = out / "runs" / "late_fusion_strided-md1-s52"  # any finished run serves to test the mechanics
    assert script.dropout_comparison(script.parse_args([*base, "--report"])) == 0
    assert "(baseline" not in (out / "comparison.md").read_text()
    assert script.dropout_comparison(script.parse_args([*base, "--shard", "0/2", "--baseline-runs",
                                                        str(baseline)])) == 0
    assert script.dropout_comparison(script.parse_args([*base, "--report"])) == 0
    shown = json.loads((out / "baselines" / "results.json").read_text())["summary"][0]
    assert f"| late_fusion_strided (baseline, run late_fusion_strided-md1-s52) | - | 1 | {shown['clean']:.3f} |" in (
        out / "comparison.md").read_text()
    trained = {json.loads((run / "history.json").read_text())["identity"]["recipe"]["train_frames"]
               for run in (out / "runs").iterdir()}
    assert trained == {64}  # every run trained at the budget asked for
    summary = {}
    for path in out.glob("eval-*/results.json"):
        summary.update({e["model"]: e for e in json.loads(path.read_text())["summary"]})
    groups = [g for g in json.loads((out / "comparison.json").read_text())["groups"] if "baseline_run" not in g]
    assert [(g["model"], g["modality_dropout"], g["seeds"]) for g in groups] == [
        ("late_fusion_strided", 0.0, 2), ("late_fusion_strided", 0.25, 2), ("late_fusion_strided", 1.0, 2)]
    for group in groups:
        tag = f"md{group['modality_dropout']:g}"
        entries = [summary[f"late_fusion_strided@late_fusion_strided-{tag}-s{seed}"] for seed in (51, 52)]
        for column in script.COLUMNS:
            values = [e[column] for e in entries]
            assert group[column] == pytest.approx([statistics.fmean(values), statistics.stdev(values)])
    assert "| late_fusion_strided | 0.25 | 2 |" in (out / "comparison.md").read_text()
    assert "The tiny budget (train_frames=64, val_frames=32, epochs=1)" in (out / "comparison.md").read_text()


def test_the_dropout_comparison_in_the_docs_is_the_published_one(repo_script):
    comparison = RESULTS / "dropout-comparison" / "comparison.md"
    doc = ROOT / "docs" / "robustness.md"
    if not comparison.is_file() or not doc.is_file():
        pytest.skip("the dropout comparison or docs/robustness.md is not in this checkout")
    text = doc.read_text()
    for line in comparison.read_text().splitlines():
        assert line in text, f"docs/robustness.md lacks the comparison line {line!r}"
    groups = json.loads((RESULTS / "dropout-comparison" / "comparison.json").read_text())["groups"]
    assert len({g["model"] for g in groups}) >= 6 and all(g["seeds"] >= 3 for g in groups)
    # the script reproduces the published networks
    assert {g["model"] for g in groups} == set(repo_script("benchmarks/robustness.py").COMPARED)
    # every "`model` with|without dropout: column mean" quoted in the findings is a group's number
    for model, setting, column, value in re.findall(
            r"`(\w+)` (with|without) dropout[^`\n]*?(clean|camera_missing@5|lidar_missing@5|mean_corrupted) (\d\.\d{3})",
            text):
        dropout = 0.0 if setting == "without" else 0.25
        (group,) = [g for g in groups if g["model"] == model and g["modality_dropout"] == dropout]
        assert f"{group[column][0]:.3f}" == value, (model, setting, column)


def test_the_dropout_comparison_at_1000_steps_in_the_docs_is_the_published_one():
    comparison = RESULTS / "dropout-comparison-1000-steps" / "comparison.md"
    doc = ROOT / "docs" / "robustness.md"
    if not comparison.is_file() or not doc.is_file():
        pytest.skip("the 1000-step dropout comparison or docs/robustness.md is not in this checkout")
    published, text = comparison.read_text(), doc.read_text()
    for line in published.splitlines():
        assert line in text, f"docs/robustness.md lacks the comparison line {line!r}"
    section = text.split("### Surviving a lost LiDAR", 1)[1].split("\n#", 1)[0]
    for number in re.findall(r"\b\d\.\d{3}\b", section):  # every figure the section quotes is in the table
        assert number in published, number


def test_the_findings_quote_the_published_extremes():
    """The findings' ranges and leaders are the published results' own minima, maxima and best rows."""
    doc = ROOT / "docs" / "robustness.md"
    if not (RESULTS / "results.json").is_file() or not doc.is_file():
        pytest.skip("the published robustness results or docs/robustness.md are not in this checkout")
    summary = json.loads((RESULTS / "results.json").read_text())["summary"]
    text = " ".join(doc.read_text().split())

    def span(column: str) -> str:
        values = [entry[column] for entry in summary]
        return f"{min(values):.3f} to {max(values):.3f}"

    assert f"`misalign_shift` (up to 8 pixels) keeps {span('misalign_shift')}" in text
    assert f"`misalign_rotation` (up to 8 degrees) {span('misalign_rotation')}" in text
    assert f"`camera_noise` from {span('camera_noise')}" in text
    best = max(summary, key=lambda entry: entry["mean_corrupted"])
    assert best["model"] == "transfuser_tiny.shapes_v1"
    assert (f"highest mean corrupted accuracy ({best['mean_corrupted']:.3f}), relative robustness "
            f"({best['relative_robustness']:.3f}) and effective robustness ({best['effective_robustness']:.4f})") in text
    below = [entry for entry in summary if (entry["effective_robustness"] or 0) < 0]
    assert [entry["model"] for entry in below] == ["mmtm.shapes_v1"]
    assert f"MMTM ({below[0]['effective_robustness']:.4f}) is the only network below late fusion" in text
