"""``mmzoo export``: train (or reuse a finished run), evaluate and write publishable weight folders.

    mmzoo export intermediate_cat --recipe assignment --tag shapes_v1 --out weights \\
        --run-dir runs/assignment/intermediate_cat/seed51
    mmzoo export late_fusion intermediate_add --run-dir 'runs/assignment/{model}/seed51'   # several at once
    mmzoo export late_fusion --set train_frames=64 --set val_frames=32 --set epochs=1 --out /tmp/w  # a quick try
"""
from __future__ import annotations

import argparse
import json

__all__ = ["register"]


def _cmd_export(args: argparse.Namespace) -> int:
    # Imported here: the training engine is only needed when exporting, not for `mmzoo --help`.
    from mmzoo.export import export_weights
    from mmzoo.train import EngineOptions

    if args.run_dir and len(args.models) > 1 and "{model}" not in args.run_dir:
        raise ValueError("several models need a --run-dir with a {model} placeholder, e.g. 'runs/{model}/seed51'")
    index = False if args.no_index else (args.index or True)
    rows = []
    for name in args.models:
        run_dir = args.run_dir.format(model=name) if args.run_dir else None
        result = export_weights(
            name, args.recipe, args.tag, args.out, run_dir=run_dir, overrides=args.overrides,
            options=EngineOptions(device=args.device, progress=not args.json), index=index, org=args.org,
        )
        weight = result.weight
        row = {"name": weight.name, "folder": str(result.folder), "reused_run": result.reused_run,
               "sha256": weight.sha256, "num_bytes": weight.num_bytes, "num_params": weight.num_params,
               **{f"val_{k}": v for k, v in weight.metrics.items()},
               "index": None if result.index is None else str(result.index)}
        rows.append(row)
        if not args.json:
            metrics = "  ".join(f"val_{k}={v:.4f}" for k, v in weight.metrics.items())
            run = "reused finished run" if result.reused_run else "trained"
            print(f"{weight.name}: {run}; {metrics}; {weight.num_bytes:,} bytes -> {result.folder}")
    if args.json:
        print(json.dumps(rows, indent=2))
    elif rows and rows[-1]["index"]:
        print(f"index updated: {rows[-1]['index']}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``export``."""
    p = subparsers.add_parser("export", help="train/evaluate a model and write weights/<arch>.<tag>/ (+ model card)")
    p.add_argument("models", nargs="+", metavar="MODEL", help="registered architecture(s), e.g. intermediate_cat")
    p.add_argument("--recipe", default="assignment", help="training recipe (default assignment)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field (repeatable), e.g. --set epochs=5")
    p.add_argument("--tag", default="shapes_v1", help="pretrained tag: the folder is <arch>.<tag> (default shapes_v1)")
    p.add_argument("--out", default="weights", help="folder receiving <arch>.<tag>/ (default weights)")
    p.add_argument("--run-dir", help="training run folder; a finished run is reused, an unfinished one resumed "
                                     "({model} is replaced by each model's name)")
    p.add_argument("--index", help="pretrained index to update (default: the package's when --out is this "
                                   "checkout's weights/, else OUT/pretrained_index.json)")
    p.add_argument("--no-index", action="store_true", help="update no index")
    p.add_argument("--org", default="mmzoo", help="Hub organisation of the recorded repo id (default mmzoo)")
    p.add_argument("--device", default="auto", help="training device: auto, cpu, cuda, ... (default auto)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=_cmd_export)
