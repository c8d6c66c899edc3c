"""Regenerate the published robustness table, and (long) the with/without modality-dropout comparison.

    nice -n 10 python benchmarks/robustness.py                 # writes benchmarks/results/robustness/
    python benchmarks/robustness.py --frames 32 --out /tmp/rb  # a quick look
    python benchmarks/robustness.py --dropout-comparison --shard 0/2 &   # trains and evaluates 36 runs in
    python benchmarks/robustness.py --dropout-comparison --shard 1/2     # two processes (one per core)
    python benchmarks/robustness.py --dropout-comparison --report        # merges them into comparison.md
    python benchmarks/robustness.py --dropout-comparison --budget zoo --dropout 0.5 1.0   # zoo recipe, two rates

The table is ``mmzoo robustness`` with the published settings (128 frames of data seed 1, which no weight was
trained on; every registered corruption at severities 0..5; late fusion as the effective-robustness baseline),
so the command line and this script give the same files. Evaluation only: about half an hour on a 2-core CPU
shared with other work.

``--dropout-comparison`` trains the four assignment networks and the two best catalogue operators of the zoo table
(MMTM, two-stage FiLM) with the first zoo table's 100-step assignment recipe, or with ``--budget zoo`` the zoo
recipe's 500 steps into ``OUT/dropout-comparison-zoo/`` (``lidar_scale=0.02`` either way), at seeds 51-53, with
``modality_dropout`` 0 and each ``--dropout`` value (default 0.25), resumably under that folder's ``runs/``, then
evaluates every run folder as the table above and writes ``comparison.md`` / ``.json``: per network and dropout
setting the mean and standard deviation over seeds of the clean accuracy, the accuracy with the camera lost, with
the LiDAR lost, and the mean corrupted accuracy. ``--shard RANK/WORLD`` splits the runs between processes, each
evaluating its own into ``eval-RANK/``; ``--report`` merges them.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path

from mmzoo.bench.tables import ZOO_SHAPES_RECIPE, ZOO_SHORTENING
from mmzoo.cli import main
from mmzoo.utils.files import atomic_write_json, atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results" / "robustness"
DOCS_PLOT = Path(__file__).resolve().parents[1] / "docs" / "robustness.png"
FRAMES = 128
SEED = 1
ASSIGNMENT = ("late_fusion", "intermediate_cat", "intermediate_add", "intermediate_hadamard")
#: The comparison's networks: the four assignment networks and the zoo table's two best catalogue operators.
COMPARED = (*ASSIGNMENT, "mmtm", "multistage_film")
SEEDS = (51, 52, 53)
COLUMNS = ("clean", "camera_missing@5", "lidar_missing@5", "mean_corrupted")
#: The comparison's training budgets, as (results folder, recipe settings, how the caption names them): the first
#: zoo table's 100 steps, and the zoo recipe's 500 (its measured plateau on cube vs sphere).
BUDGETS = {
    "100-steps": ("dropout-comparison", ZOO_SHORTENING, "The assignment recipe shortened as the zoo table"),
    "zoo": ("dropout-comparison-zoo", ZOO_SHAPES_RECIPE, "The assignment recipe at the zoo recipe's budget"),
    # Twice the zoo budget: with dropout each modality trains alone in only part of the steps.
    "1000-steps": ("dropout-comparison-1000-steps", (*ZOO_SHAPES_RECIPE[:-1], "epochs=20"),
                   "The assignment recipe at twice the zoo recipe's budget"),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=FRAMES)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dropout-comparison", action="store_true", help="train with and without modality dropout")
    parser.add_argument("--dropout", type=float, nargs="+", default=[0.25],
                        help="modality_dropout of the comparison's runs (each compared with 0)")
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="100-steps",
                        help="training budget: the first zoo table's 100 steps, the zoo recipe's 500 or twice that; "
                        "written to OUT/dropout-comparison/, OUT/dropout-comparison-zoo/ or -1000-steps/")
    parser.add_argument("--models", nargs="+", default=list(COMPARED))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--shard", default="0/1", help="RANK/WORLD: this process trains and evaluates every "
                        "WORLD-th run of the comparison, starting at RANK (one process per core)")
    parser.add_argument("--report", action="store_true", help="only merge the shards' evaluations")
    parser.add_argument("--baseline-runs", nargs="+", default=[], metavar="RUN_DIR",
                        help="single-modality run folders (the zoo table's course_rgb_only / course_lidar_only) "
                        "evaluated alike into OUT/.../baselines/ and shown under the comparison")
    return parser.parse_args(argv)


def table_argv(args: argparse.Namespace, out: str, run_dirs: list[Path] = ()) -> list[str]:
    """The ``mmzoo robustness`` command line this script runs."""
    argv = ["robustness", "--frames", str(args.frames), "--seed", str(args.seed), "--out", out,
            "--threads", str(args.threads)]
    for run in run_dirs:
        argv += ["--run-dir", str(run)]
    return argv


def comparison_runs(args: argparse.Namespace, out: Path) -> list[tuple[str, float, int, Path]]:
    """Every (network, modality dropout, seed, run folder) of the comparison, in a fixed order."""
    return [(model, dropout, seed, out / "runs" / f"{model}-md{dropout:g}-s{seed}")
            for model in args.models for dropout in (0.0, *args.dropout) for seed in args.seeds]


def train_and_evaluate(args: argparse.Namespace, out: Path) -> int:
    """Train this shard's runs (resuming any that stopped), then evaluate them into ``out/eval-RANK``."""
    rank, world = (int(part) for part in args.shard.split("/"))
    mine = comparison_runs(args, out)[rank::world]
    for model, dropout, seed, run in mine:
        settings = [*BUDGETS[args.budget][1], f"seed={seed}", f"modality_dropout={dropout}", "lidar_scale=0.02"]
        argv = ["train", model, "--recipe", "assignment", "--run-dir", str(run), "--threads", str(args.threads)]
        code = main([*argv, *(item for setting in settings for item in ("--set", setting))])
        if code:
            return code
    if rank == 0 and args.baseline_runs:
        code = main(table_argv(args, str(out / "baselines"), [Path(run) for run in args.baseline_runs]))
        if code:
            return code
    return main(table_argv(args, str(out / f"eval-{rank}"), [run for *_, run in mine]))


def write_comparison(args: argparse.Namespace, out: Path) -> str:
    """Merge the shards' evaluations into ``comparison.md`` / ``.json``: mean and sd over seeds per group."""
    summary = {}
    for results in sorted(out.glob("eval-*/results.json")):
        summary.update({entry["model"]: entry for entry in json.loads(results.read_text())["summary"]})
    runs = comparison_runs(args, out)
    missing = [run.name for *_, run in runs if f"{run.name.split('-md')[0]}@{run.name}" not in summary]
    if missing:
        raise SystemExit(f"not evaluated yet: {', '.join(missing)}; run every shard first")
    lines = ["| network | modality dropout | seeds | " + " | ".join(COLUMNS) + " |", "|---" * (3 + len(COLUMNS)) + "|"]
    groups = []
    for model in args.models:
        for dropout in (0.0, *args.dropout):
            entries = [summary[f"{model}@{run.name}"] for m, d, _, run in runs if m == model and d == dropout]
            stats = {c: (statistics.fmean(e[c] for e in entries), statistics.stdev(e[c] for e in entries)
                         if len(entries) > 1 else 0.0) for c in COLUMNS}
            groups.append({"model": model, "modality_dropout": dropout, "seeds": len(entries), **stats})
            cells = [f"{mean:.3f} ± {sd:.3f}" for mean, sd in stats.values()]
            lines.append(f"| {model} | {dropout:g} | {len(entries)} | " + " | ".join(cells) + " |")
    baselines = out / "baselines" / "results.json"
    for entry in json.loads(baselines.read_text())["summary"] if baselines.is_file() else []:
        model, run = entry["model"].split("@", 1)
        groups.append({"model": model, "baseline_run": run, "seeds": 1, **{c: (entry[c], 0.0) for c in COLUMNS}})
        lines.append(f"| {model} (baseline, run {run}) | - | 1 | " + " | ".join(f"{entry[c]:.3f}" for c in COLUMNS)
                     + " |")
    settings = json.loads(next(out.glob("eval-*/results.json")).read_text())["settings"]
    _, budget, named = BUDGETS[args.budget]
    caption = (f"\n{named} ({', '.join(budget)}), `lidar_scale=0.02`, "
               f"seeds {', '.join(map(str, args.seeds))}; evaluated on {settings['frames']} frames of data seed "
               f"{settings['seed']}; mean ± standard deviation over the seeds. Machine: {settings['machine']}.\n")
    markdown = "\n".join(lines) + "\n" + caption
    atomic_write_text(out / "comparison.md", markdown)
    atomic_write_json(out / "comparison.json", {"settings": settings, "groups": groups})
    return markdown


def dropout_comparison(args: argparse.Namespace) -> int:
    out = Path(args.out) / BUDGETS[args.budget][0]
    if not args.report:
        code = train_and_evaluate(args, out)
        if code or args.shard != "0/1":
            return code
    print(write_comparison(args, out))
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
