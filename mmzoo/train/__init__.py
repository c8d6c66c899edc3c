"""mmzoo's training layer: recipes as data, the fast engine with per-epoch checkpoints, and the metrics.

The experimental modes (whole-step CUDA graphs, K seeds at once with ``fit_many``) live in
:mod:`mmzoo.train.experimental`.
"""
import warnings as _warnings
from typing import Any as _Any
from mmzoo.train.data import recipe_tensors
from mmzoo.train.distributed import is_main_process, rank_and_world, single_process_env
from mmzoo.train.engine import EngineOptions, FitResult, fit
from mmzoo.train.finetune import FinetuneResult, finetune
from mmzoo.train.optim import build_model, make_optimizer, make_scheduler
from mmzoo.train.metrics import METRIC_NAMES, evaluate, loss_function, primary_metric
from mmzoo.train.recipes import RECIPES, Recipe, get_recipe, list_recipes
from mmzoo.train.resources import device_name, peak_memory, resolve_device

__all__ = [
    "RECIPES",
    "Recipe",
    "get_recipe",
    "list_recipes",
    "recipe_tensors",
    "EngineOptions",
    "FitResult",
    "fit",
    "fit_many",
    "finetune",
    "FinetuneResult",
    "build_model",
    "make_optimizer",
    "make_scheduler",
    "evaluate",
    "loss_function",
    "primary_metric",
    "METRIC_NAMES",
    "device_name",
    "peak_memory",
    "resolve_device",
    "rank_and_world",
    "is_main_process",
    "single_process_env",
]


def fit_many(*args: _Any, **kwargs: _Any) -> list[FitResult]:
    """Deprecated here: :func:`mmzoo.train.experimental.fit_many` (K seeds at once is experimental)."""
    from mmzoo.train import experimental

    _warnings.warn("mmzoo.train.fit_many moved to mmzoo.train.experimental.fit_many (experimental until a GPU run "
                   "shows it pays)", FutureWarning, stacklevel=2)
    return experimental.fit_many(*args, **kwargs)
