"""``mmzoo train``: train one registered model with a named recipe, resumably.

    mmzoo train intermediate_cat --recipe assignment --run-dir runs/cat
    mmzoo train course_early_fusion --recipe course --set train_frames=2000 --set epochs=5
    mmzoo train late_fusion --data-dir /data/assessment        # the real frames, in the course's layout
    mmzoo recipes                                              # the recipes and their fields
"""
from __future__ import annotations

import argparse
import json

from mmzoo.train.engine import EngineOptions, fit
from mmzoo.train.recipes import RECIPES, get_recipe

__all__ = ["register", "add_recipe_arguments", "add_engine_arguments", "recipe_from_args", "options_from_args"]


def add_recipe_arguments(parser: argparse.ArgumentParser, default: str = "assignment") -> None:
    """``--recipe NAME`` and repeatable ``--set key=value`` (shared by ``train`` and ``bench``)."""
    parser.add_argument("--recipe", default=default, help=f"recipe name ({', '.join(sorted(RECIPES))}; default {default})")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a recipe field, e.g. --set epochs=5 --set lr=3e-4 (repeatable; see `mmzoo recipes`)",
    )
    parser.add_argument("--data-dir", help="train on a course/assessment folder instead of generated frames")


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """Device and speed flags (they never change what is trained, only how fast)."""
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:1, ...")
    parser.add_argument("--amp", choices=["bf16"], help="bfloat16 autocast on CUDA")
    parser.add_argument(
        "--compile", nargs="?", const=True, default=False, metavar="MODE",
        help="torch.compile the model; optional mode, e.g. reduce-overhead (pays on long CUDA runs)",
    )
    parser.add_argument(
        "--cuda-graphs", action=argparse.BooleanOptionalAction, default=None,
        help="replay each training step's forward and backward as CUDA graphs (default: on for one CUDA device "
        "without --compile; --no-cuda-graphs turns them off)",
    )
    parser.add_argument("--no-channels-last", dest="channels_last", action="store_false", help="keep NCHW")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: one per core)")


def recipe_from_args(args: argparse.Namespace):
    return get_recipe(args.recipe).override(args.overrides)


def options_from_args(args: argparse.Namespace, progress: bool = True) -> EngineOptions:
    return EngineOptions(
        device=args.device, channels_last=args.channels_last, amp=args.amp, compile=args.compile,
        cuda_graphs=args.cuda_graphs,
        threads=args.threads, progress=progress,
    )


def _cmd_train(args: argparse.Namespace) -> int:
    recipe = recipe_from_args(args)
    result = fit(args.model, recipe, data_dir=args.data_dir, run_dir=args.run_dir, options=options_from_args(args))
    summary = {
        "model": args.model,
        "recipe": recipe.name,
        "best_epoch": result.best_epoch,
        **{f"val_{key}": round(value, 6) for key, value in result.best.items()},
        "train_time_s": round(result.train_time_s, 2),
        "device": result.device,
    }
    if result.world_size > 1:  # under torchrun every rank returns the same result; rank 0 alone reports it
        if result.rank != 0:
            return 0
        summary["ranks"] = result.world_size
    print(json.dumps(summary) if args.json else "  ".join(f"{key}={value}" for key, value in summary.items()))
    return 0


def _cmd_recipes(args: argparse.Namespace) -> int:
    for name in sorted(RECIPES):
        fields = RECIPES[name].to_dict()
        print(name + ":  " + ", ".join(f"{key}={value}" for key, value in fields.items() if key != "name"))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser("train", help="train a model with a recipe (resumable with --run-dir)")
    train.add_argument("model", help="registered architecture, e.g. intermediate_cat")
    add_recipe_arguments(train)
    add_engine_arguments(train)
    train.add_argument("--run-dir", help="checkpoint every epoch here; rerunning resumes after the last finished one")
    train.add_argument("--json", action="store_true", help="print the summary as JSON")
    train.set_defaults(func=_cmd_train)
    recipes = subparsers.add_parser("recipes", help="list the training recipes and their fields")
    recipes.set_defaults(func=_cmd_recipes)
