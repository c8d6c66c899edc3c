"""The kept weights' predictions on a few validation frames, each drawn as the camera image beside the LiDAR.

This is the table the assignment notebook logged at the end of a run: per frame the RGB image, the LiDAR
projected to an image (its range, colour-mapped as in ``mmzoo data preview``), the target and the prediction.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn

from mmzoo.data.preview import depth_panel
from mmzoo.data.sensor import MAX_RANGE
from mmzoo.data.tensors import FusionTensors

__all__ = ["Sample", "prediction_samples", "sample_image"]

_PANEL = 128  # pixels per side of each panel (the frames are 64 x 64: upscaled 2x, nearest)


@dataclass(frozen=True)
class Sample:
    """One validation frame: ``image`` (``(H, W, 3)`` uint8: camera | LiDAR range), target and prediction as
    text, and ``error`` (0 or 1 for a class, the mean position error in scene units for positions)."""

    index: int
    image: np.ndarray
    target: str
    prediction: str
    error: float


def _lidar_depth(lidar: torch.Tensor) -> np.ndarray:
    """The range per beam, ``(A, Z)``: the raw depth channel, or the length of xyz where the hit mask is set."""
    if lidar.shape[0] == 1:
        return lidar[0].numpy()
    depth = lidar[:3].norm(dim=0)
    return torch.where(lidar[3] > 0, depth, torch.full_like(depth, MAX_RANGE)).numpy()


def sample_image(rgb: torch.Tensor, lidar: torch.Tensor) -> np.ndarray:
    """The camera image (``(C, H, W)`` uint8) beside the LiDAR's range image (``(4 or 1, A, Z)``), as one
    ``(128, 258, 3)`` uint8 image."""
    camera = Image.fromarray(rgb[:3].permute(1, 2, 0).numpy()).resize((_PANEL, _PANEL), Image.NEAREST)
    ranges = Image.fromarray(depth_panel(_lidar_depth(lidar))).resize((_PANEL, _PANEL), Image.NEAREST)
    canvas = Image.new("RGB", (2 * _PANEL + 2, _PANEL), (40, 40, 40))
    canvas.paste(camera, (0, 0))
    canvas.paste(ranges, (_PANEL + 2, 0))
    return np.asarray(canvas)


def _describe(output: torch.Tensor, target: torch.Tensor, task: str, names: tuple) -> tuple[str, str, float]:
    """Target, prediction (as text) and error of one frame, as the task's metrics read the outputs."""
    name = lambda i: names[i] if 0 <= i < len(names) else f"class {i}"  # noqa: E731
    if task == "classification" and len(target) > 1:  # one-hot classes (softmax cross-entropy)
        probabilities = torch.softmax(output, dim=0)
        label, predicted = int(target.argmax()), int(probabilities.argmax())
        return name(label), f"{name(predicted)} (p={float(probabilities[predicted]):.2f})", float(label != predicted)
    if task == "classification":  # one logit (binary cross-entropy)
        probability = float(torch.sigmoid(output[0]))
        label, predicted = int(target[0]), int(probability > 0.5)
        return name(label), f"{name(predicted)} (p={probability:.2f})", float(label != predicted)
    if task != "regression" or len(target) % 3:  # values of your own: their mean absolute error
        values = lambda t: ", ".join(f"{v:.3g}" for v in t.tolist())  # noqa: E731
        error = float((output - target).abs().mean())
        return values(target), f"{values(output)}  error {error:.3g}", error
    def points(values: torch.Tensor) -> str:
        return "; ".join("(" + ", ".join(f"{v:.2f}" for v in xyz) + ")" for xyz in values.reshape(-1, 3).tolist())
    error = float((output - target).reshape(-1, 3).norm(dim=1).mean())
    return points(target), f"{points(output)}  error {error:.3f}", error


@torch.inference_mode()
def prediction_samples(model: nn.Module, data: FusionTensors, task: str, count: int = 5) -> list[Sample]:
    """``model``'s predictions on the first ``count`` frames of ``data`` (float32, eval mode, on the model's
    device), each with its image (:func:`sample_image`).

    >>> import mmzoo
    >>> from mmzoo.train.data import recipe_tensors
    >>> from mmzoo.train.recipes import get_recipe
    >>> recipe = get_recipe("assignment", train_frames=32, val_frames=8)
    >>> model, val = mmzoo.create("late_fusion_strided"), recipe_tensors(recipe)[1]
    >>> samples = prediction_samples(model, val, "classification", 2)
    >>> len(samples), samples[0].image.shape
    (2, (128, 258, 3))
    """
    count = min(count, len(data))
    if count == 0:
        return []
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    rgb, lidar, target = data.batch(range(count), device)
    output = model(rgb, lidar).float().cpu()
    model.train(was_training)
    names = tuple(data.metadata.get("class_names") or ())
    rgb, lidar, target = data.rgb[:count].cpu(), data.lidar[:count].cpu(), target.cpu()
    samples = []
    for i in range(count):
        truth, predicted, error = _describe(output[i], target[i], task, names)
        samples.append(Sample(i, sample_image(rgb[i], lidar[i]), truth, predicted, error))
    return samples
