"""K seeds at once (``fit_many``) against the same K seeds one after the other (``fit``), side by side.

Same model, recipe, seeds and data in one process; the order of the ways rotates from round to round, so load
on the machine hits each. Reports the median time of each way, their ratio, and how far the runs' best
validation losses are apart (float rounding only: ``tests/train/test_many.py``)::

    python studies/many_runs.py                       # studies/results/many-runs/results.json
    python studies/many_runs.py --device cuda --epochs 20 --train-frames 1600 --val-frames 400
    python studies/many_runs.py --device cuda --whole-step-graphs ...   # both ways as whole-step CUDA graphs

On a GPU a batch-32 step of these networks waits on kernel launches, which one vmapped step shares between the
runs; on a CPU the step is bound by arithmetic, and the measurement says whether batching the runs helps there.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from mmzoo.train import EngineOptions, get_recipe, recipe_tensors
from mmzoo.train.experimental import ExperimentalOptions, fit, fit_many
from mmzoo.train.resources import device_name, resolve_device
from mmzoo.utils.files import atomic_write_json

RESULTS = Path(__file__).resolve().parent / "results" / "many-runs" / "results.json"


#: The ways of training the seeds, each timed in every round: ``fit_many``; ``fit`` one seed after the other with
#: fit_many's options (NCHW, like with like); and ``fit`` with the engine's defaults, which is how the benchmark
#: harness trains a sweep without ``--seeds-at-once`` (channels_last; on a GPU, per-step CUDA graphs).
WAYS = ("fit_many", "fit one by one", "fit one by one, engine defaults")


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
    parser.add_argument("--whole-step-graphs", action="store_true",
                        help="fit_many and its like-with-like fit runs replay whole steps as CUDA graphs (a GPU)")
    parser.add_argument("--json", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = get_recipe("assignment", train_frames=args.train_frames, val_frames=args.val_frames, epochs=args.epochs)
    data = recipe_tensors(recipe)
    # fit_many feeds NCHW (vmap adds the run dimension); "fit one by one" runs in it too, so like meets like.
    experimental = ExperimentalOptions(whole_step_graphs=args.whole_step_graphs)
    options = EngineOptions(device=args.device, progress=False, channels_last=False, amp=None,
                            cuda_graphs=False if args.whole_step_graphs else None)
    defaults = EngineOptions(device=args.device, progress=False, amp=None)
    kwargs = {"lidar_scale": 0.02}

    def one_by_one(opts: EngineOptions, modes: ExperimentalOptions = ExperimentalOptions()) -> list[float]:
        return [fit(args.model, recipe.replace(seed=s), data=data, options=opts, experimental=modes,
                    **kwargs).best["loss"] for s in args.seeds]

    ways = {
        "fit_many": lambda: [run.best["loss"] for run in fit_many(
            args.model, recipe, args.seeds, data=data, options=options, experimental=experimental, **kwargs)],
        "fit one by one": lambda: one_by_one(options, experimental),
        "fit one by one, engine defaults": lambda: one_by_one(defaults),
    }
    times: dict[str, list[float]] = {name: [] for name in WAYS}
    losses: dict[str, list[float]] = {}
    for index in range(args.rounds):
        order = WAYS[index % len(WAYS):] + WAYS[:index % len(WAYS)]  # each way takes each place in turn
        for name in order:
            start = time.perf_counter()
            losses[name] = ways[name]()
            times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(values) for name, values in times.items()}
    result = {
        "machine": device_name(resolve_device(args.device)), "torch": torch.__version__, "model": args.model,
        "recipe": recipe.to_dict(), "seeds": args.seeds, "whole_step_graphs": args.whole_step_graphs,
        "times_s": times, "median_s": median,
        "speedup": median["fit one by one"] / median["fit_many"],
        "speedup_vs_engine_defaults": median["fit one by one, engine defaults"] / median["fit_many"],
        "best_val_loss": losses,
        "max_best_val_loss_difference": max(abs(a - b) for a, b in zip(losses["fit_many"], losses["fit one by one"])),
    }
    atomic_write_json(args.json, result)
    print(f"{args.model}, {len(args.seeds)} seeds on {result['machine']} (median of {args.rounds}): "
          + ", ".join(f"{name} {median[name]:.1f} s" for name in WAYS)
          + f"; fit_many {result['speedup']:.2f}x one by one, {result['speedup_vs_engine_defaults']:.2f}x the "
          "engine's defaults")
    return result


if __name__ == "__main__":
    main()
