"""Does bf16 autocast train the assignment networks as accurately as float32? The scaled assignment table in both.

The ``assignment-scaled`` table (the notebook's recipe and eight architectures with ``lidar_scale=0.02``, seeds
51-53) is published in float32. This script measures the same rows under bf16 autocast (``amp="bf16"``; a CPU
with bf16 matrix hardware or a GPU) into ``benchmarks/results/assignment-scaled-bf16/``, and writes, per
architecture, both precisions' best validation accuracy over the seeds and whether bf16 holds parity, into
``studies/results/precision-parity/results.{json,md}``::

    python studies/precision_parity.py --shard 0/2 --threads 1 &   # measure (resumable, two processes)
    python studies/precision_parity.py --shard 1/2 --threads 1
    python studies/precision_parity.py --report-only               # compare the finished rows

Parity: the bf16 mean accuracy lies within the float32 seeds' mean ± one standard deviation, widened to at least
one validation frame (accuracy moves in steps of 1/400, so a narrower band could not be measured). The result
tells a user which architectures keep float32's accuracy when they opt in to bf16 (``amp="bf16"``).
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

from mmzoo.bench import TABLES, load_rows, run_table
from mmzoo.bench.report import epochs_text, write_result

#: The two tables compared are benchmark tables (benchmarks/results/); the comparison is this study's.
TABLE_RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
RESULTS = Path(__file__).resolve().parent / "results"
FLOAT32, BF16 = TABLES["assignment-scaled"], TABLES["assignment-scaled-bf16"]
OUT = RESULTS / "precision-parity"


def accuracies(table_dir: Path) -> dict[str, dict[int, dict[str, Any]]]:
    """model -> seed -> the engine row's best validation accuracy, loss, train time and device."""
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for row in load_rows(table_dir):
        if row["loop"] == "engine":
            out.setdefault(row["model"], {})[row["seed"]] = {
                "accuracy": row["val_accuracy"], "loss": row["val_loss"], "train_time_s": row["train_time_s"],
                "device": row["device"], "dtype": row["dtype"], "val_frames": row["recipe_fields"]["val_frames"]}
    return out


def parity(float32: list[float], bf16: list[float], resolution: float) -> dict[str, Any]:
    """Whether bf16's mean lies within float32's mean ± max(std, resolution).

    >>> parity([0.99, 1.0, 1.0], [1.0, 1.0, 0.9975], 0.0025)["holds"]
    True
    """
    mean32, mean16 = statistics.fmean(float32), statistics.fmean(bf16)
    band = max(statistics.stdev(float32) if len(float32) > 1 else 0.0, resolution)
    return {"float32_mean": mean32, "bf16_mean": mean16, "band": band, "difference": mean16 - mean32,
            "holds": abs(mean16 - mean32) <= band}


def compare() -> dict[str, Any]:
    """Per architecture: both precisions per seed, and parity where all seeds of both are measured."""
    runs32, runs16 = accuracies(TABLE_RESULTS / FLOAT32.name), accuracies(TABLE_RESULTS / BF16.name)
    models = []
    for model in FLOAT32.models:
        seeds = [seed for seed in FLOAT32.seeds if seed in runs16.get(model, {}) and seed in runs32.get(model, {})]
        entry: dict[str, Any] = {"model": model, "seeds": seeds,
                                 "float32": [runs32[model][s] for s in seeds], "bf16": [runs16[model][s] for s in seeds]}
        if len(seeds) == len(FLOAT32.seeds):
            resolution = 1 / entry["float32"][0]["val_frames"]  # one validation frame
            entry.update(parity([r["accuracy"] for r in entry["float32"]], [r["accuracy"] for r in entry["bf16"]],
                                resolution))
        models.append(entry)
    return {"float32_table": FLOAT32.name, "bf16_table": BF16.name, "models": models}


def markdown(result: dict[str, Any]) -> str:
    """The comparison as a Markdown table, with the machines that measured each precision."""
    devices = sorted({f"{r['device']} ({r['dtype']})" for m in result["models"] for r in m["float32"] + m["bf16"]})
    lines = ["Machines: " + "; ".join(devices) + ".", "",
             "| model | seeds | float32 accuracy | bf16 accuracy | bf16 - float32 | band | parity |",
             "|---|---|---|---|---|---|---|"]
    for m in result["models"]:
        if "holds" not in m:
            lines.append(f"| {m['model']} | {epochs_text(m['seeds'])} | not measured yet | | | | |")
            continue
        lines.append(
            f"| {m['model']} | {epochs_text(m['seeds'])} | {epochs_text([r['accuracy'] for r in m['float32']], 4)} "
            f"| {epochs_text([r['accuracy'] for r in m['bf16']], 4)} | {m['difference']:+.4f} | ±{m['band']:.4f} "
            f"| {'holds' if m['holds'] else '**fails**'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, help="CPU threads per row (default: one per core)")
    parser.add_argument("--shard", help="measure rows R, R+W, ... (R/W)")
    parser.add_argument("--runs-dir", default=str(RESULTS.parent.parent / "runs"), help="checkpoints (not committed)")
    parser.add_argument("--report-only", action="store_true", help="measure nothing; compare the finished rows")
    args = parser.parse_args(argv)
    if not args.report_only:
        options: dict[str, Any] = {"threads": args.threads} if args.threads else {}
        shard = tuple(int(part) for part in args.shard.split("/")) if args.shard else None
        run_table(BF16, out_dir=TABLE_RESULTS, runs_dir=args.runs_dir, options=options, shard=shard)
    result = compare()
    sys.stdout.write(write_result(OUT, result, markdown(result)))


if __name__ == "__main__":
    main()
