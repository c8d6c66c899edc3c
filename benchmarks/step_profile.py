"""Where a float32 CPU training step's time goes, and how close it is to the machine's matmul ceiling.

    python benchmarks/step_profile.py --out benchmarks/results/step-profile

For each model the script builds the engine's float32 step (channels_last, fused Adam, the recipe's loss, batch
32) and measures, in one process:

* the step time in the notebooks' block order (ReLU then pooling) and in the zoo's (pooling then ReLU, the same
  numbers: see ``mmzoo.models.blocks.ConvBlock``), interleaved round by round so that load on the machine hits
  both; the median of each and their ratio;
* a ``torch.profiler`` breakdown of the zoo's step by operator family (convolutions, pooling, ReLU, linear
  layers, optimiser, the rest);
* the training FLOPs per step (``torch.utils.flop_counter``), hence the step's GFLOP/s and its fraction of the
  float32 matmul ceiling (``mmzoo.bench.measure.matmul_gflops``, measured in the same run), and the rate of
  the convolution kernels alone (the step's FLOPs over the convolutions' time): what the step would reach if
  everything else took no time.

Writes ``results.json`` and ``results.md``; the machine is named in both. Inputs are random: the time of these
kernels does not depend on the values.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

import mmzoo
from mmzoo.bench.measure import example_inputs, flops_per_sample, matmul_gflops
from mmzoo.models.blocks import set_pool_first
from mmzoo.train.metrics import loss_function
from mmzoo.train.optim import make_optimizer
from mmzoo.train.recipes import get_recipe
from mmzoo.train.resources import device_name
from mmzoo.utils.files import atomic_write_json, atomic_write_text

MODELS = ("late_fusion", "intermediate_cat", "intermediate_add", "intermediate_hadamard")
# Operator families, matched on the profiler's aten names (first match wins).
FAMILIES = {
    "convolution": ("convolution",),
    "pooling": ("max_pool",),
    "relu": ("relu", "threshold_backward", "clamp_min"),
    "linear": ("addmm", "aten::mm"),
    "optimiser": ("adam",),
}


def build_step(arch: str, batch: int = 32):
    """The engine's float32 training step of ``arch`` on a fixed random batch, as a callable."""
    recipe = get_recipe("assignment")
    torch.manual_seed(0)
    model = mmzoo.create(arch, lidar_scale=0.02).train().to(memory_format=torch.channels_last)
    rgb, lidar = example_inputs(model, batch, torch.device("cpu"), torch.channels_last)
    target = torch.randint(0, 2, (batch, 1)).float()
    optimizer = make_optimizer(model, recipe, fused=True)
    criterion = loss_function(recipe.loss)

    def step() -> None:
        loss = criterion(model(rgb, lidar).float(), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    flops = flops_per_sample(model, criterion, torch.device("cpu"))["train_gflops_per_sample"] * batch
    return model, step, flops


def step_seconds(step, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def order_times(model, step, rounds: int, steps: int) -> dict[str, float]:
    """Median seconds per step in the notebooks' block order and in the zoo's, interleaved by round."""
    times: dict[str, list[float]] = {"notebook_order_s": [], "pool_first_s": []}
    for round_ in range(rounds):
        orders = [("notebook_order_s", False), ("pool_first_s", True)]
        for key, pool_first in orders if round_ % 2 else orders[::-1]:
            set_pool_first(model, pool_first)
            step()  # one untimed step after switching
            times[key].append(step_seconds(step, steps))
    set_pool_first(model, True)
    return {key: statistics.median(values) for key, values in times.items()}


def breakdown(step, steps: int) -> dict[str, float]:
    """Seconds per step by operator family (self CPU time of the profiler's aten operators)."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    seconds = dict.fromkeys([*FAMILIES, "other"], 0.0)
    for event in prof.key_averages():
        if not event.key.startswith("aten::"):
            continue
        family = next((name for name, keys in FAMILIES.items() if any(k in event.key for k in keys)), "other")
        seconds[family] += event.self_cpu_time_total / 1e6 / steps
    return seconds


def measure(arch: str, rounds: int, steps: int, ceiling: float) -> dict:
    model, step, flops = build_step(arch)
    for _ in range(3):
        step()
    times = order_times(model, step, rounds, steps)
    families = breakdown(step, steps)
    step_s = times["pool_first_s"]
    return {
        "model": arch,
        **times,
        "speedup_pool_first": times["notebook_order_s"] / step_s,
        "train_gflop_per_step": flops,
        "gflops": flops / step_s,
        "fraction_of_ceiling": flops / step_s / ceiling,
        "family_s": families,
        "convolution_gflops": flops / families["convolution"],
        "convolution_fraction_of_ceiling": flops / families["convolution"] / ceiling,
    }


def markdown(results: dict) -> str:
    machine = results["machine"]
    lines = [
        "# Where a float32 CPU training step goes",
        "",
        f"Machine: {machine['cpu']}, torch {machine['torch']}; float32 matmul ceiling "
        f"{results['ceiling_gflops']:.0f} GFLOP/s (2048x2048, measured in the same run). Batch 32, channels_last, "
        "fused Adam, `lidar_scale=0.02`. Written by `benchmarks/step_profile.py`.",
        "",
        "| model | ms / step, notebook order | ms / step, pool first | speed-up | step GFLOP/s | % of ceiling "
        "| conv kernels % of ceiling | conv | pool | ReLU | linear | Adam | other |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        share = {key: value / sum(row["family_s"].values()) for key, value in row["family_s"].items()}
        lines.append(
            f"| {row['model']} | {row['notebook_order_s'] * 1e3:.1f} | {row['pool_first_s'] * 1e3:.1f} "
            f"| {row['speedup_pool_first']:.2f}x | {row['gflops']:.0f} | {row['fraction_of_ceiling']:.0%} "
            f"| {row['convolution_fraction_of_ceiling']:.0%} | "
            + " | ".join(f"{share[key]:.0%}" for key in [*FAMILIES, "other"]) + " |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds per block order")
    parser.add_argument("--steps", type=int, default=10, help="training steps per round")
    parser.add_argument("--out", default="benchmarks/results/step-profile")
    args = parser.parse_args(argv)
    cpu = torch.device("cpu")
    ceiling = statistics.median(matmul_gflops(cpu) for _ in range(3))
    results = {
        "machine": {"cpu": device_name(cpu), "torch": torch.__version__.split("+")[0],
                    "python": platform.python_version()},
        "ceiling_gflops": ceiling,
        "rows": [],
    }
    for arch in args.models:
        results["rows"].append(measure(arch, args.rounds, args.steps, ceiling))
        print(markdown(results).splitlines()[-1], flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "results.json", results)
    atomic_write_text(out / "results.md", markdown(results))
    return results


if __name__ == "__main__":
    main()
