"""Compare the engine's speed settings on one model and recipe: which of them pays on this machine?

    python benchmarks/engine_speed.py --model intermediate_cat --set epochs=3
    python benchmarks/engine_speed.py --configs eager bf16 cuda-graphs compile --json speed.json

Each configuration trains the same model on the same data and recipe in a fresh process-free run of
``mmzoo.train.fit`` (no checkpoints) and prints the first epoch's time (which carries compilation or graph
capture), the steady training rate (median of the later epochs) and the final validation metrics, so that a
speed-up is never bought with a different result. ``reference`` runs the notebook-style loop for comparison.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from mmzoo.train import EngineOptions, fit
from mmzoo.train.data import recipe_frames, recipe_tensors
from mmzoo.train.recipes import get_recipe
from mmzoo.train.reference import reference_fit
from mmzoo.train.resources import device_name, resolve_device

CONFIGS = {
    "nchw": {"channels_last": False, "cuda_graphs": False, "amp": None},
    "eager": {"cuda_graphs": False, "amp": None},
    "bf16": {"amp": "bf16", "cuda_graphs": False},
    "cuda-graphs": {"cuda_graphs": True, "amp": None},
    "cuda-graphs-bf16": {"cuda_graphs": True, "amp": "bf16"},
    "whole-step": {"cuda_graphs": "whole-step", "amp": None},
    "compile": {"compile": True, "amp": None},
    "compile-reduce-overhead": {"compile": "reduce-overhead", "amp": None},
}


def measure(name: str, model: str, recipe, data, device: str, model_kwargs: dict) -> dict:
    start = time.perf_counter()
    if name == "reference":
        train, val = recipe_frames(recipe)
        out = reference_fit(model, recipe, train, val, device=resolve_device(device), **model_kwargs)
        history, best = out["history"], out["best"]
    else:
        options = EngineOptions(device=device, progress=False, **CONFIGS[name])
        result = fit(model, recipe, data=data, options=options, **model_kwargs)
        history, best = result.history, result.best
    wall = time.perf_counter() - start
    samples = recipe.steps_per_epoch() * recipe.batch_size  # per epoch
    rates = [samples / r["train_time_s"] for r in history[1:] or history]
    return {
        "config": name,
        "wall_s": wall,
        "first_epoch_s": history[0]["train_time_s"] + history[0]["eval_time_s"],
        "steady_train_samples_per_s": statistics.median(rates),
        "steady_epoch_s": statistics.median(r["train_time_s"] + r["eval_time_s"] for r in history[1:] or history),
        "val_loss": best["loss"],
        "val_metric": best.get("accuracy", best.get("position_error")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="intermediate_cat")
    parser.add_argument("--recipe", default="assignment")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--lidar-scale", type=float, help="model argument lidar_scale (e.g. 0.02)")
    parser.add_argument("--configs", nargs="+", default=["eager"], choices=[*CONFIGS, "reference"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    recipe = get_recipe(args.recipe).override(args.overrides)
    model_kwargs = {} if args.lidar_scale is None else {"lidar_scale": args.lidar_scale}
    data = recipe_tensors(recipe)
    device = resolve_device(args.device)
    print(f"{args.model} on {device_name(device)}, torch {torch.__version__}, recipe {recipe.name} "
          f"({recipe.epochs} epochs x {recipe.steps_per_epoch()} steps of {recipe.batch_size})")
    results = []
    for name in args.configs:
        try:
            row = measure(name, args.model, recipe, data, args.device, model_kwargs)
        except Exception as error:  # one failing setting must not hide the others' numbers
            row = {"config": name, "error": f"{type(error).__name__}: {error}"}
        results.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"model": args.model, "device": device_name(device), "torch": torch.__version__,
                       "recipe": recipe.to_dict(), "results": results}, handle, indent=1)


if __name__ == "__main__":
    main()
