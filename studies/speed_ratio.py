"""The engine against the notebook-style loop, like with like: the same model, seed, data and recipe, measured
side by side, interleaved (the order rotates from seed to seed) so that load on the machine hits
all of them. The engine runs in float32 (``amp=None``) and, on a CPU with bf16 hardware, also under bf16 autocast
(``amp="bf16"``, an explicit opt-in; the engine's default is float32).
Writes one JSON with every run and the per-seed and median ratios.

    python studies/speed_ratio.py --seeds 51 52 53 --set epochs=4 --out studies/results/speed-ratio

Each run trains in a fresh process of its own, as the benchmark harness's rows do: the engine's process-wide
settings (``mmzoo.train.resources.keep_freed_memory``) never reach the notebook-style loop, and no run inherits
another's allocator state.

The notebook-style loop is ``mmzoo.train.reference.reference_fit``: one ``DataLoader`` process
(``num_workers=0``) building each sample from the frames in Python, plain Adam, NCHW, validation in batches of
the training size without ``no_grad``, as the notebooks ran. The engine is ``mmzoo.train.fit`` with its default
options but the precision. The ratio compares training plus validation time (the history's ``train_time_s +
eval_time_s``), not data generation, which both share. Resumable: a finished seed in the output is not run again;
an output measured on another machine is refused (pass another ``--out``).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from mmzoo.bench.docs_tables import write_block
from mmzoo.train import EngineOptions, fit, get_recipe
from mmzoo.train.data import recipe_frames, recipe_tensors
from mmzoo.train.precision import cpu_bf16_hardware
from mmzoo.train.reference import reference_fit
from mmzoo.utils.files import atomic_write_json


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def run_engine(model: str, recipe, model_kwargs: dict, amp: str | None = None) -> dict:
    options = EngineOptions(device="cpu", progress=False, amp=amp)
    result = fit(model, recipe, data=recipe_tensors(recipe), options=options, **model_kwargs)
    return {"time_s": result.train_time_s, "best": result.best, "best_epoch": result.best_epoch,
            "precision": result.precision}


def run_reference(model: str, recipe, model_kwargs: dict) -> dict:
    train, val = recipe_frames(recipe)
    out = reference_fit(model, recipe, train, val, device="cpu", **model_kwargs)
    return {"time_s": out["train_time_s"], "best": out["best"], "best_epoch": out["best_epoch"],
            "precision": "float32 (the notebooks')"}


def run_in_process(loop: str, seed: int, args: argparse.Namespace) -> dict:
    """``loop``'s run for ``seed`` in a fresh process (``--worker``), as the JSON it prints."""
    command = [sys.executable, __file__, "--worker", loop, "--seeds", str(seed), "--model", args.model,
               "--recipe", args.recipe, *(f"--set={item}" for item in args.set),
               *(f"--model-arg={item}" for item in args.model_arg)]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()[-1])


LOOPS = {
    "engine-fp32": lambda model, recipe, kwargs: run_engine(model, recipe, kwargs),
    "engine-bf16": lambda model, recipe, kwargs: run_engine(model, recipe, kwargs, amp="bf16"),
    "reference": run_reference,
}


MARKERS = ("<!-- speed-ratio -->", "<!-- /speed-ratio -->")


def markdown(results: dict) -> str:
    """The docs table of ``results``: one row per seed and loop, then the median ratios."""
    machine = results["machine"]
    recipe = results["runs"][0]["recipe"]
    lines = [f"Machine: {machine['cpu']}, {machine['threads']} threads, torch {machine['torch']} "
             f"(bf16 hardware: {machine['bf16_hardware']}). Model `{results['model']}` "
             f"({', '.join(f'{k}={v}' for k, v in results['model_kwargs'].items())}), `{recipe['name']}` recipe, "
             f"{recipe['epochs']} epochs, {recipe['train_frames']} training frames.", "",
             "| seed | loop | precision | train + validation time (s) | best val loss | best val accuracy |",
             "|---|---|---|---|---|---|"]
    for run in results["runs"]:
        for loop in run["order"]:
            got = run[loop]
            lines.append(f"| {run['seed']} | {loop} | {got['precision']} | {got['time_s']:.1f} | "
                         f"{got['best']['loss']:.4f} | {got['best'].get('accuracy', float('nan')):.4f} |")
    lines.append("")
    for key, value in results["median_ratios"].items():
        per_seed = ", ".join(f"{run['ratios'][key]:.2f}x" for run in results["runs"])
        lines.append(f"- {key}: median **{value:.2f}x** (per seed: {per_seed})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="intermediate_cat")
    parser.add_argument("--recipe", default="assignment")
    parser.add_argument("--set", action="append", default=[], help="recipe field changes, key=value")
    parser.add_argument("--model-arg", action="append", default=[])
    parser.add_argument("--seeds", type=int, nargs="+", default=[51, 52, 53])
    parser.add_argument("--out", default="studies/results/speed-ratio")
    parser.add_argument("--docs", default="docs/studies.md", help="the page whose speed-ratio block is rewritten")
    parser.add_argument("--worker", choices=list(LOOPS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.model_arg = args.model_arg or ["lidar_scale=0.02"]
    model_kwargs = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.model_arg)}
    if args.worker:
        recipe = get_recipe(args.recipe, seed=args.seeds[0]).override(args.set)
        print(json.dumps(LOOPS[args.worker](args.model, recipe, model_kwargs)))
        return
    out = Path(args.out) / "results.json"
    done = json.loads(out.read_text()) if out.exists() else {"runs": []}
    machine = {"cpu": cpu_name(), "threads": torch.get_num_threads(), "torch": torch.__version__.split("+")[0],
               "python": platform.python_version(), "bf16_hardware": cpu_bf16_hardware()}
    if done["runs"] and done["machine"] != machine:
        raise SystemExit(f"{out} was measured on {done['machine']}, not on this machine ({machine}); a ratio pairs "
                         f"runs of one machine: pass another --out (or remove the file to replace it)")
    for position, seed in enumerate(args.seeds):
        recipe = get_recipe(args.recipe, seed=seed).override(args.set)
        if any(r["seed"] == seed and r["recipe"] == recipe.to_dict() for r in done["runs"]):
            continue
        loops = list(LOOPS) if cpu_bf16_hardware() != "none" else ["engine-fp32", "reference"]
        order = loops[position % len(loops):] + loops[:position % len(loops)]
        pair = {}
        for loop in order:
            start = time.perf_counter()
            pair[loop] = run_in_process(loop, seed, args)
            print(f"seed {seed} {loop}: {pair[loop]['time_s']:.1f} s ({time.perf_counter() - start:.1f} s wall) "
                  f"best {pair[loop]['best']}", flush=True)
        ratios = {f"reference/{loop}": pair["reference"]["time_s"] / pair[loop]["time_s"]
                  for loop in pair if loop != "reference"}
        done["runs"].append({"seed": seed, "order": order, "recipe": recipe.to_dict(), **pair, "ratios": ratios})
        done.update(model=args.model, model_kwargs=model_kwargs, machine=machine,
                    median_ratios={key: statistics.median(r["ratios"][key] for r in done["runs"])
                                   for key in ratios})
        atomic_write_json(out, done)  # after every pair: an interrupted sweep keeps what finished
    done.pop("auto", None)  # measured by a retired precision rule (amp="auto"), no longer a finding
    atomic_write_json(out, done)
    print(f"median ratios over {len(done['runs'])} seeds: {done['median_ratios']}")
    if args.docs:
        write_block(Path(args.docs), MARKERS, markdown(done))


if __name__ == "__main__":
    main()
