"""What a recipe builds before its first step: the seeded model, the optimiser and the learning-rate schedule.

The engine and the notebook-style reference loop both call these, so the two can differ only in how they run a
step (memory format, fused kernels, batching), never in what the recipe says.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from mmzoo.registry import model_entrypoint
from mmzoo.train.recipes import Recipe

__all__ = ["build_model", "make_optimizer", "make_scheduler"]


def build_model(model_name: str, recipe: Recipe, num_outputs: int, **model_kwargs: Any) -> nn.Module:
    """Build the registered ``model_name`` for ``recipe`` from scratch, seeded with ``recipe.seed`` so that the
    same recipe gives the same initial weights.

    The model's input spec records the recipe's LiDAR formula and the target's size, so exported weights say
    truthfully what they were trained on. Arguments whose value is None are dropped (a CLI default of None
    never overrides a model default).

    >>> from mmzoo.train.recipes import get_recipe
    >>> build_model("late_fusion", get_recipe("assignment"), 1).num_outputs
    1
    """
    torch.manual_seed(recipe.seed)
    kwargs = {"num_outputs": num_outputs, "xyza_formula": recipe.lidar_formula, **model_kwargs}
    model = model_entrypoint(model_name)(**{key: value for key, value in kwargs.items() if value is not None})
    model.pretrained_cfg = None
    model.pretrained_adaptations = []
    return model


def make_optimizer(model: nn.Module | Iterable[torch.Tensor], recipe: Recipe, fused: bool = False) -> torch.optim.Optimizer:
    """The recipe's Adam over the trainable parameters of ``model`` (a module, or the tensors themselves, e.g.
    the stacked parameters of :func:`mmzoo.train.many.fit_many`); ``fused`` asks for the one-kernel update where
    this torch offers it (same maths, one pass over all parameters)."""
    params = [p for p in (model.parameters() if isinstance(model, nn.Module) else model) if p.requires_grad]
    if fused:
        try:
            return torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay, fused=True)
        except (RuntimeError, TypeError):  # older torch lacks the fused kernel on CPU
            pass
    return torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, recipe: Recipe,
                   steps_per_epoch: int) -> torch.optim.lr_scheduler.LRScheduler:
    """The recipe's schedule, stepped once per optimiser step: cosine to ``min_lr`` over the whole run, or
    constant."""
    if recipe.schedule == "cosine":
        total = recipe.epochs * steps_per_epoch
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total, eta_min=recipe.min_lr)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
