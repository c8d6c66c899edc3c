"""The engine against the notebook-style loop, like with like: the same model, seed, data and recipe, measured
side by side in one process, interleaved (the order alternates from seed to seed) so that load on the machine
hits both. Writes one JSON with every run and the per-seed and median ratios.

    python benchmarks/speed_ratio.py --seeds 51 52 53 --set epochs=4 --out benchmarks/results/speed-ratio

The notebook-style loop is ``mmzoo.train.reference.reference_fit``: one ``DataLoader`` process
(``num_workers=0``) building each sample from the frames in Python, plain Adam, NCHW, validation in batches of
the training size without ``no_grad``, as the notebooks ran. The engine is ``mmzoo.train.fit`` with its default
options. The ratio compares training plus validation time (the history's ``train_time_s + eval_time_s``), not
data generation, which both share. Resumable: a finished seed in the output is not run again.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from mmzoo.train import EngineOptions, fit, get_recipe
from mmzoo.train.data import recipe_frames, recipe_tensors
from mmzoo.train.reference import reference_fit
from mmzoo.utils.files import atomic_write_json


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def run_engine(model: str, recipe, model_kwargs: dict) -> dict:
    result = fit(model, recipe, data=recipe_tensors(recipe), options=EngineOptions(device="cpu", progress=False),
                 **model_kwargs)
    return {"time_s": result.train_time_s, "best": result.best, "best_epoch": result.best_epoch}


def run_reference(model: str, recipe, model_kwargs: dict) -> dict:
    train, val = recipe_frames(recipe)
    out = reference_fit(model, recipe, train, val, device="cpu", **model_kwargs)
    return {"time_s": out["train_time_s"], "best": out["best"], "best_epoch": out["best_epoch"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="intermediate_cat")
    parser.add_argument("--recipe", default="assignment")
    parser.add_argument("--set", action="append", default=[], help="recipe field changes, key=value")
    parser.add_argument("--model-arg", action="append", default=["lidar_scale=0.02"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[51, 52, 53])
    parser.add_argument("--out", default="benchmarks/results/speed-ratio")
    args = parser.parse_args()
    model_kwargs = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.model_arg)}
    out = Path(args.out) / "results.json"
    done = json.loads(out.read_text()) if out.exists() else {"runs": []}
    machine = {"cpu": cpu_name(), "cores": torch.get_num_threads(), "torch": torch.__version__.split("+")[0],
               "python": platform.python_version()}
    for position, seed in enumerate(args.seeds):
        recipe = get_recipe(args.recipe, seed=seed).override(args.set)
        if any(r["seed"] == seed and r["recipe"] == recipe.to_dict() for r in done["runs"]):
            continue
        order = ["engine", "reference"] if position % 2 == 0 else ["reference", "engine"]
        pair = {}
        for loop in order:
            start = time.perf_counter()
            pair[loop] = (run_engine if loop == "engine" else run_reference)(args.model, recipe, model_kwargs)
            print(f"seed {seed} {loop}: {pair[loop]['time_s']:.1f} s ({time.perf_counter() - start:.1f} s wall) "
                  f"best {pair[loop]['best']}", flush=True)
        done["runs"].append({"seed": seed, "order": order, "recipe": recipe.to_dict(), **pair,
                             "ratio": pair["reference"]["time_s"] / pair["engine"]["time_s"]})
        ratios = [r["ratio"] for r in done["runs"]]
        done.update(model=args.model, model_kwargs=model_kwargs, machine=machine,
                    median_ratio=statistics.median(ratios), min_ratio=min(ratios), max_ratio=max(ratios))
        atomic_write_json(out, done)  # after every pair: an interrupted sweep keeps what finished
    print(f"median ratio {done['median_ratio']:.2f}x over {len(done['runs'])} seeds "
          f"(min {done['min_ratio']:.2f}, max {done['max_ratio']:.2f})")


if __name__ == "__main__":
    main()
