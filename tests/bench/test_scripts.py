"""The measurement scripts of this session's results, on tiny settings: what they write is what they measured."""
from __future__ import annotations

import json
import math

import pytest

from mmzoo.train.recipes import get_recipe


def _published(script) -> dict:
    """The script's committed results.json, or a skip where this checkout has none."""
    path = script.OUT / "results.json"
    if not path.is_file():
        pytest.skip(f"no published result under {script.OUT} in this checkout")
    return json.loads(path.read_text())


def test_the_input_blind_baseline_is_the_mean_prediction(repo_script):
    script = repo_script("benchmarks/baselines.py")
    cubes, shapes = script.input_blind("zoo-cubes"), script.input_blind("zoo-shapes")
    assert shapes["accuracy"] == 0.5 and shapes["loss"] == pytest.approx(math.log(2), abs=1e-6)
    # MSE of the training means on the validation frames: each coordinate's variance plus its squared offset
    assert cubes["mse"] == pytest.approx(cubes["loss"]) and cubes["position_error"] > 0
    published = json.loads((script.RESULTS).read_text()) if script.RESULTS.is_file() else None
    if published is not None:
        assert published["zoo-cubes"]["position_error"] == pytest.approx(cubes["position_error"], rel=1e-6)
        assert published["zoo-shapes"]["accuracy"] == shapes["accuracy"]


def test_course_baselines_read_the_last_and_the_best_epoch(repo_script):
    script = repo_script("benchmarks/course_baselines.py")
    history = [{"train_loss": 6.0, "val_loss": 6.5}, {"train_loss": 2.0, "val_loss": 5.5}, {"train_loss": 0.5, "val_loss": 8.1}]
    row = {"val_mse": 5.5, "best_epoch": 2, "history": history, "recipe_fields": {"train_frames": 64}, "device": "cpu"}
    numbers = script.from_row(row)
    assert (numbers["best_val_mse"], numbers["best_epoch"]) == (5.5, 2)
    assert (numbers["final_train_mse"], numbers["final_val_mse"], numbers["epochs"]) == (0.5, 8.1, 3)


def test_course_baselines_colour_blind_beats_input_blind(repo_script, monkeypatch):
    script = repo_script("benchmarks/course_baselines.py")
    monkeypatch.setattr(script, "get_recipe", lambda name, **kw: get_recipe(name, **{**kw, "val_frames": 32}))
    sticks = script.yardsticks(train_frames=64)
    # knowing where the three cubes are, without their colours, is worth something but not everything
    assert 0 < sticks["colour_blind_mse"] < sticks["input_blind_mse"]


def test_the_published_course_baselines_are_the_rows(repo_script):
    script = repo_script("benchmarks/course_baselines.py")
    result = _published(script)
    for table in result["tables"]:
        for model, numbers in table["rows"].items():
            row = json.loads(next((script.RESULTS / table["table"] / "rows").glob(f"{model}--*.json")).read_text())
            assert numbers == script.from_row(row)
    assert script.render(result) == (script.OUT / "results.md").read_text()
    doc = (script.RESULTS.parents[1] / "docs" / "data.md").read_text()
    for line in (script.OUT / "results.md").read_text().splitlines():
        assert line in doc, f"docs/data.md lacks {line!r}"


def test_exact_recipe_counts_the_seeds_that_left_ln2(repo_script, tmp_path):
    script = repo_script("benchmarks/exact_recipe.py")
    stuck, learned = [0.6932] * 20, [0.693, 0.66, 0.4] + [0.1] * 17
    runs = [{"model": "intermediate_add", "seed": seed, "val_loss": curve, "best_val_loss": min(curve),
             "best_val_accuracy": 0.5 if curve is stuck else 0.97, "device": "cpu", "torch": "x"}
            for seed, curve in ((51, stuck), (52, learned), (53, learned))]
    (net,) = script.summarise(runs)
    assert net["left_at_epoch"] == [None, 3, 3] and net["seeds"] == [51, 52, 53]
    assert net["accuracy_mean"] == pytest.approx((0.5 + 0.97 * 2) / 3)
    line = next(line for line in script.render([net], "cpu").splitlines() if "intermediate_add" in line)
    assert "| 0.693 / 0.500 (-) |" in line and "| 2 of 3 | -, 3, 3 |" in line
    script.plot(runs, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_the_published_exact_recipe_comparison_is_the_rows(repo_script):
    script = repo_script("benchmarks/exact_recipe.py")
    published = script.OUT / "results.md"
    if not published.is_file():
        pytest.skip("no published exact-recipe comparison in this checkout")
    runs = script.load_runs()
    machine = "; ".join(sorted({f"{run['device']}, torch {run['torch']}" for run in runs}))
    assert script.render(script.summarise(runs), machine) == published.read_text()
    doc = (script.RESULTS.parents[1] / "docs" / "benchmarks.md").read_text()
    for line in published.read_text().splitlines():
        assert line in doc, f"docs/benchmarks.md lacks {line!r}"
    figure = script.RESULTS.parents[1] / "docs" / "exact-recipe.png"
    assert figure.read_bytes() == (script.OUT / "curves.png").read_bytes()


def test_run_tables_takes_a_shard_as_rank_over_world(repo_script):
    import argparse

    script = repo_script("benchmarks/run_tables.py")
    assert script._shard("1/2") == (1, 2)
    for bad in ("2/2", "1", "a/b", "-1/2"):
        with pytest.raises(argparse.ArgumentTypeError, match="--shard"):
            script._shard(bad)
