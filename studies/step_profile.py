"""Where a float32 CPU training step's time goes, and how close it is to the machine's matmul ceiling.

    python studies/step_profile.py --out studies/results/step-profile

For each model the script builds the engine's float32 step (channels_last, fused Adam, the recipe's loss, batch
32) and times it in three set-ups, each in fresh worker processes that take turns round by round (so that load
on the machine hits all of them):

* ``notebook order``: each convolution block's ReLU before its pooling, glibc's default ``malloc`` settings
  (the engine before pooling came first and freed memory was kept);
* ``pool first``: the zoo's block order (the same numbers: see ``mmzoo.models.blocks.ConvBlock``);
* ``engine``: pool first, and freed memory kept for reuse (``mmzoo.train.resources.keep_freed_memory``, what
  the engine applies on a CPU). The two orders are interleaved inside each worker; the allocator setting is
  process-wide, hence the separate workers.

For the engine's set-up it also reports the page faults per step, a ``torch.profiler`` breakdown by operator
family (convolutions, pooling, ReLU, linear layers, optimiser, the rest), the training FLOPs per step
(``torch.utils.flop_counter``), hence the step's GFLOP/s and its fraction of the float32 matmul ceiling
(``mmzoo.bench.measure.matmul_gflops``, measured by every worker), and the rate of the convolution kernels alone
(the step's FLOPs over the convolutions' time): what the step would reach if everything else took no time.

Writes ``results.json`` after each model (a rerun skips the models it holds) and ``results.md``; the machine is
named in both, and results of another machine are never mixed in. Inputs are random: the time of these
kernels does not depend on the values.
"""
from __future__ import annotations

import argparse
import functools
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

import mmzoo
from mmzoo.bench.docs_tables import write_block
from mmzoo.bench.measure import example_inputs, flops_per_sample, matmul_gflops
from mmzoo.models.blocks import notebook_order
from mmzoo.train.metrics import loss_function
from mmzoo.train.optim import make_optimizer
from mmzoo.train.recipes import get_recipe
from mmzoo.train.resources import device_name, keep_freed_memory
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


MARKERS = ("<!-- step-profile -->", "<!-- /step-profile -->")


def build_step(arch: str, batch: int = 32):
    """The engine's float32 training step of ``arch`` on a fixed random batch, as a callable."""
    recipe = get_recipe("assignment")
    torch.manual_seed(0)
    model = mmzoo.create(arch, lidar_scale=0.02).train().to(memory_format=torch.channels_last)
    rgb, lidar = example_inputs(model, batch, torch.device("cpu"), torch.channels_last)
    target = torch.randint(0, 2, (batch, 1)).float()
    optimizer = make_optimizer(model, recipe, fused=True)
    criterion = loss_function(recipe.loss)

    def step(net: torch.nn.Module = model) -> None:  # net: model, or a notebook_order view of it
        loss = criterion(net(rgb, lidar).float(), target)
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
    nets = {"notebook_order_s": notebook_order(model), "pool_first_s": model}  # the same parameters
    for round_ in range(rounds):
        orders = ["notebook_order_s", "pool_first_s"]
        for key in orders if round_ % 2 else orders[::-1]:
            run = functools.partial(step, nets[key])
            run()  # one untimed step after switching
            times[key].append(step_seconds(run, steps))
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


def worker(arch: str, keep_memory: bool, rounds: int, steps: int, with_breakdown: bool) -> dict:
    """One worker process's measurements (printed as JSON by ``--worker``)."""
    applied = keep_freed_memory() if keep_memory else False
    model, step, flops = build_step(arch)
    for _ in range(3):
        step()
    out = {"keep_freed_memory": applied, "ceiling_gflops": matmul_gflops(torch.device("cpu")),
           "train_gflop_per_step": flops, **order_times(model, step, rounds, steps)}
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    step_seconds(step, steps)
    out["faults_per_step"] = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / steps
    if with_breakdown:
        out["family_s"] = breakdown(step, steps)
    return out


def run_worker(arch: str, keep_memory: bool, args: argparse.Namespace, with_breakdown: bool = False) -> dict:
    command = [sys.executable, __file__, "--worker", arch, "--rounds", str(args.inner_rounds),
               "--steps", str(args.steps)] + (["--keep-freed-memory"] if keep_memory else []) + (
               ["--breakdown"] if with_breakdown else [])
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()[-1])


def measure(arch: str, args: argparse.Namespace) -> dict:
    """The three set-ups of ``arch`` over ``args.rounds`` rounds of workers taking turns."""
    runs: dict[bool, list[dict]] = {False: [], True: []}
    for round_ in range(args.rounds):
        for keep in (False, True) if round_ % 2 else (True, False):
            runs[keep].append(run_worker(arch, keep, args, with_breakdown=keep and round_ == args.rounds - 1))
    median = lambda key, keep: statistics.median(run[key] for run in runs[keep])  # noqa: E731
    engine_s = median("pool_first_s", True)
    ceiling = statistics.median(run["ceiling_gflops"] for run in runs[False] + runs[True])
    flops = runs[True][0]["train_gflop_per_step"]
    families = next(run["family_s"] for run in runs[True] if "family_s" in run)
    return {
        "model": arch,
        "notebook_order_s": median("notebook_order_s", False),
        "pool_first_s": median("pool_first_s", False),
        "engine_s": engine_s,
        "speedup": median("notebook_order_s", False) / engine_s,
        "faults_per_step": {"glibc_default": median("faults_per_step", False), "kept": median("faults_per_step", True)},
        "kept_applied": all(run["keep_freed_memory"] for run in runs[True]),
        "ceiling_gflops": ceiling,
        "train_gflop_per_step": flops,
        "gflops": flops / engine_s,
        "fraction_of_ceiling": flops / engine_s / ceiling,
        "family_s": families,
        "convolution_fraction_of_ceiling": flops / families["convolution"] / ceiling,
        "runs": {"glibc_default": runs[False], "kept": runs[True]},
    }


def markdown(results: dict) -> str:
    machine = results["machine"]
    lines = [
        "# Where a float32 CPU training step goes",
        "",
        f"Machine: {machine['cpu']}, torch {machine['torch']}. Batch 32, channels_last, fused Adam, "
        "`lidar_scale=0.02`; medians over worker processes taking turns. % of ceiling: the step's training FLOPs "
        "per second over the float32 matmul rate (2048x2048) measured in the same workers. Written by "
        "`studies/step_profile.py`.",
        "",
        "| model | ms / step: notebook order | pool first | engine (pool first, memory kept) | speed-up "
        "| page faults / step: default → kept | engine GFLOP/s | % of ceiling | conv kernels alone, % of ceiling "
        "| conv | pool | ReLU | linear | Adam | other |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        share = {key: value / sum(row["family_s"].values()) for key, value in row["family_s"].items()}
        faults = row["faults_per_step"]
        lines.append(
            f"| {row['model']} | {row['notebook_order_s'] * 1e3:.1f} | {row['pool_first_s'] * 1e3:.1f} "
            f"| {row['engine_s'] * 1e3:.1f} | {row['speedup']:.2f}x "
            f"| {faults['glibc_default']:,.0f} → {faults['kept']:,.0f} | {row['gflops']:.0f} "
            f"| {row['fraction_of_ceiling']:.0%} | {row['convolution_fraction_of_ceiling']:.0%} | "
            + " | ".join(f"{share[key]:.0%}" for key in [*FAMILIES, "other"]) + " |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--rounds", type=int, default=4, help="rounds of workers per model")
    parser.add_argument("--inner-rounds", type=int, default=2, help="interleaved rounds per block order in a worker")
    parser.add_argument("--steps", type=int, default=10, help="training steps per timing")
    parser.add_argument("--out", default="studies/results/step-profile")
    parser.add_argument("--docs", default="docs/studies.md", help="the page whose step-profile block is rewritten")
    parser.add_argument("--docs-only", action="store_true", help="measure nothing: copy --out's results to --docs")
    parser.add_argument("--worker", metavar="MODEL", help=argparse.SUPPRESS)
    parser.add_argument("--keep-freed-memory", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--breakdown", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.keep_freed_memory, args.inner_rounds, args.steps, args.breakdown)))
        return None
    out = Path(args.out)
    if args.docs_only:
        write_block(Path(args.docs), MARKERS, docs_table(json.loads((out / "results.json").read_text())))
        return None
    machine = {"cpu": device_name(torch.device("cpu")), "torch": torch.__version__.split("+")[0],
               "python": platform.python_version()}
    results = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else None
    if results is not None and results["machine"] != machine:
        raise SystemExit(f"{out} was measured on {results['machine']}, not on this machine ({machine}); pass "
                         "another --out (or remove the file to replace it)")
    results = results or {"machine": machine, "rows": []}
    out.mkdir(parents=True, exist_ok=True)
    for arch in args.models:
        if any(row["model"] == arch for row in results["rows"]):
            continue  # measured by an earlier, interrupted run
        results["rows"].append(measure(arch, args))
        atomic_write_json(out / "results.json", results)  # a finished model is kept if a later one is interrupted
        print(markdown(results).splitlines()[-1], flush=True)
    atomic_write_text(out / "results.md", markdown(results))
    if args.docs:
        write_block(Path(args.docs), MARKERS, docs_table(results))
    return results


def docs_table(results: dict) -> str:
    """:func:`markdown` without the results file's title, as the docs block shows it."""
    return markdown(results).split("\n", 2)[2]


if __name__ == "__main__":
    main()
