"""What logging costs a tiny training run: ``fit`` without trackers against each tracker and all three at once.

    python studies/tracking_overhead.py --rounds 3 --out studies/results/tracking-overhead --docs docs/training.md

Each setting trains the same model on the same frames and recipe with ``mmzoo.train.fit`` (with a run folder,
so the per-epoch CSV is written in every setting) in a fresh process of its own, the settings taking turns in an
order that rotates from round to round (a shared machine's slow spells fall on all of them). A run reports the
wall time of the whole ``fit`` call, which holds everything logging adds (importing the tracker, opening and
closing its run, every epoch's records, the prediction samples and the weight folder) and the time spent in the
epochs themselves (training and validation), where only the per-epoch records are added. Each run logs into a
fresh root; MLflow's SQLite store is created before the clock starts (its schema migrations run once per store,
a cost measured on its own as ``mlflow_store_creation_s``). Results go to ``OUT/results.json`` and
``OUT/results.md`` after every run.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from mmzoo.bench.docs_tables import write_block
from mmzoo.bench.report import write_result
from mmzoo.train.resources import device_name

#: Each setting's trackers ("none": the CSV only).
SETTINGS = {"none": (), "tensorboard": ("tensorboard",), "mlflow": ("mlflow",), "wandb": ("wandb",),
            "all three": ("tensorboard", "mlflow", "wandb")}
MARKERS = ("<!-- tracking-overhead -->", "<!-- /tracking-overhead -->")
MODEL = "late_fusion_strided"
RECIPE = {"train_frames": 128, "val_frames": 64, "epochs": 3}


def measure(setting: str, root: Path) -> dict:
    """One run of ``setting`` in this process: wall time of ``fit`` and of its epochs."""
    from mmzoo.train import EngineOptions, fit, get_recipe
    from mmzoo.train.data import recipe_tensors
    from mmzoo.train.tracking import Tracking

    recipe = get_recipe("assignment", **RECIPE)
    data = recipe_tensors(recipe)
    tracking = Tracking(SETTINGS[setting], root=root / "logs") if SETTINGS[setting] else None
    start = time.perf_counter()
    result = fit(MODEL, recipe, data=data, run_dir=root / "run", options=EngineOptions(device="cpu", progress=False),
                 log=tracking)
    wall = time.perf_counter() - start
    return {"setting": setting, "fit_s": wall, "epochs_s": result.train_time_s, "val_loss": result.best["loss"]}


def _mlflow_store(root: Path) -> float:
    """Create an empty MLflow SQLite store under ``root``; returns the seconds it took."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import sys, mlflow; mlflow.MlflowClient(sys.argv[1]).search_experiments()",
                    f"sqlite:///{root / 'logs' / 'mlflow.db'}"], check=True, capture_output=True)
    return time.perf_counter() - start


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def summarize(runs: list[dict]) -> list[dict]:
    """Medians per setting of the whole ``fit``, its epochs and the rest (``outside_s``: set-up, opening and
    closing the trackers, the samples and the weight folder), and what each adds to the run without trackers
    (``added_s`` on the whole, ``added_outside_s`` outside the epochs: on a shared machine the epochs' own
    variation hides any per-epoch cost, while the time outside them is steady from run to run)."""
    rows = []
    for setting in SETTINGS:
        mine = [run for run in runs if run["setting"] == setting]
        if mine:
            rows.append({"setting": setting, "runs": len(mine),
                         "fit_s": statistics.median(r["fit_s"] for r in mine),
                         "epochs_s": statistics.median(r["epochs_s"] for r in mine),
                         "outside_s": statistics.median(r["fit_s"] - r["epochs_s"] for r in mine)})
    base = next((row for row in rows if row["setting"] == "none"), None)
    for row in rows:
        row["added_s"] = row["fit_s"] - base["fit_s"] if base else None
        row["added_outside_s"] = row["outside_s"] - base["outside_s"] if base else None
    return rows


def markdown(results: dict) -> str:
    machine = results["machine"]
    versions = ", ".join(f"{name} {version}" for name, version in machine["trackers"].items())
    lines = [f"Machine: {machine['device']}, torch {machine['torch']}; {versions}. "
             f"`{results['model']}`, {results['recipe']['epochs']} epochs of {results['recipe']['train_frames']} "
             f"frames ({results['recipe']['val_frames']} validation), medians of "
             f"{min(row['runs'] for row in results['rows'])} runs per setting, each in a fresh process.", "",
             "| trackers | whole `fit` (s) | its epochs (s) | outside the epochs (s) | added outside the epochs (s) |",
             "|---|---|---|---|---|"]
    for row in results["rows"]:
        added = "" if row["setting"] == "none" or row["added_s"] is None else f"{row['added_outside_s']:+.1f}"
        lines.append(f"| {row['setting']} | {row['fit_s']:.1f} | {row['epochs_s']:.1f} | {row['outside_s']:.1f} | {added} |")
    if "mlflow_store_creation_s" in results:
        lines += ["", f"Creating a new MLflow SQLite store (once per store): {results['mlflow_store_creation_s']:.1f} s."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--out", default="studies/results/tracking-overhead")
    parser.add_argument("--docs", help="a page whose tracking-overhead block is rewritten from the results")
    parser.add_argument("--one", nargs=2, metavar=("SETTING", "ROOT"), help=argparse.SUPPRESS)  # a worker run
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one[0], Path(args.one[1]))))
        return {}
    trackers = {name: _version(name) for name in ("tensorboard", "mlflow", "wandb")}
    machine = {"device": device_name(torch.device("cpu")), "torch": torch.__version__, "trackers": trackers}
    results = {"machine": machine,
               "model": MODEL, "recipe": RECIPE, "rounds": args.rounds, "runs": [], "rows": []}
    if any("mlflow" in SETTINGS[setting] for setting in args.settings):
        with tempfile.TemporaryDirectory() as scratch:
            results["mlflow_store_creation_s"] = _mlflow_store(Path(scratch))
    for round_ in range(args.rounds):
        order = args.settings[round_ % len(args.settings):] + args.settings[: round_ % len(args.settings)]
        for setting in order:
            with tempfile.TemporaryDirectory() as scratch:
                root = Path(scratch)
                if "mlflow" in SETTINGS[setting]:
                    _mlflow_store(root)
                out = subprocess.run([sys.executable, __file__, "--one", setting, str(root)], check=True,
                                     capture_output=True, text=True, cwd=scratch)
            results["runs"].append({**json.loads(out.stdout.splitlines()[-1]), "round": round_})
            results["rows"] = summarize(results["runs"])
            print(json.dumps(results["runs"][-1]), flush=True)
            write_result(args.out, results, markdown(results))
    if args.docs:
        write_block(Path(args.docs), MARKERS, markdown(results))
    return results


if __name__ == "__main__":
    main()
