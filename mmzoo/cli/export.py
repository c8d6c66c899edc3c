"""``mmzoo export``: train (or reuse a finished run), evaluate and write publishable weight folders; and
``mmzoo weights``: the published weights as a table (the README's is this command's output).

    mmzoo export intermediate_cat --recipe assignment --tag shapes_v1 --out weights \\
        --run-dir runs/assignment/intermediate_cat/seed51
    mmzoo export late_fusion intermediate_add --run-dir 'runs/assignment/{model}/seed51'   # several at once
    mmzoo export late_fusion --set train_frames=64 --set val_frames=32 --set epochs=1 --out /tmp/w  # a quick try
    mmzoo export intermediate_cat --set lidar_scale=0.02 --run-dir runs/assignment-scaled/intermediate_cat/seed51
    mmzoo weights --check-files        # the weight folders' config.json and cards against the index
    mmzoo weights --write-files        # rewrite them from the index (never model.safetensors)
"""
from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

from mmzoo.cli.models import format_table
from mmzoo.cli.options import add_shared_options, split_settings
from mmzoo.pretrained.availability import weight_availability
from mmzoo.registry import get_weights, list_pretrained

__all__ = ["register", "weight_rows", "WEIGHT_COLUMNS"]


WEIGHT_COLUMNS = ("name", "params", "dataset", "val acc", "val loss", "size MB", "sha256", "hub", "available")


def weight_rows(names: list[str]) -> list[tuple]:
    """One row per ``arch.tag``, in ``WEIGHT_COLUMNS`` order."""
    rows = []
    for name in names:
        w = get_weights(name)
        acc = w.metrics.get("accuracy")
        hub = f"{w.repo_id}@{w.revision[:12]}" if w.revision else "not published yet"
        rows.append((name, w.num_params, f"{w.dataset} {w.dataset_version}".strip(),
                     "-" if acc is None else f"{acc:.4f}", f"{w.metrics.get('loss', float('nan')):.4f}",
                     f"{w.num_bytes / 2**20:.2f}", w.sha256[:12], hub, weight_availability(w).describe()))
    return rows


README_MARKERS = ("<!-- weights:table -->", "<!-- /weights:table -->")


def update_readme(path: str, table: str) -> None:
    """Replace the block between ``README_MARKERS`` in ``path`` with ``table`` in a code fence."""
    readme = Path(path)
    text = readme.read_text()
    start, end = (text.find(marker) for marker in README_MARKERS)
    if start < 0 or end < start:
        raise ValueError(f"{path} has no {README_MARKERS[0]} ... {README_MARKERS[1]} block to fill")
    block = f"{README_MARKERS[0]}\n```\n{table}\n```\n"
    readme.write_text(text[:start] + block + text[end:])


def _cmd_weight_files(args: argparse.Namespace) -> int:
    """``--write-files`` / ``--check-files``: the weight folders' config.json and cards against the index."""
    from mmzoo.pretrained.locate import checkout_weights_dir
    from mmzoo.release.weight_files import stale_files, write_weight_files

    folder = Path(args.weights_dir) if args.weights_dir else checkout_weights_dir()
    if folder is None:
        raise ValueError("no weights/ folder of a source checkout here; name one with --weights-dir")
    if args.check_files:
        stale = stale_files(folder)
        for path in stale:
            print(f"stale: {path} (rewrite it with `mmzoo weights --write-files`)")
        print(f"{len(stale)} stale file(s) under {folder}")
        return 1 if stale else 0
    written = write_weight_files(folder)
    print(f"wrote {len(written)} file(s) under {folder}" + "".join(f"\n  {p}" for p in written))
    return 0


def _cmd_weights(args: argparse.Namespace) -> int:
    if args.write_files or args.check_files:
        return _cmd_weight_files(args)
    names = list_pretrained(args.filter or "")
    if args.update_readme:
        update_readme(args.update_readme, format_table(WEIGHT_COLUMNS, weight_rows(names)))
        print(f"updated the weights table in {args.update_readme}")
        return 0
    if args.json:
        print(json.dumps([get_weights(n).to_dict() for n in names], indent=2))
    elif not names:
        print("no pretrained weights are registered")
    else:
        print(format_table(WEIGHT_COLUMNS, weight_rows(names)))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    # Imported here: the training engine is only needed when exporting, not for `mmzoo --help`.
    from mmzoo.release.export import export_weights
    from mmzoo.train import EngineOptions

    if args.run_dir and len(args.models) > 1 and "{model}" not in args.run_dir:
        raise ValueError("several models need a --run-dir with a {model} placeholder, e.g. 'runs/{model}/seed51'")
    index = False if args.no_index else (args.index or True)
    if args.model_args:  # the older spelling of a model argument given with --set; both are checked the same way
        warnings.warn("--model-arg is deprecated and will be removed: give model arguments with --set KEY=VALUE "
                      "(e.g. --set lidar_scale=0.02)", FutureWarning, stacklevel=2)
    overrides, model_kwargs = split_settings([*args.settings, *args.model_args], args.models)
    rows = []
    for name in args.models:
        run_dir = args.run_dir.format(model=name) if args.run_dir else None
        result = export_weights(
            name, args.recipe, args.tag, args.out, run_dir=run_dir, overrides=overrides,
            options=EngineOptions(device=args.device, progress=not args.json, amp=None), index=index, org=args.org,
            model_kwargs=model_kwargs,
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
    """Add ``export`` and ``weights``."""
    p = subparsers.add_parser("export", help="train/evaluate a model and write weights/<arch>.<tag>/ (+ model card)")
    p.add_argument("models", nargs="+", metavar="MODEL", help="registered architecture(s), e.g. intermediate_cat")
    p.add_argument("--recipe", default="assignment", help="training recipe (default assignment)")
    add_shared_options(p, data_dir=False)  # export trains on the recipe's own frames
    p.add_argument("--model-arg", dest="model_args", action="append", default=[], metavar="KEY=VALUE",
                   help="deprecated: the older spelling of --set KEY=VALUE for a model argument")
    p.add_argument("--tag", default="shapes_v1", help="pretrained tag: the folder is <arch>.<tag> (default shapes_v1)")
    p.add_argument("--out", default="weights", help="folder receiving <arch>.<tag>/ (default weights)")
    p.add_argument("--run-dir", help="training run folder; a finished run is reused, an unfinished one resumed "
                                     "({model} is replaced by each model's name)")
    p.add_argument("--index", help="pretrained index to update (default: the package's when --out is this "
                                   "checkout's weights/, else OUT/pretrained_index.json)")
    p.add_argument("--no-index", action="store_true", help="update no index")
    p.add_argument("--org", default="mmzoo", help="Hub organisation of the recorded repo id (default mmzoo)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=_cmd_export)

    p = subparsers.add_parser("weights", help="list the published pretrained weights (metrics, size, sha256, Hub)")
    p.add_argument("filter", nargs="*", help="fnmatch wildcards, e.g. 'intermediate_*'")
    p.add_argument("--json", action="store_true", help="print every weight's full metadata as JSON")
    p.add_argument("--update-readme", metavar="README", help="rewrite the table between the weights:table markers")
    files = p.add_mutually_exclusive_group()
    files.add_argument("--write-files", action="store_true",
                       help="rewrite every weight folder's config.json and README.md from the pretrained index")
    files.add_argument("--check-files", action="store_true",
                       help="list the weight folders' files that differ from what the index says (exit 1 if any)")
    p.add_argument("--weights-dir", help="the weight folders for --write-files / --check-files (default: this "
                                         "checkout's weights/)")
    p.set_defaults(func=_cmd_weights)
