"""Compare the engine's speed settings on one model and recipe: which of them pays on this machine?

    python studies/engine_speed.py --lidar-scale 0.02 --configs reference nchw eager bf16 compile \\
        --set epochs=6 --set train_frames=1600 --set val_frames=400 --rounds 2 --docs docs/studies.md
    python studies/engine_speed.py --lidar-scale 0.02 --device cuda \\
        --configs reference cuda-graphs whole-step --out gpu-out/engine-speed

Each configuration trains the same model on the same data and recipe with ``mmzoo.train.fit`` (no checkpoints)
in a fresh process of its own (so one setting's memory, threads or compiled kernels never carry into the next),
the configurations taking turns in an order that rotates from round to round; ``torch.compile`` starts each run
with an empty Inductor cache. Each run reports the first epoch's time (which carries compilation or graph
capture), the steady epoch time (median of the later epochs) and the best validation metrics, so that a speed-up
is never bought with a different result. ``reference`` runs the notebook-style loop for comparison. Results go
to ``OUT/results.json`` and ``OUT/results.md`` after every run.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from mmzoo.bench.docs_tables import write_block
from mmzoo.bench.report import write_result
from mmzoo.train import EngineOptions
from mmzoo.train.experimental import ExperimentalOptions, fit
from mmzoo.train.data import recipe_frames, recipe_tensors
from mmzoo.train.precision import cpu_bf16_hardware
from mmzoo.train.recipes import get_recipe
from mmzoo.train.reference import reference_fit
from mmzoo.train.resources import device_name, resolve_device

#: Each configuration's engine options (``reference`` is the notebook-style loop instead).
CONFIGS = {
    "nchw": {"channels_last": False, "cuda_graphs": False, "amp": None},
    "eager": {"cuda_graphs": False, "amp": None},
    "bf16": {"amp": "bf16", "cuda_graphs": False},
    "cuda-graphs": {"cuda_graphs": True, "amp": None},
    "cuda-graphs-bf16": {"cuda_graphs": True, "amp": "bf16"},
    "whole-step": {"whole_step_graphs": True, "cuda_graphs": False, "amp": None},  # mmzoo.train.experimental
    "compile": {"compile": True, "amp": None, "cuda_graphs": False},
    "compile-reduce-overhead": {"compile": "reduce-overhead", "amp": None},
}
MARKERS = ("<!-- engine-speed -->", "<!-- /engine-speed -->")


def measure(name: str, model: str, recipe, device: str, model_kwargs: dict) -> dict:
    """One training run of configuration ``name``: its epoch times and best validation metrics."""
    if name == "reference":
        train, val = recipe_frames(recipe)
        out = reference_fit(model, recipe, train, val, device=resolve_device(device), **model_kwargs)
        history, best = out["history"], out["best"]
    else:
        data = recipe_tensors(recipe)
        engine, experimental = ExperimentalOptions.split(CONFIGS[name])
        result = fit(model, recipe, data=data, options=EngineOptions(device=device, progress=False, **engine),
                     experimental=experimental, **model_kwargs)
        history, best = result.history, result.best
    epoch_s = [r["train_time_s"] + r["eval_time_s"] for r in history]
    return {
        "config": name,
        "options": CONFIGS.get(name, "the notebook-style loop"),
        "first_epoch_s": epoch_s[0],
        "steady_epoch_s": statistics.median(epoch_s[1:] or epoch_s),
        "total_s": sum(epoch_s),
        "val_loss": best["loss"],
        "val_metric": best.get("accuracy", best.get("position_error")),
    }


def run_in_process(name: str, args: argparse.Namespace) -> dict:
    """:func:`measure` of ``name`` in a fresh Python process (``--worker``); an error becomes the row's text."""
    command = [sys.executable, __file__, "--worker", name, "--model", args.model, "--recipe", args.recipe,
               "--device", args.device, *(f"--set={item}" for item in args.overrides)]
    if args.lidar_scale is not None:
        command += ["--lidar-scale", str(args.lidar_scale)]
    with tempfile.TemporaryDirectory() as cache:  # compile from scratch in every run, as a user's first run does
        done = subprocess.run(command, capture_output=True, text=True,
                              env={**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache})
    if done.returncode != 0:  # one failing setting must not hide the others' numbers
        return {"config": name, "error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.splitlines()[-1])


def summarize(runs: list[dict], configs: list[str]) -> list[dict]:
    """Per configuration, the medians over its rounds, and the steady epoch's speed-up over ``eager``."""
    rows = []
    for name in configs:
        tried = [run for run in runs if run["config"] == name]
        done = [run for run in tried if "error" not in run]
        if tried and not done:
            rows.append({"config": name, "error": tried[0]["error"]})
        if not done:
            continue
        rows.append({"config": name, "rounds": len(done),
                     **{key: statistics.median(run[key] for run in done)
                        for key in ("first_epoch_s", "steady_epoch_s", "total_s", "val_loss", "val_metric")}})
    eager = next((row["steady_epoch_s"] for row in rows if row["config"] == "eager" and "error" not in row), None)
    for row in rows:
        if eager is not None and "error" not in row:
            row["vs_eager"] = eager / row["steady_epoch_s"]
    return rows


def markdown(results: dict) -> str:
    """The table of ``results``: one row per configuration (medians over the rounds)."""
    machine, recipe = results["machine"], results["recipe"]
    lines = [f"Machine: {machine['device']}, torch {machine['torch']} (bf16 hardware: {machine['bf16_hardware']}). "
             f"Model `{results['model']}` ({', '.join(f'{k}={v}' for k, v in results['model_kwargs'].items())}), "
             f"`{recipe['name']}` recipe, {recipe['epochs']} epochs of {recipe['train_frames']} frames; "
             f"each run in a fresh process, {results['rounds']} round(s), medians. Written by "
             "`studies/engine_speed.py`.", "",
             "| configuration | first epoch (s) | steady epoch (s) | steady speed vs eager | whole run (s) | "
             "best val loss | best val metric |", "|---|---|---|---|---|---|---|"]
    for row in results["rows"]:
        if "error" in row:
            lines.append(f"| {row['config']} | failed: {row['error']} | | | | | |")
            continue
        versus = f"{row['vs_eager']:.2f}x" if "vs_eager" in row else "-"
        lines.append(f"| {row['config']} | {row['first_epoch_s']:.1f} | {row['steady_epoch_s']:.2f} | {versus} | "
                     f"{row['total_s']:.1f} | {row['val_loss']:.4f} | {row['val_metric']:.4f} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="intermediate_cat")
    parser.add_argument("--recipe", default="assignment")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--lidar-scale", type=float, help="model argument lidar_scale (e.g. 0.02)")
    parser.add_argument("--configs", nargs="+", default=["eager"], choices=[*CONFIGS, "reference"])
    parser.add_argument("--rounds", type=int, default=1, help="times each configuration runs, in rotating order")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default="studies/results/engine-speed", help="folder of results.json / .md")
    parser.add_argument("--docs", help="also rewrite the engine-speed block of this page")
    parser.add_argument("--worker", choices=[*CONFIGS, "reference"], help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict | None:
    args = parse_args(argv)
    recipe = get_recipe(args.recipe).override(args.overrides)
    model_kwargs = {} if args.lidar_scale is None else {"lidar_scale": args.lidar_scale}
    if args.worker:
        print(json.dumps(measure(args.worker, args.model, recipe, args.device, model_kwargs)))
        return None
    device = resolve_device(args.device)
    results = {"machine": {"device": device_name(device), "torch": torch.__version__.split("+")[0],
                           "python": platform.python_version(), "threads": torch.get_num_threads(),
                           "bf16_hardware": cpu_bf16_hardware()},
               "model": args.model, "model_kwargs": model_kwargs, "recipe": recipe.to_dict(),
               "rounds": args.rounds, "configs": args.configs, "runs": [], "rows": []}
    print(f"{args.model} on {results['machine']['device']}: {recipe.epochs} epochs x {recipe.steps_per_epoch()} "
          f"steps of {recipe.batch_size}", flush=True)
    for round_index in range(args.rounds):
        shift = round_index % len(args.configs)
        for name in args.configs[shift:] + args.configs[:shift]:
            start = time.perf_counter()
            run = {**run_in_process(name, args), "round": round_index, "wall_s": time.perf_counter() - start}
            results["runs"].append(run)
            results["rows"] = summarize(results["runs"], args.configs)
            write_result(args.out, results, markdown(results))  # after every run: an interruption keeps it
            print(json.dumps(run), flush=True)
    if args.docs:
        write_block(Path(args.docs), MARKERS, markdown(results))
    return results


if __name__ == "__main__":
    main()
