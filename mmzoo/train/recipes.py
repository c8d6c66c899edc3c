"""Training recipes as data: the two notebooks' recipes by name, overridable from Python and the command line.

A :class:`Recipe` says everything a run needs besides the model: which frames (a synthetic set and its frame
ranges, or a folder in the course / assessment layout), the LiDAR encoding, the task, the optimiser, schedule,
loss, batch size, epochs and seed. The engine reads nothing else, so a recipe plus a model name reproduces a run.

>>> r = get_recipe("assignment")
>>> r.epochs, r.batch_size, r.lr, r.schedule, r.loss
(20, 32, 0.001, 'cosine', 'bce')
>>> get_recipe("assignment", epochs=2).epochs
2
>>> get_recipe("course").override(["lr=3e-4", "train_frames=2000"]).lr
0.0003
"""
from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from typing import Any, Iterable

from mmzoo.train.augment import parse_corruption_augment

__all__ = ["RECIPES", "Recipe", "get_recipe", "list_recipes"]

TASKS = ("classification", "regression", "values")
SCHEDULES = ("cosine", "constant")
LOSSES = ("bce", "ce", "mse")
#: What a fine-tuning run may freeze: nothing, the per-modality encoders, or everything but the head's last layer.
FREEZE = ("", "encoders", "backbone")
SELECT = ("val_loss", "last")
#: Fields added after the first published runs, with the default that changes nothing (see ``Recipe.to_dict``).
_LATER_FIELDS: dict[str, Any] = {"modality_dropout": 0.0, "corruption_augment": "", "freeze": "",
                                 "backbone_lr_scale": 1.0}


@dataclass(frozen=True)
class Recipe:
    """One training recipe.

    Attributes:
        name: the recipe's name (``assignment``, ``course``, ...).
        task: ``classification`` (accuracy), ``regression`` (positions: MSE and position error) or ``values``
            (any number of regression targets: MSE and mean absolute error).
        dataset: the synthetic set to generate (``shapes``, ``cubes``, ``parallel``) when no folder is given.
        data_seed: seed of the generated frames (the same seed gives the same frames).
        train_frames, val_frames: how many frames each split holds. Generated sets use frame indices
            ``0 .. train_frames - 1`` for training and the next ``val_frames`` for validation (disjoint scenes).
        lidar_formula: the xyza formula the notebook used (``assignment`` or ``course``).
        epochs, batch_size: as in the notebook; training batches are shuffled and the last short one dropped.
        lr, min_lr, schedule: Adam's learning rate; ``cosine`` anneals it per step to ``min_lr`` over the whole
            run (T_max = epochs x steps per epoch), ``constant`` keeps it.
        weight_decay: Adam's L2 penalty (0 in both notebooks).
        loss: ``bce`` (BCE with logits, one logit), ``ce`` (softmax cross-entropy, one output per class) or ``mse``.
        seed: seeds the model's initialisation and the shuffling.
        select: which epoch's weights a run keeps: ``val_loss`` (the lowest validation loss) or ``last``.
        modality_dropout: probability per training step that the whole batch sees one modality (camera or LiDAR,
            equal odds) missing, as its sensor reports it (see :mod:`mmzoo.train.augment`); 0 = off.
        corruption_augment: comma-separated corruptions applied to training batches, ``name:severity`` or a bare
            ``name`` (severity drawn from 0..5 per step), e.g. ``"camera_dark,lidar_dropout:2"``; "" = off.
        freeze: ``encoders`` keeps the per-modality encoders' weights fixed, ``backbone`` everything but the head's
            last layer (a linear probe); "" trains everything (see :func:`mmzoo.train.optim.make_optimizer`).
        backbone_lr_scale: the learning rate of every parameter outside the head's last layer, as a fraction of
            ``lr`` (fine-tuning a pretrained model gently while its new head learns at ``lr``).
    """

    name: str
    task: str
    dataset: str
    train_frames: int
    val_frames: int
    lidar_formula: str
    epochs: int
    batch_size: int
    lr: float
    loss: str
    schedule: str = "constant"
    min_lr: float = 0.0
    weight_decay: float = 0.0
    seed: int = 51
    data_seed: int = 0
    select: str = "val_loss"
    modality_dropout: float = 0.0
    corruption_augment: str = ""
    freeze: str = ""
    backbone_lr_scale: float = 1.0

    def __post_init__(self) -> None:
        checks = (
            ("task", TASKS), ("schedule", SCHEDULES), ("loss", LOSSES), ("select", SELECT), ("freeze", FREEZE),
        )
        for field_name, allowed in checks:
            if getattr(self, field_name) not in allowed:
                raise ValueError(f"recipe {self.name!r}: {field_name}={getattr(self, field_name)!r}; choose one of {allowed}")
        for field_name in ("train_frames", "val_frames", "epochs", "batch_size"):
            if getattr(self, field_name) < 1:
                raise ValueError(f"recipe {self.name!r}: {field_name} must be >= 1; got {getattr(self, field_name)}")
        if self.batch_size > self.train_frames:
            raise ValueError(
                f"recipe {self.name!r}: batch_size={self.batch_size} exceeds train_frames={self.train_frames}; "
                "with the last short batch dropped no step would run"
            )
        if not 0.0 <= self.backbone_lr_scale:
            raise ValueError(f"recipe {self.name!r}: backbone_lr_scale must be >= 0; got {self.backbone_lr_scale}")
        if not self.lr > 0:
            raise ValueError(f"recipe {self.name!r}: lr must be positive; got {self.lr}")
        if not 0.0 <= self.modality_dropout <= 1.0:
            raise ValueError(
                f"recipe {self.name!r}: modality_dropout is a probability in [0, 1]; got {self.modality_dropout}"
            )
        parse_corruption_augment(self.corruption_augment)  # unknown corruptions or severities fail here

    def steps_per_epoch(self) -> int:
        """Optimiser steps per epoch (short last batch dropped, as the notebooks did)."""
        return self.train_frames // self.batch_size

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        # Fields added after runs were published are left out at their default: run and table-row identities
        # hash this dict, and a new field must not orphan every checkpoint and row measured before it existed.
        for key, default in _LATER_FIELDS.items():
            if data[key] == default:
                del data[key]
        return data

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Recipe":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown recipe fields {unknown}; known fields: {sorted(known)}")
        return cls(**values)

    def replace(self, **changes: Any) -> "Recipe":
        """A copy with ``changes`` applied (validated like a new recipe); unknown fields are an error."""
        if not changes:
            return self
        return Recipe.from_dict({**self.to_dict(), **changes})

    def override(self, assignments: Iterable[str]) -> "Recipe":
        """Apply ``key=value`` strings (the command line's ``--set``), converting each to the field's type."""
        types = {f.name: f.type for f in dataclasses.fields(self)}
        changes: dict[str, Any] = {}
        for text in assignments:
            key, sep, value = text.partition("=")
            key = key.strip().replace("-", "_")
            if not sep:
                raise ValueError(f"recipe override {text!r} must look like key=value (e.g. epochs=5)")
            if key not in types:
                close = difflib.get_close_matches(key, types, n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else f"; fields: {', '.join(types)}"
                raise ValueError(f"recipe has no field {key!r}{hint}")
            kind = {"int": int, "float": float}.get(str(types[key]), str)
            try:
                changes[key] = kind(value)
            except ValueError:
                raise ValueError(f"recipe field {key!r} takes a {kind.__name__}; got {value!r}") from None
        return self.replace(**changes)


RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        # The assignment notebook: 2,000 cube/sphere frames split 80/20, Adam 1e-3 cosine-annealed per step to
        # 1e-6, batch 32, 20 epochs, BCE with logits, seed 51, the checkpoint with the best validation loss kept.
        Recipe(
            name="assignment", task="classification", dataset="shapes", train_frames=1600, val_frames=400,
            lidar_formula="assignment", epochs=20, batch_size=32, lr=1e-3, schedule="cosine", min_lr=1e-6,
            loss="bce", seed=51,
        ),
        # The course lab: three coloured cubes, 9,679 training and 320 validation frames, Adam 1e-4 constant,
        # MSE on the nine coordinates, batch 32, 20 epochs.
        Recipe(
            name="course", task="regression", dataset="cubes", train_frames=9679, val_frames=320,
            lidar_formula="course", epochs=20, batch_size=32, lr=1e-4, schedule="constant", loss="mse", seed=51,
        ),
    )
}


def list_recipes() -> list[str]:
    """Names of the built-in recipes."""
    return sorted(RECIPES)


def get_recipe(name: str | Recipe, **changes: Any) -> Recipe:
    """The recipe called ``name`` (or ``name`` itself if it is a Recipe), with ``changes`` applied."""
    if isinstance(name, Recipe):
        return name.replace(**changes)
    if name not in RECIPES:
        close = difflib.get_close_matches(name, RECIPES, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"known recipes: {', '.join(list_recipes())}"
        raise ValueError(f"unknown recipe {name!r}; {hint}")
    return RECIPES[name].replace(**changes)
