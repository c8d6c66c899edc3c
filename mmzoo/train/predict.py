"""Predictions of a trained model on your own samples, and how they compare with the labels.

:func:`predict` reads a folder (or takes ``Frames``) with the model's own preprocessing
(``model.data_config``, :func:`mmzoo.transforms_for`) and returns one row per sample: its id, the predicted
class and its probability (sigmoid of one logit for two classes, softmax for more), or the regressed values.
:func:`evaluation_report` compares them with the labels: accuracy, per-class precision, recall and support, and
the confusion matrix; or the mean absolute and root-mean-square error per regression target.

>>> import numpy as np
>>> from mmzoo.data import frames_from_arrays
>>> report = evaluation_report(np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]),
...                            frames_from_arrays(np.zeros((3, 64, 64, 3), np.uint8),
...                                               np.full((3, 64, 64), 9.0, np.float32), labels=["a", "b", "b"]))
>>> report["accuracy"], report["confusion"]
(0.6666666666666666, [[1, 0], [1, 1]])
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mmzoo.data.frames import Frames
from mmzoo.pretrained.transforms import FusionTransforms, transforms_for

__all__ = ["Predictions", "predict", "select_split", "evaluation_report", "plot_confusion"]


@dataclass
class Predictions:
    """One row per sample: ``ids``; for classification ``probabilities`` ``(N, K)`` over ``class_names`` (the
    prediction is the largest), for regression ``values`` ``(N, K)`` named by ``target_names``."""

    ids: list[str]
    class_names: tuple[str, ...]
    target_names: tuple[str, ...]
    probabilities: np.ndarray | None = None
    values: np.ndarray | None = None

    @property
    def predicted(self) -> list[str]:
        """The predicted class of each sample (classification only)."""
        return [self.class_names[i] for i in self.probabilities.argmax(axis=1)]

    def rows(self) -> list[dict[str, Any]]:
        """``id, prediction, probability, p_<class>...`` or ``id, <target>...`` per sample (for a CSV)."""
        if self.probabilities is None:
            return [{"id": i, **{name: float(v) for name, v in zip(self.target_names, row)}}
                    for i, row in zip(self.ids, self.values)]
        return [{"id": i, "prediction": self.class_names[int(row.argmax())], "probability": float(row.max()),
                 **{f"p_{name}": float(p) for name, p in zip(self.class_names, row)}}
                for i, row in zip(self.ids, self.probabilities)]


@torch.inference_mode()
def _outputs(model: nn.Module, transforms: FusionTransforms, frames: Frames, batch_size: int) -> np.ndarray:
    bare = Frames(frames.rgba, frames.depth, frames.azimuth, frames.zenith, metadata=frames.metadata)
    data = transforms.tensors(bare)  # the targets play no part in a prediction
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        outputs = [model(*data.batch(slice(start, start + batch_size), device)[:2]).float().cpu()
                   for start in range(0, len(data), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(outputs).numpy()


def predict(model: nn.Module, data: str | Path | Frames, batch_size: int = 256,
            split: str | None = None) -> Predictions:
    """Run ``model`` on an own-data folder (a labels file is not needed; if there is one, its classes must be the
    model's) or on ``Frames``; ``split`` keeps only the samples of that split (``train`` / ``val`` / ``test``, from
    the labels file's split column)."""
    transforms = transforms_for(model)
    config = transforms.config
    frames = transforms.read_folder(data) if isinstance(data, (str, Path)) else data
    frames = select_split(frames, split)
    outputs = _outputs(model, transforms, frames, batch_size)
    ids = list(frames.metadata.get("ids", [str(i) for i in range(len(frames))]))
    if not config.class_names:
        names = config.target_names or tuple(f"value_{i}" for i in range(outputs.shape[1]))
        return Predictions(ids, (), tuple(names), values=outputs)
    if outputs.shape[1] == 1:  # one logit: the probability of class 1
        positive = 1.0 / (1.0 + np.exp(-outputs[:, 0].astype(np.float64)))
        probabilities = np.stack([1.0 - positive, positive], axis=1)
    else:
        shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    return Predictions(ids, tuple(config.class_names), (), probabilities=probabilities)


def select_split(frames: Frames, split: str | None) -> Frames:
    """The samples of ``split`` (the labels file's split column); all of them for None."""
    if split is None:
        return frames
    column = frames.metadata.get("split")
    if column is None:
        raise ValueError(f"split={split!r} was asked for, but the labels file has no split column")
    index = np.flatnonzero(np.asarray(column) == split)
    if not len(index):
        raise ValueError(f"no sample has split={split!r} (the split column holds {sorted(set(column))})")
    part = frames.subset(index)
    part.metadata.update(ids=[frames.metadata["ids"][i] for i in index], split=[column[i] for i in index])
    return part


def evaluation_report(predictions: Predictions | np.ndarray, frames: Frames) -> dict[str, Any]:
    """Compare predictions with ``frames``' labels: accuracy, per-class precision / recall / support and the
    confusion matrix (rows: true class, columns: predicted), or MAE and RMSE per regression target."""
    if isinstance(predictions, np.ndarray):
        names = frames.class_names
        predictions = Predictions([], tuple(names), (), probabilities=predictions) if frames.labels is not None \
            else Predictions([], (), tuple(frames.metadata.get("target_names", ())), values=predictions)
    if predictions.probabilities is None:
        error = predictions.values - np.asarray(frames.positions, dtype=np.float64)
        per = {name: {"mae": float(np.abs(error[:, i]).mean()), "rmse": float(np.sqrt((error[:, i] ** 2).mean()))}
               for i, name in enumerate(predictions.target_names)}
        return {"task": "values", "samples": len(error), "mae": float(np.abs(error).mean()),
                "rmse": float(np.sqrt((error**2).mean())), "per_target": per}
    truth, guess = np.asarray(frames.labels), predictions.probabilities.argmax(axis=1)
    k = len(predictions.class_names)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (truth, guess), 1)
    per_class = {}
    for i, name in enumerate(predictions.class_names):
        predicted, actual = confusion[:, i].sum(), confusion[i].sum()
        per_class[name] = {"precision": float(confusion[i, i] / predicted) if predicted else 0.0,
                           "recall": float(confusion[i, i] / actual) if actual else 0.0, "support": int(actual)}
    return {"task": "classification", "samples": int(len(truth)), "accuracy": float((truth == guess).mean()),
            "per_class": per_class, "classes": list(predictions.class_names), "confusion": confusion.tolist()}


def plot_confusion(report: dict[str, Any], path: str | Path, title: str = "") -> Path:
    """Draw a classification report's confusion matrix (counts; rows true, columns predicted) into ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix, classes = np.asarray(report["confusion"]), report["classes"]
    figure, axes = plt.subplots(figsize=(1.2 + 0.6 * len(classes), 1.0 + 0.6 * len(classes)))
    axes.imshow(matrix, cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        axes.text(col, row, str(count), ha="center", va="center",
                  color="white" if count > matrix.max() / 2 else "black")
    axes.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    axes.set_yticks(range(len(classes)), classes)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title or f"accuracy {report['accuracy']:.3f} ({report['samples']} samples)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return Path(path)
