"""Do the engine and the notebook-style loop leave ln 2 equally often? Rates over seeds, never single runs.

Near a validation loss of ln 2 (the loss of a constant 0.5 prediction) whether a run of the exact assignment
recipe ever starts to learn is decided by small numerical differences. Since the engine draws the notebooks'
batch order (``mmzoo.train.loop.epoch_order``), the two loops share the recipe entirely: same initial weights,
batches, optimiser, loss and schedule (``tests/train/test_reference_agreement.py``). What still differs is how a
step is computed (channels_last, fused Adam, the evaluation's batches), i.e. float rounding. This script trains
the exact recipe (raw xyza, no ``lidar_scale``) with both loops over several seeds and reports, per model and
loop, how many runs left ln 2, at which epoch, and where they ended::

    python studies/fidelity_dynamics.py --shard 0/2 &   # one process per core, one thread each
    python studies/fidelity_dynamics.py --shard 1/2
    python studies/fidelity_dynamics.py --report        # results.{json,md} and curves.png from the runs

Each run is one JSON file under ``studies/results/fidelity-dynamics/runs/`` (written when it finishes, so an
interrupted sweep resumes where it stopped and two shards never write the same file).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from mmzoo.bench.report import epochs_text, save_figure, write_result
from mmzoo.train.data import recipe_frames, recipe_tensors
from mmzoo.train.engine import EngineOptions, fit
from mmzoo.train.metrics import LEFT_LN2, epoch_left_ln2
from mmzoo.train.recipes import get_recipe
from mmzoo.train.reference import reference_fit
from mmzoo.train.resources import device_name
from mmzoo.utils.files import atomic_write_json

RESULTS = Path(__file__).resolve().parent / "results" / "fidelity-dynamics"
MODELS = ("intermediate_add_strided", "intermediate_cat_strided")
LOOPS = ("engine", "reference")
SEEDS = (51, 52, 53, 54, 55)
LN2 = math.log(2)
LEFT = LEFT_LN2
left_at = epoch_left_ln2


def run_name(model: str, loop: str, seed: int) -> str:
    return f"{model}--{loop}--seed{seed}"


def train_one(model: str, loop: str, seed: int) -> dict[str, Any]:
    """The exact assignment recipe for ``model`` with ``loop``; the per-epoch history and the machine."""
    recipe = get_recipe("assignment", seed=seed)
    start = time.perf_counter()
    if loop == "engine":
        result = fit(model, recipe, data=recipe_tensors(recipe), options=EngineOptions(device="cpu", progress=False, amp=None))
        history = result.history
    else:
        history = reference_fit(model, recipe, *recipe_frames(recipe))["history"]
    return {
        "model": model, "loop": loop, "seed": seed, "recipe": recipe.to_dict(),
        "val_loss": [record["val_loss"] for record in history],
        "val_accuracy": [record["val_accuracy"] for record in history],
        "train_loss": [record["train_loss"] for record in history],
        "seconds": time.perf_counter() - start, "machine": device_name(torch.device("cpu")),
        "torch": torch.__version__,
    }


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model and loop: runs, how many left ln 2, the epochs they left at, best validation loss mean and sd."""
    groups = []
    for model in MODELS:
        for loop in LOOPS:
            mine = sorted((r for r in runs if r["model"] == model and r["loop"] == loop), key=lambda r: r["seed"])
            if not mine:
                continue
            best = [min(r["val_loss"]) for r in mine]
            groups.append({
                "model": model, "loop": loop, "seeds": [r["seed"] for r in mine],
                "left_ln2": sum(left_at(r["val_loss"]) is not None for r in mine),
                "left_at_epoch": [left_at(r["val_loss"]) for r in mine],
                "best_val_loss_mean": statistics.fmean(best),
                "best_val_loss_sd": statistics.stdev(best) if len(best) > 1 else 0.0,
                "best_val_accuracy": [max(r["val_accuracy"]) for r in mine],
            })
    return groups


def render(groups: list[dict[str, Any]], machine: str, torch_versions: str) -> str:
    lines = [
        "| model | loop | runs | left ln 2 | epoch it left (per seed) | best val loss | best val accuracy (per seed) |",
        "|---|---|---|---|---|---|---|",
    ]
    for g in groups:
        lines.append(f"| {g['model']} | {g['loop']} | {len(g['seeds'])} | {g['left_ln2']} of {len(g['seeds'])} | "
                     f"{epochs_text(g['left_at_epoch'])} | {g['best_val_loss_mean']:.3f} ± {g['best_val_loss_sd']:.3f} | "
                     f"{epochs_text(g['best_val_accuracy'], 3)} |")
    seeds = sorted({s for g in groups for s in g["seeds"]})
    lines.append("")
    lines.append(f"Exact assignment recipe (raw xyza, Adam 1e-3 cosine, batch 32, 20 epochs, 1,600 + 400 frames of "
                 f"`shapes` v1.0), seeds {', '.join(map(str, seeds))}; a run left ln 2 at the first epoch with a "
                 f"validation loss below {LEFT}. Machine: {machine}, torch {torch_versions}.")
    return "\n".join(lines) + "\n"


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(MODELS), figsize=(5 * len(MODELS), 3.6), sharey=True)
    for axis, model in zip(axes, MODELS):
        for run in (r for r in runs if r["model"] == model):
            style = {"engine": ("tab:blue", "-"), "reference": ("tab:orange", "--")}[run["loop"]]
            axis.plot(range(1, len(run["val_loss"]) + 1), run["val_loss"], color=style[0], linestyle=style[1],
                      alpha=0.8, label=run["loop"])
        axis.axhline(LN2, color="grey", linewidth=0.8)
        axis.set(title=model, xlabel="epoch", ylim=(0, 0.8))
        handles, labels = axis.get_legend_handles_labels()
        axis.legend(dict(zip(labels, handles)).values(), dict(zip(labels, handles)).keys())
    axes[0].set_ylabel("validation loss")
    save_figure(figure, path, dpi=110)


def report(out: Path) -> str:
    runs = [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))]
    if not runs:
        raise SystemExit(f"no finished runs under {out / 'runs'}; run the sweep first")
    groups = summarise(runs)
    machines = sorted({r["machine"] for r in runs})
    # The torch that trained the runs (each run file records it), not the one writing the report.
    markdown = render(groups, "; ".join(machines), ", ".join(sorted({r["torch"] for r in runs})))
    write_result(out, {"left_threshold": LEFT, "groups": groups, "machines": machines}, markdown)
    plot(runs, out / "curves.png")
    return markdown


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shard", default="0/1", help="RANK/WORLD: run every WORLD-th run starting at RANK")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--report", action="store_true", help="only write the summary from finished runs")
    args = parser.parse_args(argv)
    if not args.report:
        rank, world = (int(part) for part in args.shard.split("/"))
        torch.set_num_threads(args.threads)
        jobs = [(m, loop, s) for s in args.seeds for m in MODELS for loop in LOOPS]
        for model, loop, seed in jobs[rank::world]:
            path = args.out / "runs" / f"{run_name(model, loop, seed)}.json"
            if not path.exists():
                atomic_write_json(path, train_one(model, loop, seed))
                print(f"{path.name}: finished", flush=True)
    print(report(args.out))


if __name__ == "__main__":
    main()
