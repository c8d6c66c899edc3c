"""``mmzoo robustness``: how each trained fusion model holds up when a sensor degrades or fails.

    mmzoo robustness --out robustness-results                     # every committed pretrained weight
    mmzoo robustness late_fusion.shapes_v1 intermediate_cat --frames 128 --out rb
    mmzoo robustness --run-dir runs/cat --run-dir runs/late --out rb    # models trained with `mmzoo train`
    mmzoo robustness --list                                       # the corruptions and their severity levels
"""
from __future__ import annotations

import argparse
import sys

import torch

from mmzoo.bench.robustness import evaluate_robustness, load_subject, summarize_robustness, write_robustness_reports
from mmzoo.data.corruptions import corruption_table, list_corruptions
from mmzoo.registry import list_pretrained, split_model_name_tag
from mmzoo.train.resources import device_name

__all__ = ["register", "default_baseline"]


def default_baseline(names: list[str]) -> str | None:
    """MultiBench's baseline is late fusion: the first model whose architecture is ``late_fusion``, if any."""
    return next((n for n in names if split_model_name_tag(n.split("@")[0])[0] == "late_fusion"), None)


def _cmd_robustness(args: argparse.Namespace) -> int:
    if args.list:
        for row in corruption_table():
            levels = ", ".join(str(level) for level in row["levels"])
            print(f"{row['name']:20} {row['modality']:6} {row['parameter']}: {levels}")
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    names = list(args.models) or ([] if args.run_dirs else list_pretrained())
    subjects = [load_subject(name) for name in [*names, *args.run_dirs]]
    if not subjects:
        raise ValueError("no models to evaluate: name pretrained weights or pass --run-dir")
    labels = [s.name for s in subjects]
    baseline = args.baseline or default_baseline(labels)
    report = None if args.quiet else (lambda text: print(f"  {text}", file=sys.stderr, flush=True))
    rows = evaluate_robustness(subjects, frames=args.frames, seed=args.seed, corruptions=args.corruptions,
                               progress=report)
    summary = summarize_robustness(rows, baseline=baseline)
    settings = {
        "frames": args.frames, "seed": args.seed, "models": labels, "baseline": baseline,
        "machine": device_name(torch.device("cpu")), "torch": torch.__version__,
        "corruptions": args.corruptions or list_corruptions(),
    }
    paths = write_robustness_reports(args.out, rows, summary, settings)
    print(paths["md"].read_text())
    print("written: " + ", ".join(str(path) for path in paths.values()))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("robustness", help="evaluate trained models on corrupted frames (sensor failures)")
    parser.add_argument("models", nargs="*", help="pretrained weights (arch.tag); default: every committed one")
    parser.add_argument("--run-dir", dest="run_dirs", action="append", default=[], metavar="DIR",
                        help="also evaluate the model of a `mmzoo train --run-dir` folder (repeatable)")
    parser.add_argument("--frames", type=int, default=256, help="validation frames per model (default 256)")
    parser.add_argument("--seed", type=int, default=1,
                        help="data seed of the frames, unseen in training (default 1; the weights used 0)")
    parser.add_argument("--corruptions", nargs="+", choices=list_corruptions(), help="default: all")
    parser.add_argument("--baseline", help="model for effective robustness (default: the late_fusion one)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.add_argument("--out", default="robustness-results", help="results folder (default robustness-results/)")
    parser.add_argument("--list", action="store_true", help="list the corruptions and their levels")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.set_defaults(func=_cmd_robustness)
