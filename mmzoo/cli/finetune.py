"""``mmzoo train NAME --pretrained [TAG] --data-dir FOLDER --out MODEL``: fine-tune on your own data.

    mmzoo train late_fusion --pretrained --data-dir my_data --out my_model                 # default tag
    mmzoo train late_fusion --pretrained shapes_v1 --data-dir my_data --out my_model --freeze encoders
    mmzoo train late_fusion --pretrained --data-dir my_data --out my_model --backbone-lr-scale 0.1
    mmzoo train late_fusion --data-dir my_data --out my_model                              # random start

A ``--data-dir`` in the own-data format (``rgb/``, ``lidar/`` and a labels file, see ``docs/finetune.md``) or
``--pretrained`` takes this path; the result is a weight folder that ``mmzoo.create("local-dir:MODEL")`` loads.
``--set`` changes recipe fields (``epochs``, ``lr``, ``batch_size``, ``seed``...).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from mmzoo.cli.options import tracking_from_args
from mmzoo.data.own import LABELS_FILES
from mmzoo.release.finetuned import save_finetuned
from mmzoo.train.finetune import finetune
from mmzoo.train.recipes import FREEZE, get_recipe

__all__ = ["add_finetune_arguments", "wants_finetune", "run_finetune"]


def add_finetune_arguments(parser: argparse.ArgumentParser) -> None:
    """The fine-tuning flags of ``mmzoo train``."""
    parser.add_argument("--pretrained", nargs="?", const=True, default=None, metavar="TAG",
                        help="start from the published weights (the default tag, or TAG) and fine-tune on --data-dir")
    parser.add_argument("--freeze", choices=[f for f in FREEZE if f], help="keep these weights fixed: the "
                        "per-modality encoders, or the whole backbone (only the head's last layer trains)")
    parser.add_argument("--backbone-lr-scale", type=float, default=1.0, metavar="F",
                        help="learning rate of everything but the new head, as a fraction of lr (e.g. 0.1)")
    parser.add_argument("--keep-head", action="store_true",
                        help="keep the weights' head (its outputs must fit the labels) instead of a new one")
    parser.add_argument("--out", help="fine-tuning: the weight folder to write (model, config.json, card)")
    parser.add_argument("--overwrite", action="store_true", help="replace a model already in --out")


def wants_finetune(args: argparse.Namespace) -> bool:
    """True for ``--pretrained`` or a ``--data-dir`` in the own-data format (it holds a labels file)."""
    own = args.data_dir is not None and any((Path(args.data_dir) / name).is_file() for name in LABELS_FILES)
    return args.pretrained is not None or own


def _recipe_changes(overrides: list[str]) -> dict:
    """``--set`` recipe fields, typed as the recipe's fields are."""
    typed = get_recipe("assignment", train_frames=10**9).override(overrides)  # typed and checked, not used
    keys = [text.partition("=")[0].strip().replace("-", "_") for text in overrides]
    return {key: getattr(typed, key) for key in keys}


def run_finetune(args: argparse.Namespace, overrides: list[str], model_kwargs: dict, options) -> int:
    """Fine-tune, write ``--out`` and print the summary (what ``mmzoo train`` does on this path)."""
    if args.data_dir is None:
        raise ValueError("--pretrained fine-tunes on your own data: give --data-dir FOLDER (rgb/, lidar/ and "
                         f"{' or '.join(LABELS_FILES)}; see docs/finetune.md)")
    if not args.out:
        raise ValueError("fine-tuning writes a weight folder: give --out FOLDER")
    if model_kwargs:
        raise ValueError(f"--set {next(iter(model_kwargs))}=...: fine-tuning keeps the architecture's arguments; "
                         "--set takes recipe fields here (epochs, lr, batch_size, seed, ...)")
    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.overwrite:  # refuse before training, not after
        raise FileExistsError(f"{out} is not empty; give a new folder or --overwrite")
    result = finetune(args.model, args.data_dir, pretrained=args.pretrained if args.pretrained is not None else False,
                      keep_head=args.keep_head, freeze=args.freeze or "", backbone_lr_scale=args.backbone_lr_scale,
                      run_dir=args.run_dir, options=options, log=tracking_from_args(args),
                      **_recipe_changes(overrides))
    folder = save_finetuned(result, out, overwrite=args.overwrite)
    summary = {"model": args.model, "start": result.start, "out": str(folder), "best_epoch": result.fit.best_epoch,
               **{f"val_{key}": round(value, 6) for key, value in result.best.items()},
               "train_time_s": round(result.fit.train_time_s, 2), "device": result.fit.device}
    print(json.dumps(summary) if args.json else "  ".join(f"{key}={value}" for key, value in summary.items()))
    return 0
