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

__all__ = ["ENCODER_MODULES", "build_model", "head_layer", "apply_freeze", "make_optimizer", "make_scheduler"]


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


#: The modules that are a model's per-modality encoders (and the exchanges between them), by attribute name.
ENCODER_MODULES = ("rgb_branch", "lidar_branch", "exchanges", "net.0")


def head_layer(model: nn.Module) -> str:
    """The name of the head's last layer: the last ``Linear`` producing ``model.num_outputs`` values."""
    outputs = getattr(model, "num_outputs", None)
    found = [name for name, module in model.named_modules()
             if isinstance(module, nn.Linear) and module.out_features == outputs]
    if not found:
        raise ValueError(f"{getattr(model, 'arch_name', type(model).__name__)} has no Linear layer producing its "
                         f"{outputs} outputs, so its head cannot be told apart")
    return found[-1]


def _in(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def apply_freeze(model: nn.Module, recipe: Recipe) -> list[str]:
    """Fix the weights ``recipe.freeze`` names (``requires_grad=False``) and return their names: ``encoders``
    (the per-modality encoders, :data:`ENCODER_MODULES`) or ``backbone`` (all but the head's last layer)."""
    if not recipe.freeze:
        return []
    head = head_layer(model)
    names = [name for name, _ in model.named_parameters()
             if (_in(name, ENCODER_MODULES) if recipe.freeze == "encoders" else not _in(name, [head]))]
    if not names:
        raise ValueError(f"{getattr(model, 'arch_name', 'the model')} has no per-modality encoder weights to freeze "
                         "(early fusion fuses the raw inputs); use freeze=backbone to train only the head's last layer")
    frozen = set(names)
    for name, parameter in model.named_parameters():
        if name in frozen:
            parameter.requires_grad_(False)
    return names


def make_optimizer(model: nn.Module | Iterable[torch.Tensor], recipe: Recipe, fused: bool = False) -> torch.optim.Optimizer:
    """The recipe's Adam over the trainable parameters of ``model`` (a module, or the tensors themselves, e.g.
    the stacked parameters of :func:`mmzoo.train.many.fit_many`); ``fused`` asks for the one-kernel update where
    this torch offers it (same maths, one pass over all parameters).

    For a module it first freezes what ``recipe.freeze`` says (:func:`apply_freeze`), and with
    ``recipe.backbone_lr_scale`` != 1 it gives every parameter outside the head's last layer ``lr x scale``."""
    if isinstance(model, nn.Module):
        apply_freeze(model, recipe)
        named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    else:
        named = [("", p) for p in model if p.requires_grad]
    params: list = [p for _, p in named]
    if isinstance(model, nn.Module) and recipe.backbone_lr_scale != 1.0:
        head = head_layer(model)
        groups = {True: [], False: []}
        for name, p in named:
            groups[_in(name, [head])].append(p)
        params = [{"params": groups[True]}, {"params": groups[False], "lr": recipe.lr * recipe.backbone_lr_scale}]
        params = [group for group in params if group["params"]]
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
