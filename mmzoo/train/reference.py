"""The notebooks' own way of training, kept only as the yardstick the engine's speed is measured against.

It does what the notebooks did: a per-sample ``Dataset`` whose ``__getitem__`` converts one frame (uint8 RGBA ->
float, depth -> xyza) on every access, a ``DataLoader`` collating batches of 32, NCHW tensors, the default Adam,
and validation in training-size batches *without* ``torch.no_grad()`` (the graph is built and thrown away), with
``.item()`` after every batch; each convolution block applies ReLU before pooling, in the notebooks' order. The
recipe is identical to the engine's (same model initialisation, data, shuffling seed, schedule and checkpoint
selection), so the two differ only in how the work is done.

The reference is kept generous: frames come from memory, not from PNG/NPY files as in the notebooks, so the
speed ratio it yields is a lower bound of the engine's advantage.
"""
from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from mmzoo.data.frames import Frames
from mmzoo.data.sensor import depth_to_xyza
from mmzoo.models.blocks import notebook_order
from mmzoo.train.loop import forward_loss, optimizer_step
from mmzoo.train.metrics import loss_function
from mmzoo.train.optim import build_model, make_optimizer, make_scheduler
from mmzoo.train.recipes import Recipe

__all__ = ["NotebookDataset", "reference_fit"]


class NotebookDataset(Dataset):
    """One frame per ``__getitem__``, converted on access, as the notebooks' datasets did."""

    def __init__(self, frames: Frames, formula: str, task: str) -> None:
        self.frames = frames
        self.formula = formula
        self.targets = frames.labels if task == "classification" else frames.positions
        if self.targets is None:
            raise ValueError(f"the frames have no targets for a {task} recipe")

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rgb = torch.from_numpy(self.frames.rgba[index].transpose(2, 0, 1).astype(np.float32) / 255.0)
        depth = torch.from_numpy(self.frames.depth[index])
        lidar = depth_to_xyza(depth[None], self.frames.azimuth, self.frames.zenith, formula=self.formula)[0]
        target = torch.as_tensor(np.atleast_1d(self.targets[index]), dtype=torch.float32)
        return rgb, lidar, target


def reference_fit(
    model_name: str,
    recipe: Recipe,
    train: Frames,
    val: Frames,
    device: str | torch.device = "cpu",
    **model_kwargs: Any,
) -> dict[str, Any]:
    """Train ``model_name`` on ``recipe`` the notebook way; returns ``history``, ``best_epoch``, ``best`` and
    ``train_time_s`` (training plus validation, all epochs), in the engine's terms.

    On a GPU it does what the notebooks did there: the model on the device, each collated batch moved with
    ``.to(device)`` inside the loop.
    """
    device = torch.device(device)
    train_set = NotebookDataset(train, recipe.lidar_formula, recipe.task)
    val_set = NotebookDataset(val, recipe.lidar_formula, recipe.task)
    num_outputs = int(train_set[0][2].numel())
    model = build_model(model_name, recipe, num_outputs, **model_kwargs).to(device)
    # The notebooks' ReLU-then-pool, which the engine's models reorder exactly: a view sharing the parameters.
    notebook = notebook_order(model)
    generator = torch.Generator().manual_seed(recipe.seed)
    train_loader = DataLoader(train_set, batch_size=recipe.batch_size, shuffle=True, drop_last=True, generator=generator)
    val_loader = DataLoader(val_set, batch_size=recipe.batch_size, shuffle=False, drop_last=True)
    optimizer = make_optimizer(model, recipe)  # plain Adam, as the notebooks ran it
    scheduler = make_scheduler(optimizer, recipe, len(train_loader))
    criterion = loss_function(recipe.loss)
    history: list[dict[str, Any]] = []
    best_loss, best_state, best_epoch, best = float("inf"), None, 0, {}
    for epoch in range(recipe.epochs):
        start = time.perf_counter()
        train_loss = _notebook_epoch(notebook, train_loader, optimizer, scheduler, criterion, device)
        train_time = time.perf_counter() - start
        start = time.perf_counter()
        metrics = _notebook_validation(notebook, val_loader, criterion, recipe.task, device)
        history.append({
            "epoch": epoch + 1, "train_loss": train_loss,
            **{f"val_{key}": value for key, value in metrics.items()},
            "train_time_s": train_time, "eval_time_s": time.perf_counter() - start,
        })
        if recipe.select == "last" or metrics["loss"] < best_loss:
            best_loss, best_state, best_epoch, best = metrics["loss"], copy.deepcopy(model.state_dict()), epoch + 1, metrics
    model.load_state_dict(best_state)
    model.eval()  # as the last validation left the notebooks' model
    train_time = sum(record["train_time_s"] + record["eval_time_s"] for record in history)
    return {"model": model, "history": history, "best_epoch": best_epoch, "best": best, "train_time_s": train_time}


def _notebook_epoch(model, loader, optimizer, scheduler, criterion, device) -> float:
    """One training epoch as the notebooks ran it; returns the mean training loss."""
    model.train()
    total = 0.0
    for rgb, lidar, target in loader:  # loss.item() waits for the device each step: the clock is exact
        rgb, lidar, target = rgb.to(device), lidar.to(device), target.to(device)
        optimizer.zero_grad()
        total += optimizer_step(forward_loss(model, criterion, rgb, lidar, target), optimizer, scheduler).item()
    return total / len(loader)


def _notebook_validation(model, loader, criterion, task: str, device) -> dict[str, float]:
    """Validation as the notebooks ran it: batches of the training size, no ``torch.no_grad()``."""
    model.eval()
    val_loss, correct, count = 0.0, 0, 0
    for rgb, lidar, target in loader:
        rgb, lidar, target = rgb.to(device), lidar.to(device), target.to(device)
        output = model(rgb, lidar)
        val_loss += criterion(output, target).item()
        if task == "classification":
            correct += int(((output > 0).float() == target).sum().item())
        count += len(target)
    metrics = {"loss": val_loss / len(loader)}
    if task == "classification":
        metrics["accuracy"] = correct / count
    return metrics
