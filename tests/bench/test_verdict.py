"""The zoo tables' column 'beats best single modality': yes / no / worse beyond the seeds' spread."""
from __future__ import annotations

from mmzoo.bench.report import markdown_table
from mmzoo.bench.verdict import VERDICT_COLUMN, best_baseline, single_modality_verdicts, verdict


def _entry(model: str, error: float, sd: float | None) -> dict:
    return {"model": model, "variant": "", "loop": "engine", "seeds": [51, 52, 53], "params": 10,
            "val_position_error": error, "val_position_error_sd": sd}


def test_regression_lower_is_better_and_the_best_baseline_is_the_lower_one():
    summary = [_entry("rgb", 2.0, 0.1), _entry("lidar", 4.0, 0.1), _entry("good", 1.5, 0.1),
               _entry("tie", 1.9, 0.1), _entry("bad", 2.5, 0.1)]
    assert best_baseline(summary, ("rgb", "lidar"), "regression")["model"] == "rgb"
    assert single_modality_verdicts(summary, ("rgb", "lidar"), "regression") == {
        "good": "yes", "tie": "no", "bad": "worse"}


def test_the_margin_is_both_spreads_together():
    base = {"model": "b", "val_accuracy": 0.90, "val_accuracy_sd": 0.02}
    assert verdict({"model": "f", "val_accuracy": 0.93, "val_accuracy_sd": 0.02}, base, "classification") == "no"
    assert verdict({"model": "f", "val_accuracy": 0.95, "val_accuracy_sd": 0.02}, base, "classification") == "yes"


def test_one_seed_has_no_spread_to_judge_by():
    assert verdict(_entry("f", 0.1, None), _entry("b", 5.0, 0.1), "regression") == "-"


def test_no_measured_baseline_gives_no_verdicts():
    assert single_modality_verdicts([_entry("f", 1.0, 0.1)], ("rgb", "lidar"), "regression") == {}


def test_the_table_gains_the_column_only_when_asked():
    summary = [_entry("rgb", 2.0, 0.1), _entry("good", 1.5, 0.1)]
    plain = markdown_table(summary, "regression")
    judged = markdown_table(summary, "regression", single_modality_verdicts(summary, ("rgb",), "regression"))
    assert VERDICT_COLUMN not in plain
    header, _, rgb, good = judged.splitlines()[:4]
    assert header.rstrip(" |").endswith(VERDICT_COLUMN)
    assert rgb.rstrip(" |").endswith("baseline") and good.rstrip(" |").endswith("yes")
