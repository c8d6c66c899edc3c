"""The configuration a tracked run records: what was trained, how, on what, with which versions."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mmzoo._version import __version__
from mmzoo.train.recipes import Recipe
from mmzoo.train.resources import device_name

__all__ = ["run_config"]


def run_config(model: nn.Module, recipe: Recipe, *, data: dict[str, Any] | None = None,
               precision: str = "float32", device: torch.device | str = "cpu", **extra: Any) -> dict[str, Any]:
    """A run's configuration as trackers store it: architecture, model arguments, parameter count, recipe,
    precision, device, mmzoo and torch versions, and the data source (``data``: the dataset, its version, seed,
    folder and frame counts, as the engine's run identity records them); ``extra`` is added as is.

    >>> import mmzoo
    >>> from mmzoo.train.recipes import get_recipe
    >>> config = run_config(mmzoo.create("late_fusion_strided"), get_recipe("assignment"))
    >>> config["architecture"], config["recipe"]["lr"], config["params"] > 0
    ('late_fusion_strided', 0.001, True)
    """
    device = torch.device(device)
    return {
        "architecture": getattr(model, "arch_name", type(model).__name__),
        "model_kwargs": dict(getattr(model, "arch_kwargs", {})),
        "params": sum(parameter.numel() for parameter in model.parameters()),
        "recipe": recipe.to_dict(),
        "precision": precision,
        "device": f"{device} ({device_name(device)})",
        "versions": {"mmzoo": __version__, "torch": torch.__version__},
        "data": dict(data or {}),
        **extra,
    }
