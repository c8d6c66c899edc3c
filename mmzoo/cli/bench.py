"""``mmzoo bench``: measure a comparison table, one process per row, resumable, results as CSV/JSON/MD/PNG.

    mmzoo bench --quick                              # the README's main command (a few minutes on 2 CPU cores)
    mmzoo bench --table assignment-scaled            # the published table (three seeds, full recipe)
    mmzoo bench --table course --set train_frames=2000 --models course_early_fusion course_lidar_only
    mmzoo bench --quick --set lidar_scale=0.05                # model arguments too: new rows, new run folders
    mmzoo bench --table assignment --devices cuda:0 cuda:1    # rows spread over two GPUs
    mmzoo bench --table assignment-scaled --device cuda --seeds-at-once --whole-step-graphs   # 3 seeds per process
    torchrun --nproc-per-node 4 -m mmzoo bench --table assignment-scaled   # rows spread over ranks
    mmzoo bench --list                               # the tables
"""
from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from mmzoo.bench.harness import run_table
from mmzoo.bench.tables import TABLES, get_table
from mmzoo.cli.options import add_log_options, add_shared_options, split_settings, tracking_from_args
from mmzoo.cli.train import add_engine_arguments, amp_from_args

__all__ = ["register"]


def _table_name(args: argparse.Namespace) -> str:
    """The table asked for: ``--quick`` (the one spelling of the README's table) or ``--table NAME``. The quick
    table's older spellings, a bare ``mmzoo bench`` and ``--table quick``, still run it, with a warning."""
    if args.quick:
        return "quick"
    if args.table in (None, "quick"):
        said = "mmzoo bench" if args.table is None else "mmzoo bench --table quick"
        warnings.warn(f"`{said}` is deprecated and will be removed: the quick table is `mmzoo bench --quick`",
                      FutureWarning, stacklevel=2)
        return "quick"
    return args.table


def _cmd_bench(args: argparse.Namespace) -> int:
    if args.list:
        for name, table in TABLES.items():
            print(f"{name:18} {len(table.models)} models x {len(table.seeds)} seed(s), recipe {table.recipe}"
                  f"{' ' + ' '.join(table.overrides) if table.overrides else ''}: {table.title}")
        return 0
    name = _table_name(args)
    table = get_table(name)
    overrides, model_kwargs = split_settings(args.settings, args.models or table.models)
    options = {"device": args.device, "channels_last": args.channels_last, "compile": args.compile,
               "cuda_graphs": args.cuda_graphs}
    if args.whole_step_graphs:  # experimental (mmzoo.train.experimental)
        options["whole_step_graphs"] = True
    if args.amp is not None:  # otherwise the table's precision
        options["amp"] = amp_from_args(args)
    if args.threads:
        options["threads"] = args.threads
    paths = run_table(
        name, out_dir=args.out, runs_dir=args.runs_dir, overrides=tuple(overrides), model_kwargs=model_kwargs,
        models=tuple(args.models) if args.models else None, seeds=tuple(args.seeds) if args.seeds else None,
        options=options, devices=tuple(args.devices or ()), data_dir=args.data_dir, progress=not args.quiet,
        seeds_at_once=args.seeds_at_once,
        log=tracking_from_args(args, str(args.out), experiment=f"bench-{name}"),
    )
    print(Path(paths["md"]).read_text())
    print("written: " + ", ".join(str(path) for path in paths.values()))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    bench = subparsers.add_parser("bench", help="train and measure a comparison table (resumable)")
    which = bench.add_mutually_exclusive_group()
    which.add_argument("--quick", action="store_true", help="the short table of the README (a few minutes on CPU)")
    which.add_argument("--table", help=f"table name ({', '.join(n for n in TABLES if n != 'quick')}); the quick "
                                       "table is --quick")
    which.add_argument("--list", action="store_true", help="list the tables")
    bench.add_argument("--models", nargs="+", help="only these models of the table")
    bench.add_argument("--seeds", nargs="+", type=int, help="only these seeds of the table")
    add_shared_options(bench)  # --set changes every row (and makes new rows); --data-dir, --device
    bench.add_argument("--out", default="bench-results", help="results folder (default bench-results/)")
    bench.add_argument("--runs-dir", help="checkpoint folder (default OUT/runs); rows resume from it")
    bench.add_argument("--devices", nargs="+", help="run rows concurrently, one per device (cuda:0 cuda:1 ...)")
    bench.add_argument("--quiet", action="store_true", help="no progress bar")
    bench.add_argument("--seeds-at-once", action="store_true",
                       help="train each model's seeds together in one process (mmzoo.train.fit_many): pays where a "
                            "step waits on kernel launches (a GPU), not on a CPU; makes new rows")
    add_engine_arguments(bench)
    add_log_options(bench, "OUT")  # the table is one experiment, each row a run
    bench.set_defaults(func=_cmd_bench)
