"""The frames a recipe trains on, as tensors: generated synthetic frames, or a folder of real ones.

>>> from mmzoo.train.recipes import get_recipe
>>> train, val = recipe_tensors(get_recipe("assignment", train_frames=64, val_frames=32))
>>> len(train), len(val), train.metadata["dataset"], val.metadata["start"]
(64, 32, 'shapes', 64)
"""
from __future__ import annotations

from pathlib import Path

import torch

from mmzoo.data.frames import Frames
from mmzoo.data.layouts import detect_layout, read_folder
from mmzoo.data.sets import generate, get_dataset
from mmzoo.data.tensors import FusionTensors, to_tensors
from mmzoo.train.recipes import Recipe

__all__ = ["recipe_frames", "recipe_tensors"]


def _target(recipe: Recipe) -> str:
    return "labels" if recipe.task == "classification" else "positions"


def recipe_frames(recipe: Recipe, data_dir: str | Path | None = None) -> tuple[Frames, Frames]:
    """``(train, val)`` frames for ``recipe``.

    Without ``data_dir`` the recipe's synthetic set is generated: training frames ``0 .. train_frames - 1`` and
    validation frames right after them, from ``recipe.data_seed`` (the same seed always gives the same frames).
    With ``data_dir`` (a course or assessment folder, e.g. the course's real data) the folder's own split is used:
    the course layout's trailing validation frames, or the assessment layout's seeded 80/20 split per class of
    ``(train_frames + val_frames) / 2`` frames per class, as the assignment notebook drew them.
    """
    if data_dir is None:
        spec = get_dataset(recipe.dataset)
        if (spec.target == "label") != (recipe.task == "classification"):
            raise ValueError(
                f"recipe {recipe.name!r} is a {recipe.task} recipe but dataset {recipe.dataset!r} holds "
                f"{spec.target}s; pick a matching dataset"
            )
        return (
            generate(recipe.dataset, recipe.train_frames, seed=recipe.data_seed, start=0),
            generate(recipe.dataset, recipe.val_frames, seed=recipe.data_seed, start=recipe.train_frames),
        )
    layout = detect_layout(data_dir)
    kwargs: dict = {}
    if layout == "assessment":
        kwargs = {"seed": recipe.seed, "per_class": (recipe.train_frames + recipe.val_frames) // 2}
    train, val = (read_folder(data_dir, split, **kwargs) for split in ("train", "val"))
    return train, val


def recipe_tensors(
    recipe: Recipe,
    data_dir: str | Path | None = None,
    device: torch.device | str | None = None,
) -> tuple[FusionTensors, FusionTensors]:
    """``(train, val)`` tensors for ``recipe`` (the frames of :func:`recipe_frames`, LiDAR as the recipe's xyza)."""
    target = _target(recipe)
    parts = recipe_frames(recipe, data_dir)
    return tuple(
        to_tensors(frames, lidar="xyza", formula=recipe.lidar_formula, target=target, device=device)
        for frames in parts
    )
