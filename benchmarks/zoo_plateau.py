"""The zoo recipes' plateau study: how far each network's validation figure still moves when its budget doubles.

For each task (cube vs sphere ``shapes``; three-cube positions ``cubes``) a representative subset of the zoo is
trained once for a long budget with the harness (one process per row, resumable, rows kept as they finish); the
harness records every epoch, so one long run gives the figure after N and after 2N steps. The figure after N
steps is the one the recipe's selection rule keeps (the lowest validation loss among the first N epochs' ends).
An architecture has reached its plateau at N when the mean over seeds after N and after 2N differ by no more than
the seeds' spread (the larger standard deviation of the two, and never less than one validation frame's worth of
accuracy). The zoo recipe is the cheapest N at which every measured architecture agrees; those that still improve
are named.

With a cosine schedule the figure after N steps of a 2N-step run is read before the learning rate has annealed, so
it is pessimistic for a run of N steps: agreement read off the long run is conservative.

    python benchmarks/zoo_plateau.py --task cubes --stage probe       # learning-rate probe on two cheap networks
    python benchmarks/zoo_plateau.py --task shapes                    # train the subset (resumable), then report
    python benchmarks/zoo_plateau.py --task shapes --report-only      # only rewrite the report from finished rows

Writes ``benchmarks/results/zoo-plateau/<task>/rows/`` (the harness's rows), ``<task>.json`` / ``<task>.md`` (the
agreement per architecture and budget, the chosen budget, the machine) and ``<task>.png`` (the figure against
steps and against seconds).
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any, NamedTuple

from mmzoo.bench import load_rows, run_table
from mmzoo.bench.report import save_figure
from mmzoo.bench.tables import SCALED, BenchTable
from mmzoo.utils.files import atomic_write_json, atomic_write_text

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
OUT = RESULTS / "zoo-plateau"
#: The assignment's four networks, three catalogue designs and one timm / course design.
SUBSET = ("late_fusion", "late_mlb", "course_intermediate_matmul", "intermediate_hadamard", "intermediate_add",
          "intermediate_cat", "intermediate_lmf", "mmtm")


class Study(NamedTuple):
    """One task's long runs: the recipe (``overrides`` on a built-in one), the models and the figure read."""

    task: str
    recipe: str
    overrides: tuple[str, ...]
    metric: str  # a history key
    higher_is_better: bool
    models: tuple[str, ...] = SUBSET  # in the order they train: the cheaper ones first
    seeds: tuple[int, ...] = (51, 52, 53)
    #: finished harness tables whose rows of the same recipe also count (the notebook's budget, measured before)
    extra_tables: tuple[str, ...] = ()


STUDIES = {
    # The assignment recipe at the notebook's own budget (20 epochs of 1,600 frames = 1,000 steps).
    "shapes": Study("shapes", "assignment", ("train_frames=1600", "val_frames=400", "epochs=20"),
                    "val_accuracy", True, extra_tables=("assignment-scaled",)),
    # The course recipe with Adam 1e-3 cosine-annealed (the probe's choice), 3,200 frames, 20 epochs = 2,000 steps.
    "cubes": Study("cubes", "course", ("train_frames=3200", "val_frames=320", "epochs=20", "lr=0.001",
                                       "schedule=cosine", "min_lr=1e-06"), "val_mse", False,
                   models=("late_fusion_strided", *SUBSET)),
}
#: The learning-rate probe on the three-cube positions: the course's 1e-4 constant against the assignment's schedule.
PROBE_MODELS = ("late_fusion_strided", "intermediate_cat_strided")
PROBE_RECIPES = (
    ("lr=0.0001", "schedule=constant"),
    ("lr=0.001", "schedule=cosine", "min_lr=1e-06"),
)


def _drop_harness_reports(folder: Path) -> None:
    """Remove the harness's table report of the long runs: the study's own report (``<task>.{json,md,png}``) is
    what it publishes, and the rows stay (``rows/``)."""
    for name in ("results.json", "results.csv", "results.md", "curves.png"):
        (folder / name).unlink(missing_ok=True)


def study_table(study: Study, models: tuple[str, ...], seeds: tuple[int, ...], name: str | None = None) -> BenchTable:
    """The harness table of ``study``'s long runs (its rows land in ``zoo-plateau/<task>/rows/``)."""
    return BenchTable(
        name=name or study.task, title=f"Zoo plateau study, {study.task}", caption="Long runs of the plateau study.",
        recipe=study.recipe, models=models, seeds=seeds, overrides=study.overrides, model_kwargs=dict(SCALED),
        inference=False,
    )


def selected_curve(history: list[dict[str, Any]], metric: str) -> list[float]:
    """Per epoch, ``metric`` of the epoch with the lowest validation loss so far (what ``select=val_loss`` keeps).

    >>> selected_curve([{"val_loss": 0.5, "a": 0.7}, {"val_loss": 0.6, "a": 0.8}, {"val_loss": 0.1, "a": 0.9}], "a")
    [0.7, 0.7, 0.9]
    """
    best_loss, best, curve = float("inf"), None, []
    for record in history:
        if record["val_loss"] < best_loss:
            best_loss, best = record["val_loss"], record[metric]
        curve.append(best)
    return curve


def _spread(values: list[float]) -> float | None:
    return statistics.stdev(values) if len(values) > 1 else None


def agreement(curves: list[list[float]], epochs: int, resolution: float, borrowed: float = 0.0) -> dict[str, Any]:
    """Mean and spread over seeds after ``epochs`` and after twice as many, and whether they agree. A single seed
    has no spread of its own: ``borrowed`` (the median spread of the architectures measured with several seeds at
    the same budget) stands in for it."""
    at_n = [curve[epochs - 1] for curve in curves]
    at_2n = [curve[2 * epochs - 1] for curve in curves]
    spreads = [s for s in (_spread(at_n), _spread(at_2n)) if s is not None]
    tolerance = max([*spreads, resolution] if spreads else [borrowed, resolution])
    change = statistics.fmean(at_2n) - statistics.fmean(at_n)
    return {"epochs": epochs, "mean_n": statistics.fmean(at_n), "mean_2n": statistics.fmean(at_2n),
            "spread": max(spreads) if spreads else None, "tolerance": tolerance, "change": change,
            "agrees": abs(change) <= tolerance, "seeds": len(curves)}


def study_rows(study: Study) -> list[dict[str, Any]]:
    """Every finished row of ``study``'s recipe (any seed, lidar_scale=0.02), from its folder and extra tables."""
    want = study_table(study, study.models, study.seeds)
    rows = load_rows(OUT / study.task) + [row for name in study.extra_tables for row in load_rows(RESULTS / name)]
    from mmzoo.train.recipes import get_recipe

    recipe = get_recipe(want.recipe).override(want.overrides).to_dict()
    same = lambda row: {**row["recipe_fields"], "seed": 0} == {**recipe, "seed": 0}  # noqa: E731
    seen, kept = set(), []
    for row in rows:
        key = (row["model"], row["seed"])
        if row["loop"] == "engine" and row.get("variant") == want.variant and same(row) and key not in seen:
            seen.add(key)
            kept.append(row)
    return kept


def analyse(study: Study, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Agreement per architecture and budget, and the cheapest budget at which every architecture agrees."""
    recipe = rows[0]["recipe_fields"]
    steps_per_epoch = recipe["train_frames"] // recipe["batch_size"]
    resolution = 1 / recipe["val_frames"] if study.higher_is_better else 0.0
    by_model: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_model.setdefault(row["model"], []).append(row)
    half = recipe["epochs"] // 2
    budgets = [n for n in (1, 2, 3, 4, 5, 6, 8, 10) if n <= half]
    curves_of = {model: [selected_curve(row["history"], study.metric) for row in model_rows]
                 for model, model_rows in by_model.items()}
    borrowed = {}
    for n in budgets:
        spreads = [agreement(curves, n, resolution)["spread"] for curves in curves_of.values() if len(curves) > 1]
        borrowed[n] = statistics.median(spreads) if spreads else 0.0
    models = {}
    for model, model_rows in by_model.items():
        curves = curves_of[model]
        checks = [agreement(curves, n, resolution, borrowed[n]) for n in budgets]
        plateau = next((c["epochs"] for c in checks if c["agrees"] and all(d["agrees"] for d in checks
                                                                          if d["epochs"] >= c["epochs"])), None)
        models[model] = {
            "seeds": sorted(row["seed"] for row in model_rows), "checks": checks,
            "plateau_epochs": plateau, "final_mean": statistics.fmean(c[-1] for c in curves),
            "devices": sorted({row["device"] for row in model_rows}),
        }
    reached = [m["plateau_epochs"] for m in models.values()]
    chosen = max(reached) if reached and None not in reached else None
    return {
        "task": study.task, "metric": study.metric, "recipe": {**recipe, "seed": None},
        "steps_per_epoch": steps_per_epoch, "budgets_epochs": budgets, "models": models,
        "chosen_epochs": chosen, "chosen_steps": None if chosen is None else chosen * steps_per_epoch,
        "still_improving": sorted(m for m, v in models.items() if v["plateau_epochs"] is None),
        "machines": sorted({d for v in models.values() for d in v["devices"]}),
    }


def plot(study: Study, rows: list[dict[str, Any]], path: Path) -> None:
    """The selected figure against optimiser steps and against training seconds, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (by_steps, by_time) = plt.subplots(1, 2, figsize=(12, 4.5))
    colours = {model: f"C{i % 10}" for i, model in enumerate(sorted({row["model"] for row in rows}))}
    for row in rows:
        history = row["history"]
        spe = row["recipe_fields"]["train_frames"] // row["recipe_fields"]["batch_size"]
        curve = selected_curve(history, study.metric)
        seconds, total = [], 0.0
        for record in history:
            total += record["train_time_s"] + record["eval_time_s"]
            seconds.append(total)
        label = row["model"] if row["seed"] == min(r["seed"] for r in rows if r["model"] == row["model"]) else None
        steps = [record["epoch"] * spe for record in history]
        by_steps.plot(steps, curve, color=colours[row["model"]], label=label, alpha=0.8)
        by_time.plot(seconds, curve, color=colours[row["model"]], alpha=0.8)
    name = {"val_accuracy": "validation accuracy (selected epoch)", "val_mse": "validation MSE (selected epoch)"}
    for axis, xlabel in ((by_steps, "optimiser steps (batch 32)"), (by_time, "training + validation seconds")):
        axis.set_xlabel(xlabel)
        axis.set_ylabel(name[study.metric])
        axis.grid(alpha=0.3)
        if study.metric == "val_mse":
            axis.set_yscale("log")
    machines = ", ".join(sorted({row["device"] for row in rows}))
    by_time.set_title(f"seconds on {machines}", fontsize=9)
    by_steps.legend(fontsize=7)
    save_figure(fig, path, dpi=110)


def markdown(result: dict[str, Any]) -> str:
    """The study's summary: per architecture, the figure after N and 2N epochs and whether they agree."""
    budgets = result["budgets_epochs"]
    spe = result["steps_per_epoch"]
    head = "| model | seeds | " + " | ".join(f"{n}→{2 * n} ep ({n * spe}→{2 * n * spe} steps)" for n in budgets)
    lines = [head + " | plateau at |", "|---|---|" + "---|" * len(budgets) + "---|"]
    digits = 3
    for model, entry in result["models"].items():
        cells = []
        for check in entry["checks"]:
            mark = "✓" if check["agrees"] else "✗"
            cells.append(f"{check['mean_n']:.{digits}f}→{check['mean_2n']:.{digits}f} {mark}")
        plateau = entry["plateau_epochs"]
        seeds = f"{len(entry['seeds'])}" + (" (spread borrowed)" if len(entry["seeds"]) == 1 else "")
        lines.append(f"| {model} | {seeds} | " + " | ".join(cells)
                     + f" | {'still improving' if plateau is None else f'{plateau} epochs'} |")
    chosen = result["chosen_epochs"]
    summary = (f"Chosen budget: {chosen} epochs ({result['chosen_steps']} steps)" if chosen else
               f"No budget up to {budgets[-1]} epochs agrees for every architecture; still improving: "
               + ", ".join(result["still_improving"]))
    return (f"# Zoo plateau study: {result['task']} ({result['metric']})\n\n"
            f"Recipe: {result['recipe']}.  \nMachines: {', '.join(result['machines'])}.\n\n"
            + "\n".join(lines) + f"\n\n{summary}.\n")


def report(study: Study) -> dict[str, Any] | None:
    """Rewrite ``<task>.json``, ``.md`` and ``.png`` from the finished rows; None when there are none."""
    rows = study_rows(study)
    if not rows:
        return None
    result = analyse(study, rows)
    atomic_write_json(OUT / f"{study.task}.json", result)
    atomic_write_text(OUT / f"{study.task}.md", markdown(result))
    plot(study, rows, OUT / f"{study.task}.png")
    return result


def probe(threads: int, train: bool = True) -> str:
    """The cubes learning-rate probe: PROBE_MODELS, seed 51, each of PROBE_RECIPES at the study's budget;
    writes ``cubes-probe.json`` / ``.md`` (the selected validation MSE per epoch) and returns the Markdown."""
    base = STUDIES["cubes"]
    # half the study's budget: the probe picks the schedule, the study then measures its plateau
    keep = tuple(o for o in base.overrides if o.split("=")[0] not in {"lr", "schedule", "min_lr", "epochs"})
    keep += ("epochs=10",)
    found = {}
    for change in PROBE_RECIPES:
        study = Study("cubes-probe", "course", keep + change, "val_mse", False, models=PROBE_MODELS, seeds=(51,))
        if train:
            run_table(study_table(study, PROBE_MODELS, (51,)), out_dir=OUT, runs_dir=ROOT / "runs",
                      options={"threads": threads, "amp": None}, progress=False)
            _drop_harness_reports(OUT / study.task)
        for row in study_rows(study):
            found[f"{row['model']} {' '.join(change)}"] = {
                "curve": selected_curve(row["history"], "val_mse"), "device": row["device"],
                "seconds": sum(r["train_time_s"] + r["eval_time_s"] for r in row["history"])}
    lines = ["| model, recipe change | selected val MSE after epoch 5 / 10 | seconds | machine |", "|---|---|---|---|"]
    for name, entry in found.items():
        curve = entry["curve"]
        marks = " / ".join(f"{curve[e - 1]:.2f}" for e in (5, 10, 20) if e <= len(curve))
        lines.append(f"| {name} | {marks} | {entry['seconds']:.0f} | {entry['device']} |")
    text = (f"# Zoo plateau study: learning-rate probe on the three-cube positions\n\nBase: course recipe with "
            f"{', '.join(keep)}, `lidar_scale=0.02`, seed 51.\n\n" + "\n".join(lines) + "\n")
    atomic_write_json(OUT / "cubes-probe.json", {"base": keep, "runs": found})
    atomic_write_text(OUT / "cubes-probe.md", text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=sorted(STUDIES), required=True)
    parser.add_argument("--stage", choices=("study", "probe"), default="study")
    parser.add_argument("--models", nargs="+", help="train only these (default: the study's subset)")
    parser.add_argument("--seeds", nargs="+", type=int, help="train only these seeds (default 51 52 53)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per row (default 1)")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    study = STUDIES[args.task]
    if args.stage == "probe":
        print(probe(args.threads, train=not args.report_only))
        return
    if not args.report_only:
        models = tuple(args.models or study.models)
        seeds = tuple(args.seeds or study.seeds)
        # every model's first seed before any second one: the curves of all come first, their spread next
        for seed in seeds:
            for model in models:
                run_table(study_table(study, study.models, study.seeds), out_dir=OUT, runs_dir=ROOT / "runs",
                          models=(model,), seeds=(seed,), options={"threads": args.threads, "amp": None},
                          progress=False)
                _drop_harness_reports(OUT / study.task)
                report(study)
    result = report(study)
    print(markdown(result) if result else "no finished rows yet")


if __name__ == "__main__":
    main()
