"""``mmzoo train``: train one registered model with a named recipe, resumably.

    mmzoo train intermediate_cat --recipe assignment --run-dir runs/cat
    mmzoo train intermediate_cat --set epochs=5 --set lr=3e-4 --set lidar_scale=0.02   # recipe fields, model args
    mmzoo train late_fusion --data-dir /data/assessment        # the real frames, in the course's layout
    mmzoo recipes                                              # the recipes and their fields
    mmzoo train late_fusion --pretrained --data-dir my_data --out my_model   # fine-tune (mmzoo.cli.finetune)

Ctrl-C stops a run cleanly: it says which epoch's checkpoint the run folder keeps, and rerunning the same
command resumes from it (exit code 130, as a shell reports an interrupted command).
"""
from __future__ import annotations

import argparse
import json
import sys

from mmzoo.cli.finetune import add_finetune_arguments, run_finetune, wants_finetune
from mmzoo.cli.options import add_log_options, add_shared_options, split_settings, tracking_from_args
from mmzoo.train.checkpoint import CHECKPOINT_NAME, load_checkpoint
from mmzoo.train.engine import EngineOptions
from mmzoo.train.experimental import ExperimentalOptions, fit
from mmzoo.train.recipes import RECIPES, Recipe, get_recipe

__all__ = ["register", "add_recipe_arguments", "add_engine_arguments", "amp_from_args", "recipe_from_args",
           "options_from_args", "AMP_CHOICES"]

INTERRUPTED = 130  # 128 + SIGINT


def add_recipe_arguments(parser: argparse.ArgumentParser, default: str = "assignment") -> None:
    """``--recipe NAME`` (recipe fields are changed with the shared ``--set``, see :mod:`mmzoo.cli.options`)."""
    parser.add_argument("--recipe", default=default,
                        help=f"recipe name ({', '.join(sorted(RECIPES))}; default {default})")


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """Speed flags (they never change what is trained, only how fast); ``--device`` is a shared option."""
    parser.add_argument("--amp", choices=sorted(AMP_CHOICES),
                        help="precision: fp32 (float32) or bf16 (autocast; a GPU or a CPU with bf16 hardware); "
                             "default fp32 for mmzoo train, the table's for mmzoo bench (auto: retired, means fp32)")
    parser.add_argument(
        "--compile", nargs="?", const=True, default=False, metavar="MODE",
        help="torch.compile the model; optional mode, e.g. reduce-overhead (pays on long CUDA runs)",
    )
    parser.add_argument(
        "--cuda-graphs", action=argparse.BooleanOptionalAction, default=None,
        help="replay each training step's forward and backward as CUDA graphs (default: on for one CUDA device "
        "without --compile; --no-cuda-graphs turns them off)",
    )
    parser.add_argument(
        "--whole-step-graphs", action="store_true",
        help="experimental (mmzoo.train.experimental): replay the whole training step (forward, backward, Adam, "
        "learning rate) and validation as CUDA graphs (one CUDA device, no batch augmentation)",
    )
    parser.add_argument("--no-channels-last", dest="channels_last", action="store_false", help="keep NCHW")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: one per core)")


#: ``--amp`` values and the ``EngineOptions.amp`` each stands for (``auto`` is retired: it warns, then trains in
#: float32).
AMP_CHOICES = {"auto": "auto", "bf16": "bf16", "fp32": None}


def amp_from_args(args: argparse.Namespace, default: str | None = None) -> str | None:
    """``EngineOptions.amp`` for ``--amp`` (``default`` when the flag is not given)."""
    return default if args.amp is None else AMP_CHOICES[args.amp]


def recipe_from_args(args: argparse.Namespace, models: list[str]) -> tuple[Recipe, dict]:
    """The recipe with ``--set``'s recipe fields applied, and ``--set``'s model arguments (checked for ``models``)."""
    overrides, model_kwargs = split_settings(args.settings, models)
    return get_recipe(args.recipe).override(overrides), model_kwargs


def options_from_args(args: argparse.Namespace, progress: bool = True) -> EngineOptions:
    return EngineOptions(
        device=args.device, channels_last=args.channels_last, amp=amp_from_args(args), compile=args.compile,
        cuda_graphs=args.cuda_graphs, threads=args.threads, progress=progress,
    )


def _interrupted(run_dir: str | None) -> int:
    """What an interrupted run kept, said in one line each (no traceback)."""
    if run_dir is None:
        print("\nmmzoo: interrupted; nothing was kept (without --run-dir no checkpoint is written). Pass --run-dir "
              "DIR to make a run resumable.", file=sys.stderr)
        return INTERRUPTED
    saved = load_checkpoint(run_dir)
    if saved is None:
        kept = "no epoch had finished, so nothing was kept"
    else:
        epochs = saved["history"][-1]["epoch"]
        kept = (f"{run_dir}/{CHECKPOINT_NAME} keeps epoch {epochs} of {saved['identity']['recipe']['epochs']} "
                f"(best so far: epoch {saved['best_epoch']})")
    print(f"\nmmzoo: interrupted; {kept}. Rerun the same command to resume after the last finished epoch.",
          file=sys.stderr)
    return INTERRUPTED


def _cmd_train(args: argparse.Namespace) -> int:
    if wants_finetune(args):  # --pretrained, or a --data-dir of your own (docs/finetune.md)
        overrides, model_kwargs = split_settings(args.settings, [])
        return run_finetune(args, overrides, model_kwargs, options_from_args(args))
    recipe, model_kwargs = recipe_from_args(args, [args.model])
    try:
        result = fit(args.model, recipe, data_dir=args.data_dir, run_dir=args.run_dir,
                     options=options_from_args(args), log=tracking_from_args(args), **model_kwargs,
                     experimental=ExperimentalOptions(whole_step_graphs=args.whole_step_graphs))
    except KeyboardInterrupt:
        return _interrupted(args.run_dir)
    summary = {
        "model": args.model,
        "recipe": recipe.name,
        "best_epoch": result.best_epoch,
        **{f"val_{key}": round(value, 6) for key, value in result.best.items()},
        "train_time_s": round(result.train_time_s, 2),
        "device": result.device,
        "precision": result.precision,  # what amp resolved to here, and why
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
    add_shared_options(train)
    add_engine_arguments(train)
    train.add_argument("--run-dir", help="checkpoint every epoch here; rerunning resumes after the last finished one")
    train.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_log_options(train, "mmzoo-logs")
    add_finetune_arguments(train)
    train.set_defaults(func=_cmd_train)
    recipes = subparsers.add_parser("recipes", help="list the training recipes and their fields")
    recipes.set_defaults(func=_cmd_recipes)
