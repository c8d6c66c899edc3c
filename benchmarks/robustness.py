"""Regenerate the published robustness table, and (long) the with/without modality-dropout comparison.

    nice -n 10 python benchmarks/robustness.py                 # writes benchmarks/results/robustness/
    python benchmarks/robustness.py --frames 32 --out /tmp/rb  # a quick look
    python benchmarks/robustness.py --dropout-comparison       # trains 24 runs first: hours on CPU, minutes on a GPU

The table is ``mmzoo robustness`` with the published settings (128 frames of data seed 1, which no weight was
trained on; every registered corruption at severities 0..5; late fusion as the effective-robustness baseline),
so the command line and this script give the same files. Evaluation only: about half an hour on a 2-core CPU
shared with other work.

``--dropout-comparison`` trains the four assignment networks with the assignment recipe (``lidar_scale=0.02`` as
the published weights) at seeds 51-53, with ``modality_dropout`` 0 and ``--dropout`` (default 0.25), resumably
under ``OUT/runs/``, then evaluates every run folder the same way and writes ``comparison.md`` / ``.json``: per
network and dropout setting the mean and standard deviation over seeds of the clean accuracy, the accuracy with
the camera lost, with the LiDAR lost, and the mean corrupted accuracy.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path

from mmzoo.cli import main

RESULTS = Path(__file__).resolve().parent / "results" / "robustness"
DOCS_PLOT = Path(__file__).resolve().parents[1] / "docs" / "robustness.png"
FRAMES = 128
SEED = 1
ASSIGNMENT = ("late_fusion", "intermediate_cat", "intermediate_add", "intermediate_hadamard")
SEEDS = (51, 52, 53)
COLUMNS = ("clean", "camera_missing@5", "lidar_missing@5", "mean_corrupted")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=FRAMES)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dropout-comparison", action="store_true", help="train with and without modality dropout")
    parser.add_argument("--dropout", type=float, default=0.25, help="modality_dropout of the comparison's runs")
    parser.add_argument("--models", nargs="+", default=list(ASSIGNMENT))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    return parser.parse_args(argv)


def table_argv(args: argparse.Namespace, out: str, run_dirs: list[Path] = ()) -> list[str]:
    """The ``mmzoo robustness`` command line this script runs."""
    argv = ["robustness", "--frames", str(args.frames), "--seed", str(args.seed), "--out", out,
            "--threads", str(args.threads)]
    for run in run_dirs:
        argv += ["--run-dir", str(run)]
    return argv


def dropout_comparison(args: argparse.Namespace) -> int:
    out = Path(args.out) / "dropout-comparison"
    runs = []
    for model in args.models:
        for dropout in (0.0, args.dropout):
            for seed in args.seeds:
                run = out / "runs" / f"{model}-md{dropout:g}-s{seed}"
                code = main(["train", model, "--recipe", "assignment", "--set", f"seed={seed}", "--set",
                             f"modality_dropout={dropout}", "--set", "lidar_scale=0.02", "--run-dir", str(run)])
                if code:
                    return code
                runs.append((model, dropout, seed, run))
    code = main(table_argv(args, str(out), [run for *_, run in runs]))
    if code:
        return code
    summary = {e["model"]: e for e in json.loads((out / "results.json").read_text())["summary"]}
    lines = ["| network | modality dropout | seeds | " + " | ".join(COLUMNS) + " |", "|---" * (3 + len(COLUMNS)) + "|"]
    groups = []
    for model in args.models:
        for dropout in (0.0, args.dropout):
            entries = [summary[f"{model}@{run.name}"] for m, d, _, run in runs if m == model and d == dropout]
            stats = {c: (statistics.fmean(e[c] for e in entries), statistics.stdev(e[c] for e in entries)
                         if len(entries) > 1 else 0.0) for c in COLUMNS}
            groups.append({"model": model, "modality_dropout": dropout, "seeds": len(entries), **stats})
            cells = [f"{mean:.3f} ± {sd:.3f}" for mean, sd in stats.values()]
            lines.append(f"| {model} | {dropout:g} | {len(entries)} | " + " | ".join(cells) + " |")
    (out / "comparison.md").write_text("\n".join(lines) + "\n")
    (out / "comparison.json").write_text(json.dumps(groups, indent=2) + "\n")
    print("\n".join(lines))
    return 0


def publish_plot(out: Path) -> None:
    """The docs show the published plot: MkDocs serves only files under docs/, so it keeps a byte-identical copy."""
    if out.resolve() == RESULTS.resolve():
        shutil.copyfile(RESULTS / "robustness.png", DOCS_PLOT)


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.dropout_comparison:
        sys.exit(dropout_comparison(arguments))
    status = main(table_argv(arguments, arguments.out))
    if status == 0:
        publish_plot(Path(arguments.out))
    sys.exit(status)
