"""The studies' scripts on tiny settings, and their committed results against the pages that quote them."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mmzoo.train.recipes import get_recipe


def _published(script) -> dict:
    """The script's committed results.json, or a skip where this checkout has none."""
    path = script.OUT / "results.json"
    if not path.is_file():
        pytest.skip(f"no published result under {script.OUT} in this checkout")
    return json.loads(path.read_text())


def test_fidelity_dynamics_counts_the_runs_that_left_ln2(repo_script, tmp_path, monkeypatch):
    script = repo_script("studies/fidelity_dynamics.py")
    monkeypatch.setattr(script, "get_recipe", lambda name, **kw: get_recipe(name, train_frames=64, val_frames=32,
                                                                           epochs=2, **kw))
    for shard in ("0/2", "1/2"):  # two processes' shares write disjoint run files
        script.main(["--out", str(tmp_path), "--seeds", "51", "--shard", shard])
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs == sorted(f"{m}--{loop}--seed51.json" for m in script.MODELS for loop in script.LOOPS)
    result = json.loads((tmp_path / "results.json").read_text())
    for group in result["groups"]:
        run = json.loads((tmp_path / "runs" / f"{group['model']}--{group['loop']}--seed51.json").read_text())
        left = script.left_at(run["val_loss"])
        assert group["left_at_epoch"] == [left] and group["left_ln2"] == (left is not None)
        assert group["best_val_loss_mean"] == pytest.approx(min(run["val_loss"]))
    assert script.left_at([0.70, 0.69, 0.64, 0.2]) == 3 and script.left_at([0.693] * 20) is None
    assert (tmp_path / "results.md").read_text().count("| intermediate_") == 4
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_many_runs_times_both_ways_on_the_same_runs(repo_script, tmp_path):
    script = repo_script("studies/many_runs.py")
    out = tmp_path / "many.json"
    result = script.main(["--model", "late_fusion_strided", "--seeds", "1", "2", "--epochs", "1", "--train-frames",
                          "64", "--val-frames", "32", "--rounds", "2", "--json", str(out)])
    saved = json.loads(out.read_text())
    assert saved["speedup"] == pytest.approx(saved["median_s"]["fit one by one"] / saved["median_s"]["fit_many"])
    assert all(len(times) == 2 for times in saved["times_s"].values()) and len(saved["times_s"]) == 3
    assert saved["speedup_vs_engine_defaults"] == pytest.approx(
        saved["median_s"]["fit one by one, engine defaults"] / saved["median_s"]["fit_many"])
    assert saved["max_best_val_loss_difference"] < 1e-3, "the two ways trained the same runs"
    assert result["machine"] and result["seeds"] == [1, 2]


def test_the_published_many_runs_ratio_is_the_result_file(repo_script):
    script = repo_script("studies/many_runs.py")
    if not script.RESULTS.is_file():
        pytest.skip("no published many-runs result in this checkout")
    result = json.loads(script.RESULTS.read_text())
    doc = (script.RESULTS.parents[3] / "docs" / "training.md").read_text()
    assert f"measured `fit_many` at {result['speedup']:.2f}x the speed of three `fit` runs" in doc
    assert f"and at {result['speedup_vs_engine_defaults']:.2f}x three `fit` runs with the engine's defaults" in doc
    assert len(result["seeds"]) == 3 and result["model"] in doc and "(2 threads)" in result["machine"]


def test_the_published_fidelity_dynamics_are_the_runs(repo_script):
    script = repo_script("studies/fidelity_dynamics.py")
    published = script.RESULTS / "results.md"
    if not published.is_file():
        pytest.skip("no published fidelity-dynamics result in this checkout")
    runs = [json.loads(p.read_text()) for p in sorted((script.RESULTS / "runs").glob("*.json"))]
    machines, versions = "; ".join(sorted({r["machine"] for r in runs})), ", ".join(sorted({r["torch"] for r in runs}))
    assert script.render(script.summarise(runs), machines, versions) == published.read_text()
    doc = (script.RESULTS.parents[2] / "docs" / "studies.md").read_text()
    for line in published.read_text().splitlines():
        assert line in doc, f"docs/studies.md lacks {line!r}"


def test_frame_properties_change_one_property_and_count_the_runs(repo_script, tmp_path, monkeypatch):
    script = repo_script("studies/frame_properties.py")
    monkeypatch.setattr(script, "get_recipe", lambda name, **kw: get_recipe(name, train_frames=64, val_frames=32, **kw))
    recipe = script.get_recipe("assignment")
    frames = script.recipe_frames(recipe)
    tensors = script.recipe_tensors(recipe, frames=frames)
    train, train_frames = tensors[0], frames[0]
    generated = script.recipe_tensors(recipe)[0]  # the frames given are the recipe's own: the same tensors
    assert torch.equal(train.rgb, generated.rgb) and torch.equal(train.lidar, generated.lidar)
    blank = script.camera_blank(train, train_frames)
    assert blank.rgb[:, :3].max() == 0 and torch.equal(blank.rgb[:, 3], train.rgb[:, 3])
    origin = script.no_return_at_origin(train, train_frames)
    misses = train.lidar[:, 3] == 0
    assert origin.lidar[:, :3].permute(1, 0, 2, 3)[:, misses].abs().max() == 0
    assert torch.equal(origin.lidar[:, :3].permute(1, 0, 2, 3)[:, ~misses], train.lidar[:, :3].permute(1, 0, 2, 3)[:, ~misses])
    shifted = script.sphere_angles_shifted(train, train_frames)
    cubes = torch.as_tensor(train_frames.labels == 0)
    assert torch.equal(shifted.lidar[cubes], train.lidar[cubes]) and not torch.equal(shifted.lidar[~cubes], train.lidar[~cubes])
    assert torch.equal(shifted.lidar[:, 3], train.lidar[:, 3])  # the same beams hit: only the angles moved
    script.main(["--out", str(tmp_path), "--seeds", "51", "--epochs", "2", "--variants", "camera_blank"])
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs == [f"camera_blank--{m}--seed51.json" for m in script.MODELS]
    run = json.loads((tmp_path / "runs" / runs[0]).read_text())
    assert len(run["val_loss"]) == 2  # stopped after the first epochs, on the full recipe's schedule
    result = json.loads((tmp_path / "results.json").read_text())
    assert result["frame_statistics"]["frames"] == 96 and result["frame_statistics"]["no_return_value"] == 50.0
    assert "| camera_blank | `intermediate_add` | 51 |" in (tmp_path / "results.md").read_text()


def test_cube_pixels_are_counted_by_colour(repo_script):
    script = repo_script("studies/cube_properties.py")
    rgb = np.zeros((2, 8, 8, 3), dtype=np.float32)
    rgb[0, :2, :2, 0] = 0.5         # a lit red face: 4 pixels
    rgb[0, 4, 4, 0] = 0.02          # the red cube's unlit side (ambient only): 1 pixel
    rgb[0, 6, 6] = (0.5, 0.5, 0.0)  # a mixed pixel names no cube
    rgb[1, 0, 0, 2] = 0.3           # frame 2: one lit blue pixel, no red or green
    counts = script.cube_pixels(rgb)
    assert counts["red_silhouette"].tolist() == [5, 0] and counts["red_lit"].tolist() == [4, 0]
    assert counts["green_silhouette"].tolist() == [0, 0] and counts["blue_lit"].tolist() == [0, 1]


def test_the_published_cube_properties_are_rendered_and_in_the_docs(repo_script):
    script = repo_script("studies/cube_properties.py")
    markdown = script.render(_published(script))
    assert markdown == (script.OUT / "results.md").read_text()
    doc = (script.OUT.parents[2] / "docs" / "data.md").read_text()
    for line in markdown.splitlines():
        assert line in doc, f"docs/data.md lacks {line!r}"


def test_the_published_frame_properties_are_the_runs(repo_script):
    script = repo_script("studies/frame_properties.py")
    result = _published(script)
    runs = script.assignment_rows() + [json.loads(p.read_text()) for p in sorted((script.OUT / "runs").glob("*.json"))]
    assert result["groups"] == script.summarise(runs, result["epochs"])
    markdown = script.render(result["frame_statistics"], result["groups"], result["epochs"], result["machine"])
    assert markdown == (script.OUT / "results.md").read_text()
    doc = (script.RESULTS.parents[1] / "docs" / "data.md").read_text()
    for line in markdown.splitlines():
        assert line in doc, f"docs/data.md lacks {line!r}"


def test_token_fusion_init_trains_both_forms_and_resumes(repo_script, tmp_path):
    script = repo_script("studies/token_fusion_init.py")
    recipe = get_recipe("assignment", seed=51)
    old = script.legacy_form(mmzoo_model("intermediate_tokens", recipe), "whole_output")
    unscaled = script.legacy_form(mmzoo_model("intermediate_tokens", recipe), "update")
    new = mmzoo_model("intermediate_tokens", recipe)
    r, l = torch.rand(2, 100, 16, 16), torch.rand(2, 100, 16, 16)
    assert torch.equal(new.fusion.exchange(r, l)[0], r), "the update form starts as the identity"
    pooled = torch.nn.functional.avg_pool2d(r, 4)
    assert (old.fusion.exchange(r, l)[0] - r).abs().mean() > pooled.abs().mean() / 2, "the old form adds the tokens"
    for model in (new, unscaled):
        torch.nn.init.normal_(model.fusion.transformer.layers[0].linear2.weight, std=0.5)
    small = [model.fusion.exchange(r, l / 1000)[1] - l / 1000 for model in (new, unscaled)]
    assert small[0].abs().max() < 1e-2 < small[1].abs().max(), "only mmzoo's form scales the update to its branch"
    tiny = ["--seeds", "51", "--epochs", "1", "--train-frames", "64", "--val-frames", "32", "--out", str(tmp_path)]
    first = script.main(tiny)
    assert [(run["form"], run["seed"]) for run in first["runs"]] == [(f, 51) for f in script.FORMS]
    assert all(len(run["val_accuracy"]) == 1 for run in first["runs"])
    again = script.main(tiny[:1] + ["51", "52"] + tiny[2:])  # resumes: seed 51 is kept, seed 52 is added
    assert again["runs"][:4] == first["runs"] and len(again["runs"]) == 8
    assert sum(again["left_chance"].values()) == sum(run["left_chance"] for run in again["runs"])


def mmzoo_model(name, recipe):
    from mmzoo.train import build_model

    return build_model(name, recipe, 1, lidar_scale=0.02)


def test_the_published_token_fusion_study_is_what_the_docs_say(repo_script):
    script = repo_script("studies/token_fusion_init.py")
    result = _published(script)
    runs = {form: [run for run in result["runs"] if run["form"] == form] for form in script.FORMS}
    assert all(len(r) == 5 for r in runs.values()) and result["settings"]["epochs"] == 4
    counts = {form: sum(run["left_chance"] for run in r) for form, r in runs.items()}
    assert counts == result["left_chance"]
    last = {form: sum(run["val_accuracy"][-1] for run in r) / 5 for form, r in runs.items()}
    assert counts["scaled_update"] == 5, "mmzoo's form leaves chance on every seed"
    assert last["scaled_update"] > max(last["update"], last["whole_output"]), "and learns fastest of the three forms"
    doc = (script.OUT.parents[2] / "docs" / "studies.md").read_text()
    for form, count in counts.items():
        assert f"`{form}` {count} of 5 ({last[form]:.3f})" in doc
    assert (script.OUT / "results.md").read_text() == script.markdown(result)
    summary = next(line for line in doc.splitlines() if line.startswith("| Why does `tokens` fusion"))
    assert f"at chance on {5 - counts['whole_output']} of 5 short runs" in summary
    assert f"{last['scaled_update']:.2f} against addition's {last['addition']:.2f}" in summary
