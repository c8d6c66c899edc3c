"""Fine-tuning a zoo model on your own data: a pretrained start, a new head sized from the labels, ``fit``.

timm's answer to "train it on my data" is one line (``create_model(name, pretrained=True, num_classes=10)``);
mmzoo's is :func:`finetune`, which also reads the data with the preprocessing the weights were trained on
(:func:`mmzoo.transforms_for`), picks the loss from the labels (BCE with one logit for two classes, softmax
cross-entropy for three or more, MSE for regression targets) and trains through :func:`mmzoo.train.fit`, so
run folders, resuming and every engine option work as for any run.

A new head on pretrained weights starts with its last layer at zero, so the first outputs are all 0 (each class
equally likely, a loss of ln K) and training moves away from neutral. With the default random initialisation
the pretrained features, which already separate the shapes sharply, are mapped to classes at random with large
outputs, and a whole cluster of samples can start confidently wrong (seen on the benchmark's three-class task,
``benchmarks/finetune.py``). A random start keeps the architecture's own initialisation.

>>> import numpy as np
>>> from mmzoo.data import frames_from_arrays
>>> rng = np.random.default_rng(0)
>>> frames = frames_from_arrays(rng.integers(0, 255, (24, 64, 64, 3), dtype=np.uint8),
...                             rng.uniform(5, 60, (24, 64, 64)).astype(np.float32), labels=["a", "b", "c"] * 8)
>>> result = finetune("late_fusion_strided", frames, pretrained=False, epochs=1, batch_size=8,
...                   options=EngineOptions(progress=False, device="cpu"))
>>> result.model.num_outputs, result.recipe.loss, result.model.data_config.class_names
(3, 'ce', ('a', 'b', 'c'))
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from mmzoo.data.frames import Frames
from mmzoo.data.own import split_frames
from mmzoo.errors import HeadMismatchError
from mmzoo.pretrained.data_config import DataConfig
from mmzoo.pretrained.factory import create
from mmzoo.pretrained.transforms import FusionTransforms, target_kind, transforms_for
from mmzoo.registry import split_model_name_tag
from mmzoo.train.engine import EngineOptions, FitResult, fit
from mmzoo.train.optim import head_layer
from mmzoo.train.recipes import Recipe

__all__ = ["FinetuneResult", "num_outputs_for", "finetune_recipe", "finetune"]

Data = str | Path | Frames | tuple[Frames, Frames]


@dataclass
class FinetuneResult:
    """A fine-tuning run: ``fit``'s result, where it started, and what the new weights read and predict.

    ``model.data_config`` (also ``data_config``) records the preprocessing and the class or target names, so the
    model can be saved (:func:`mmzoo.release.save_finetuned`) and used on new files (``mmzoo predict``)."""

    fit: FitResult
    start: str  # "late_fusion.shapes_v1" (pretrained) or "late_fusion (random init)"
    data_config: DataConfig
    train_ids: list[str]
    val_ids: list[str]

    @property
    def model(self) -> nn.Module:
        return self.fit.model

    @property
    def recipe(self) -> Recipe:
        return self.fit.recipe

    @property
    def best(self) -> dict[str, float]:
        return self.fit.best


def num_outputs_for(frames: Frames) -> int:
    """The head's size a task needs: 1 logit for two classes, one output per class for 3+, one per target."""
    kind = target_kind(frames)
    if kind == "labels":
        return 1
    return len(frames.class_names) if kind == "onehot" else int(frames.positions.shape[1])


def finetune_recipe(train: Frames, val: Frames, formula: str | None, **changes: Any) -> Recipe:
    """The recipe a fine-tuning task trains with: the assignment notebook's optimiser (Adam 1e-3, cosine to 1e-6,
    batch 32, best validation loss kept), 10 epochs, the loss the labels call for; ``changes`` override fields."""
    kind = target_kind(train)
    task, loss = {"labels": ("classification", "bce"), "onehot": ("classification", "ce"),
                  "positions": ("values", "mse")}[kind]
    batch = min(changes.pop("batch_size", 32), len(train))
    return Recipe(name="finetune", task=task, dataset="own", train_frames=len(train), val_frames=len(val),
                  lidar_formula=formula or "assignment", epochs=10, batch_size=batch, lr=1e-3, loss=loss,
                  schedule="cosine", min_lr=1e-6, seed=51).replace(**changes)


def _start(model: str, pretrained: bool | str) -> tuple[str, bool]:
    """The name to create and whether weights load: ``pretrained`` may be a tag (``"shapes_v1"``)."""
    if isinstance(pretrained, str) and pretrained:
        arch = split_model_name_tag(model)[0]
        return f"{arch}.{pretrained}", True
    return model, bool(pretrained)


def _frames(data: Data, transforms: FusionTransforms, val_fraction: float) -> tuple[Frames, Frames]:
    if isinstance(data, tuple):
        return data
    frames = transforms.read_folder(data, labels=True) if isinstance(data, (str, Path)) else data
    return split_frames(frames, val_fraction)


def _build(name: str, load: bool, outputs: int, keep_head: bool, seed: int) -> nn.Module:
    torch.manual_seed(seed)  # the new head's initial weights (and a random start's) follow the recipe's seed
    if not keep_head:
        model = create(name, pretrained=load, num_outputs=outputs)
        if load:  # a new head on pretrained features starts at zero: see the module docstring
            head = model.get_submodule(head_layer(model))
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        return model
    model = create(name, pretrained=load)
    if model.num_outputs != outputs:
        raise HeadMismatchError(
            f"the task needs {outputs} output(s) but {name}'s head, which keep_head asks to keep, has "
            f"{model.num_outputs}; drop keep_head (--keep-head) to train a new head sized from the labels")
    return model


def finetune(
    model: str, data: Data, *, pretrained: bool | str = True, keep_head: bool = False, freeze: str = "",
    backbone_lr_scale: float = 1.0, val_fraction: float = 0.2, run_dir: str | Path | None = None,
    options: EngineOptions = EngineOptions(), on_epoch: Callable[[dict[str, Any]], None] | None = None,
    log: Any = None, **recipe_changes: Any,
) -> FinetuneResult:
    """Fine-tune ``model`` on ``data`` and return the kept epoch's model with its data config.

    Args:
        model: a registered architecture (``"late_fusion"``), a weight (``"late_fusion.shapes_v1"``) or a
            ``"local-dir:"`` folder.
        data: an own-data folder (:mod:`mmzoo.data.own`), ``Frames`` (split by ``val_fraction`` unless the labels
            gave a split), or ``(train, val)`` frames.
        pretrained: load the weights (True: the name's tag or the architecture's default tag; a tag string picks
            one); False starts from random weights, seeded with the recipe's ``seed``.
        keep_head: keep the weights' head (its size must fit the task, else :class:`HeadMismatchError`); by
            default a new head is sized from the labels.
        freeze: ``"encoders"`` or ``"backbone"`` (see :class:`~mmzoo.train.recipes.Recipe`); "" trains everything.
        backbone_lr_scale: learning rate of everything but the head's last layer, as a fraction of ``lr``.
        run_dir, options, on_epoch, log: as for :func:`mmzoo.train.fit` (``log``: trackers, see
            :mod:`mmzoo.train.tracking`).
        **recipe_changes: recipe fields (``epochs``, ``lr``, ``batch_size``, ``seed``...; see :func:`finetune_recipe`).
    """
    name, load = _start(model, pretrained)
    config = transforms_for(name).config
    if not keep_head:  # a new head: the classes come from these labels, not from the weights
        config = dataclasses.replace(config, class_names=(), target_names=())
    transforms = FusionTransforms(config)
    train, val = _frames(data, transforms, val_fraction)
    recipe = finetune_recipe(train, val, config.xyza_formula, freeze=freeze, backbone_lr_scale=backbone_lr_scale,
                             **recipe_changes)
    net = _build(name, load, num_outputs_for(train), keep_head, recipe.seed)
    kind = target_kind(train)
    tensors = (transforms.tensors(train, kind), transforms.tensors(val, kind))
    result = fit(net, recipe, data=tensors, run_dir=run_dir, options=options, on_epoch=on_epoch, log=log)
    trained = dataclasses.replace(
        config, class_names=tuple(train.class_names), target_names=tuple(train.metadata.get("target_names", ())),
        alpha_opaque=config.alpha_opaque and bool(train.metadata.get("alpha_opaque", True)),
        azimuth=tuple(map(float, train.azimuth)), zenith=tuple(map(float, train.zenith)),
        dataset=str(train.metadata.get("source", "own data")))
    result.model.data_config = trained
    weight = getattr(net, "pretrained_cfg", None)
    start = (weight.name if weight is not None and weight.tag else name) if load else \
        f"{split_model_name_tag(name)[0]} (random init)"
    ids = [list(part.metadata.get("ids") or map(str, range(len(part)))) for part in (train, val)]
    return FinetuneResult(result, start, trained, *ids)
