"""K seeds at once (``fit_many``) against the same K seeds one after the other (``fit``), side by side.

Same model, recipe, seeds and data in one process; the order of the two ways alternates from round to round, so
load on the machine hits both. Reports the median time of each way, their ratio, and how far the runs' best
validation losses are apart (float rounding only: ``tests/train/test_many.py``)::

    python benchmarks/many_runs.py                       # benchmarks/results/many-runs/results.json
    python benchmarks/many_runs.py --device cuda --epochs 20 --train-frames 1600 --val-frames 400

On a GPU a batch-32 step of these networks waits on kernel launches, which one vmapped step shares between the
runs; on a CPU the step is bound by arithmetic, and the measurement says whether batching the runs helps there.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from mmzoo.train import EngineOptions, fit, fit_many, get_recipe, recipe_tensors
from mmzoo.train.resources import device_name, resolve_device
from mmzoo.utils.files import atomic_write_json

RESULTS = Path(__file__).resolve().parent / "results" / "many-runs" / "results.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="intermediate_cat_strided")
    parser.add_argument("--seeds", nargs="+", type=int, default=[51, 52, 53])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-frames", type=int, default=640)
    parser.add_argument("--val-frames", type=int, default=320)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--json", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = get_recipe("assignment", train_frames=args.train_frames, val_frames=args.val_frames, epochs=args.epochs)
    data = recipe_tensors(recipe)
    # channels_last off for both: fit_many feeds NCHW (vmap adds the run dimension), so like is compared with like.
    options = EngineOptions(device=args.device, progress=False, channels_last=False, amp=None)
    kwargs = {"lidar_scale": 0.02}

    def together() -> list[float]:
        return [run.best["loss"] for run in fit_many(args.model, recipe, args.seeds, data=data, options=options, **kwargs)]

    def one_by_one() -> list[float]:
        return [fit(args.model, recipe.replace(seed=s), data=data, options=options, **kwargs).best["loss"]
                for s in args.seeds]

    times: dict[str, list[float]] = {"fit_many": [], "fit one by one": []}
    losses: dict[str, list[float]] = {}
    for index in range(args.rounds):
        ways = [("fit_many", together), ("fit one by one", one_by_one)]
        for name, way in ways if index % 2 == 0 else ways[::-1]:
            start = time.perf_counter()
            losses[name] = way()
            times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(values) for name, values in times.items()}
    result = {
        "machine": device_name(resolve_device(args.device)), "torch": torch.__version__, "model": args.model,
        "recipe": recipe.to_dict(), "seeds": args.seeds, "channels_last": False, "times_s": times,
        "median_s": median, "speedup": median["fit one by one"] / median["fit_many"],
        "best_val_loss": losses,
        "max_best_val_loss_difference": max(abs(a - b) for a, b in zip(*losses.values())),
    }
    atomic_write_json(args.json, result)
    print(f"{args.model}, {len(args.seeds)} seeds on {result['machine']}: fit_many {median['fit_many']:.1f} s, "
          f"one by one {median['fit one by one']:.1f} s (median of {args.rounds}): {result['speedup']:.2f}x")
    return result


if __name__ == "__main__":
    main()
