"""Losses and validation metrics per task, and a fast no-grad evaluation over a whole split.

Classification: one logit per frame with BCE-with-logits (logit > 0 is class 1), or one output per class with
softmax cross-entropy on one-hot targets (the largest output is the class); the metric is accuracy.
Regression (x, y, z of each object): the MSE over all coordinates, and the mean Euclidean distance between the
predicted and the true position of each object, in scene units (the course's "each cube about 2 units off"). Values (any regression targets of your own data):
the MSE and the mean absolute error over all targets.
"""
from __future__ import annotations

import torch
from torch import nn

from mmzoo.data.tensors import FusionTensors

__all__ = [
    "loss_function", "evaluation_sums", "evaluate", "batch_metrics", "METRIC_NAMES", "primary_metric", "LEFT_LN2",
    "epoch_left_ln2",
]

#: The metrics ``evaluate`` returns per task, besides ``loss``.
METRIC_NAMES = {"classification": ("accuracy",), "regression": ("mse", "position_error"), "values": ("mse", "mae")}


class SoftTargetCrossEntropy(nn.Module):
    """Softmax cross-entropy against one-hot (or soft) targets ``(N, K)``, the mean over the batch."""

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(output, target)


def loss_function(name: str) -> nn.Module:
    """The recipe's loss as a module (mean over the batch)."""
    if name == "bce":
        return nn.BCEWithLogitsLoss()
    if name == "ce":
        return SoftTargetCrossEntropy()
    if name == "mse":
        return nn.MSELoss()
    raise ValueError(f"unknown loss {name!r}; choose 'bce', 'ce' or 'mse'")


def primary_metric(task: str) -> tuple[str, bool]:
    """``(name, higher_is_better)`` of the metric a table leads with for ``task``."""
    if task == "values":
        return "mse", False
    return ("accuracy", True) if task == "classification" else ("position_error", False)


def batch_metrics(output: torch.Tensor, target: torch.Tensor, task: str) -> dict[str, torch.Tensor]:
    """Per-task metric sums over one batch (divide by the frame count for means), as 0-d tensors."""
    if task == "classification" and target.shape[1] > 1:  # one-hot classes: the largest output is the class
        return {"accuracy": (output.argmax(dim=1) == target.argmax(dim=1)).sum()}
    if task == "classification":
        return {"accuracy": ((output > 0).to(target.dtype) == target).all(dim=1).sum()}
    if task == "values":
        error = output.float() - target
        return {"mse": (error**2).mean(dim=1).sum(), "mae": error.abs().mean(dim=1).sum()}
    if target.shape[1] % 3:
        raise ValueError(f"position targets must hold x, y, z per object; got {target.shape[1]} values per frame")
    squared = (output.float() - target) ** 2
    per_object = squared.reshape(len(target), -1, 3).sum(dim=2).sqrt()
    return {"mse": squared.mean(dim=1).sum(), "position_error": per_object.mean(dim=1).sum()}


def evaluation_sums(
    model: nn.Module,
    data: FusionTensors,
    task: str,
    loss: str,
    batch_size: int = 512,
    memory_format: torch.memory_format = torch.contiguous_format,
    autocast_dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> dict[str, torch.Tensor]:
    """Frame-weighted sums of the loss and the task metrics over every frame of ``data``, in consecutive batches,
    as float64 tensors on the model's device: nothing is read back to the host, so CUDA can capture the pass as
    one graph (:mod:`mmzoo.train.whole_step`). Call it under inference mode, with the model in eval mode."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    criterion = loss_function(loss)
    sums: dict[str, torch.Tensor] = {}
    for start in range(0, len(data), batch_size):  # slices: views of the stored frames, no index tensors
        rgb, lidar, target = data.batch(slice(start, start + batch_size), device)
        rgb, lidar = rgb.contiguous(memory_format=memory_format), lidar.contiguous(memory_format=memory_format)
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            output = model(rgb, lidar)
        output = output.float()
        values = batch_metrics(output, target, task)
        values["loss"] = criterion(output, target) * len(target)
        for key, value in values.items():
            sums[key] = sums.get(key, 0) + value.double()
    return sums


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    data: FusionTensors,
    task: str,
    loss: str,
    batch_size: int = 512,
    device: torch.device | str | None = None,
    memory_format: torch.memory_format = torch.contiguous_format,
    autocast_dtype: torch.dtype | None = None,
) -> dict[str, float]:
    """Loss and task metrics of ``model`` on every frame of ``data`` (no frame dropped), under inference mode.

    The loss is the mean over frames (the notebooks averaged batch means over equal batches, the same number).
    """
    if len(data) == 0:
        raise ValueError("cannot evaluate on an empty split")
    was_training = model.training
    model.eval()
    try:
        sums = evaluation_sums(model, data, task, loss, batch_size, memory_format, autocast_dtype, device)
    finally:
        model.train(was_training)
    return {key: float(value) / len(data) for key, value in sums.items()}


#: A binary classifier's run "left ln 2" (stopped predicting a constant) at the first epoch whose validation
#: loss is below this: ln 2 = 0.693, and a run that never learns wanders within about 0.005 of it.
LEFT_LN2 = 0.65


def epoch_left_ln2(val_loss: list[float], below: float = LEFT_LN2) -> int | None:
    """The first epoch (1-based) whose validation loss is below ``below``; None if the run never left ln 2.

    >>> epoch_left_ln2([0.693, 0.692, 0.61, 0.3]), epoch_left_ln2([0.693] * 20)
    (3, None)
    """
    return next((epoch for epoch, loss in enumerate(val_loss, 1) if loss < below), None)
