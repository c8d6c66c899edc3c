"""The plateau study's reading of the harness's per-epoch histories: N against 2N steps within the seeds' spread."""
from __future__ import annotations

import json

import pytest


def _row(model: str, seed: int, accuracies: list[float], losses: list[float] | None = None) -> dict:
    losses = losses or [1.0 - a for a in accuracies]
    history = [{"epoch": i + 1, "val_loss": loss, "val_accuracy": acc, "train_time_s": 1.0, "eval_time_s": 0.1}
               for i, (acc, loss) in enumerate(zip(accuracies, losses))]
    recipe = {"train_frames": 320, "batch_size": 32, "val_frames": 100, "epochs": len(accuracies)}
    return {"model": model, "seed": seed, "history": history, "recipe_fields": recipe, "device": "test CPU"}


def test_the_selected_figure_is_the_best_validation_loss_so_far(repo_script):
    study = repo_script("benchmarks/zoo_plateau.py")
    row = _row("m", 51, [0.6, 0.9, 0.7, 0.95], losses=[0.5, 0.2, 0.3, 0.1])
    assert study.selected_curve(row["history"], "val_accuracy") == [0.6, 0.9, 0.9, 0.95]


def test_the_study_reports_the_cheapest_budget_all_agree_on(repo_script, tmp_path):
    study = repo_script("benchmarks/zoo_plateau.py")
    spec = study.Study("t", "assignment", (), "val_accuracy", True)
    flat = [0.70, 0.80, 0.90, 0.965, 0.97, 0.97, 0.97, 0.97]  # 4 -> 8 epochs: +0.005, within the 0.01 spread
    late = [0.50, 0.50, 0.50, 0.60, 0.70, 0.80, 0.90, 0.99]  # still moving between 4 and 8 epochs
    rows = [_row("flat", s, [a + d for a in flat]) for s, d in ((51, 0.0), (52, 0.01), (53, -0.01))]
    result = study.analyse(spec, rows + [_row("late", 51, late)])
    assert result["models"]["flat"]["plateau_epochs"] == 4  # 3 -> 6 epochs moved 0.07: not yet
    assert result["models"]["late"]["plateau_epochs"] is None and result["still_improving"] == ["late"]
    assert result["chosen_epochs"] is None
    result = study.analyse(spec, rows)
    assert result["chosen_epochs"] == 4 and result["chosen_steps"] == 40
    # the single-seed network is judged by the median spread of those with several seeds
    check = study.agreement([late], 4, 0.01, borrowed=0.5)
    assert check["agrees"] and check["tolerance"] == 0.5 and check["spread"] is None

    out = tmp_path / "plateau"
    monkey = pytest.MonkeyPatch()
    monkey.setattr(study, "OUT", out)
    monkey.setattr(study, "study_rows", lambda _: rows)
    try:
        written = study.report(spec)
    finally:
        monkey.undo()
    assert json.loads((out / "t.json").read_text())["chosen_epochs"] == written["chosen_epochs"] == 4
    assert (out / "t.png").stat().st_size > 1000 and "Chosen budget: 4 epochs (40 steps)" in (out / "t.md").read_text()
