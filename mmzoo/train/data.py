"""The frames a recipe trains on, as tensors: generated synthetic frames, or a folder of real ones.

>>> from mmzoo.train.recipes import get_recipe
>>> train, val = recipe_tensors(get_recipe("assignment", train_frames=64, val_frames=32))
>>> len(train), len(val), train.metadata["dataset"], val.metadata["start"]
(64, 32, 'shapes', 64)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mmzoo.data.frames import Frames
from mmzoo.data.layouts import CLASS_FOLDERS, detect_layout, frame_counts, read_folder
from mmzoo.data.sets import generate, get_dataset
from mmzoo.data.tensors import FusionTensors, to_tensors
from mmzoo.train.recipes import Recipe

__all__ = ["recipe_frames", "recipe_tensors"]


def _target(recipe: Recipe) -> str:
    return "labels" if recipe.task == "classification" else "positions"


def recipe_frames(recipe: Recipe, data_dir: str | Path | None = None) -> tuple[Frames, Frames]:
    """``(train, val)`` frames for ``recipe``: exactly ``recipe.train_frames`` and ``recipe.val_frames`` of them.

    Without ``data_dir`` the recipe's synthetic set is generated: training frames ``0 .. train_frames - 1`` and
    validation frames right after them, from ``recipe.data_seed`` (the same seed always gives the same frames).
    With ``data_dir`` (a course or assessment folder, e.g. the course's real data) the recipe's counts are taken
    from the folder as the notebooks split it: in the course layout validation is the last ``val_frames`` frames
    and training the ``train_frames`` before them; in the assessment layout ``(train_frames + val_frames) / 2``
    frames are drawn per class (seeded with ``recipe.seed``) and split per class, half of each split from each
    class. A folder too small for the recipe, or counts the layout cannot honour, are refused with the numbers
    (set ``train_frames`` / ``val_frames`` to fit the folder).
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
    split = _course_split if layout == "course" else _assessment_split
    train, val = split(recipe, data_dir)
    if (len(train), len(val)) != (recipe.train_frames, recipe.val_frames):  # the readers' contract, checked
        raise RuntimeError(f"read {len(train)} + {len(val)} frames from {data_dir} for a recipe of "
                           f"{recipe.train_frames} + {recipe.val_frames}; please report this")
    return train, val


def _too_small(data_dir: str | Path, holds: str, recipe: Recipe) -> ValueError:
    return ValueError(
        f"{data_dir} holds {holds}, fewer than recipe {recipe.name!r} needs (train_frames={recipe.train_frames} + "
        f"val_frames={recipe.val_frames}); pass smaller counts, e.g. --set train_frames=... --set val_frames=..."
    )


def _course_split(recipe: Recipe, data_dir: str | Path) -> tuple[Frames, Frames]:
    total = frame_counts(data_dir)[""]
    if total < recipe.train_frames + recipe.val_frames:
        raise _too_small(data_dir, f"{total} frames", recipe)
    first_val = total - recipe.val_frames
    train = read_folder(data_dir, np.arange(first_val - recipe.train_frames, first_val))
    return train, read_folder(data_dir, "val", val_count=recipe.val_frames)


def _assessment_split(recipe: Recipe, data_dir: str | Path) -> tuple[Frames, Frames]:
    classes = len(CLASS_FOLDERS)
    if recipe.train_frames % classes or recipe.val_frames % classes:
        raise ValueError(
            f"the assessment layout draws each split half from each class, so train_frames and val_frames must be "
            f"even; recipe {recipe.name!r} has train_frames={recipe.train_frames}, val_frames={recipe.val_frames}"
        )
    counts = frame_counts(data_dir)
    sizes = [counts[name] for name in CLASS_FOLDERS]
    per_class = (recipe.train_frames + recipe.val_frames) // classes
    if min(sizes) < per_class:
        holds = " and ".join(f"{n} {name}" for n, name in zip(sizes, CLASS_FOLDERS))
        raise _too_small(data_dir, f"{holds} ({per_class} per class needed)", recipe)
    # The split's val_fraction is chosen so that each class gives exactly val_frames / 2 validation frames.
    kwargs = {"seed": recipe.seed, "per_class": per_class,
              "val_fraction": recipe.val_frames / (recipe.train_frames + recipe.val_frames)}
    return read_folder(data_dir, "train", **kwargs), read_folder(data_dir, "val", **kwargs)


def recipe_tensors(
    recipe: Recipe,
    data_dir: str | Path | None = None,
    device: torch.device | str | None = None,
    frames: tuple[Frames, Frames] | None = None,
) -> tuple[FusionTensors, FusionTensors]:
    """``(train, val)`` tensors for ``recipe`` (the frames of :func:`recipe_frames`, LiDAR as the recipe's xyza).

    ``frames``: the ``(train, val)`` frames :func:`recipe_frames` gave for this recipe, when the caller holds
    them already (they are not generated or read a second time).
    """
    target = _target(recipe)
    parts = frames if frames is not None else recipe_frames(recipe, data_dir)
    return tuple(
        to_tensors(frames, lidar="xyza", formula=recipe.lidar_formula, target=target, device=device)
        for frames in parts
    )
