"""Measure the published benchmark tables into benchmarks/results/, then copy them into the documentation.

    python benchmarks/run_tables.py                      # every table, then docs/benchmarks.md and the README
    python benchmarks/run_tables.py --tables quick       # one table
    python benchmarks/run_tables.py --tables quick --amp fp32 --machine fp32   # in float32, beside it
    python benchmarks/run_tables.py --docs-only          # only copy finished tables (benchmarks/update_docs.py)
    python benchmarks/run_tables.py --tables zoo-shapes --threads 1 &  # two tables at once on a 2-core CPU
    python benchmarks/run_tables.py --tables zoo-cubes --threads 1
    python benchmarks/run_tables.py --tables assignment --models late_fusion intermediate_cat --shard 0/2 --threads 1 &

Each table is measured with ``mmzoo.bench.run_table`` (one process per row; a rerun skips finished rows and an
interrupted row resumes from its last epoch, so this script can be stopped and started again at any time).
On this project's 2-core CPU the full set takes hours; on a GPU, minutes. ``--set`` changes every table's recipe
(the course table was published with ``--set train_frames=1000`` on CPU; see docs/benchmarks.md).
"""
from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from mmzoo.bench import TABLES, run_table
from mmzoo.cli.train import AMP_CHOICES

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
ORDER = ("quick", "assignment-scaled", "assignment", "course")  # the default run order


def _update_docs():
    """benchmarks/update_docs.py, the one place that copies tables into pages (loaded by path: not a package)."""
    spec = importlib.util.spec_from_file_location("update_docs", Path(__file__).with_name("update_docs.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _shard(text: str) -> tuple[int, int]:
    """``"R/W"`` as ``(R, W)``, with 0 <= R < W."""
    try:
        rank, world = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard takes RANK/WORLD, e.g. 0/2; got {text!r}") from None
    if not 0 <= rank < world:
        raise argparse.ArgumentTypeError(f"--shard {text}: RANK must be in 0..WORLD-1")
    return rank, world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", nargs="+", default=list(ORDER), choices=sorted(TABLES))
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--machine", help="write under benchmarks/results/MACHINE/ (e.g. gpu-h100) instead of benchmarks/results/"
    )
    parser.add_argument("--runs-dir", default=str(ROOT / "runs"), help="engine checkpoints (not committed)")
    parser.add_argument("--threads", type=int, help="CPU threads per row (default: one per core)")
    parser.add_argument("--amp", choices=sorted(AMP_CHOICES), help="precision (default: each table's own)")
    parser.add_argument("--models", nargs="+", help="measure only these models' rows (the report keeps every row)")
    parser.add_argument("--seeds", nargs="+", type=int, help="measure only these seeds' rows")
    parser.add_argument("--shard", type=_shard, metavar="R/W", help="measure rows R, R+W, ... (one process of W)")
    parser.add_argument("--docs-only", action="store_true", help="measure nothing; only update the pages")
    parser.add_argument("--seeds-at-once", action="store_true", help="train each model's seeds together (fit_many)")
    parser.add_argument("--whole-step-graphs", action="store_true", help="replay whole training steps as CUDA graphs")
    args = parser.parse_args()
    if not args.docs_only:
        out_dir = RESULTS / args.machine if args.machine else RESULTS
        for table in args.tables:
            options = {"threads": args.threads} if args.threads else {}
            if args.amp:
                options["amp"] = AMP_CHOICES[args.amp]
            if args.whole_step_graphs:
                options["whole_step_graphs"] = True  # experimental (mmzoo.train.experimental)
            run_table(table, out_dir=out_dir, runs_dir=args.runs_dir, overrides=tuple(args.overrides), options=options,
                      models=tuple(args.models) if args.models else None,
                      seeds=tuple(args.seeds) if args.seeds else None, shard=args.shard,
                      seeds_at_once=args.seeds_at_once)
    for page, names in _update_docs().update_pages().items():
        print(f"{page}: {', '.join(names) or 'no bench: blocks'}")


if __name__ == "__main__":
    main()
