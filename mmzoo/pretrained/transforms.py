"""``transforms_for``: a user's files in, exactly the tensors a weight was trained on out.

As torchvision's ``weights.transforms()``, the preprocessing comes from the weights (their
:class:`~mmzoo.pretrained.data_config.DataConfig`), never from what the user remembers to pass: the camera's
channels and scale, the LiDAR representation and xyza formula, the angle grid, the no-return value and the size.
One sample, arrays in memory and an own-data folder go through the same code (:mod:`mmzoo.data.samples`).

>>> import numpy as np, mmzoo
>>> t = mmzoo.transforms_for("late_fusion.shapes_v1")
>>> rgb, lidar = t(np.zeros((120, 160, 3), np.uint8), np.full((64, 64), 12.0, np.float32))
>>> tuple(rgb.shape), tuple(lidar.shape), float(rgb[3].min()), float(lidar[3].max())
((4, 64, 64), (4, 64, 64), 1.0, 1.0)
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mmzoo.data.frames import Frames
from mmzoo.data.own import read_own_folder
from mmzoo.data.samples import frames_from_arrays
from mmzoo.data.tensors import FusionTensors, to_tensors
from mmzoo.errors import DataFormatError
from mmzoo.pretrained.data_config import DATA_CONFIG_KEY, DataConfig, data_config_for
from mmzoo.pretrained.folder import CONFIG_NAME

__all__ = ["FusionTransforms", "transforms_for", "target_kind"]


def target_kind(frames: Frames) -> str:
    """The ``to_tensors`` target a task trains on: one logit for 2 classes (BCE), one-hot for 3+ (softmax
    cross-entropy), the values themselves for regression."""
    if frames.labels is not None:
        if len(frames.class_names) < 2:
            raise DataFormatError(f"the labels name {len(frames.class_names)} class; a classifier needs 2 or more")
        return "labels" if len(frames.class_names) == 2 else "onehot"
    if frames.positions is not None:
        return "positions"
    raise DataFormatError("the frames have no labels or target values; add a labels file")


@dataclass(frozen=True)
class FusionTransforms:
    """The preprocessing of one weight: ``transforms(rgb, lidar)`` for a sample, :meth:`read_folder` /
    :meth:`frames` + :meth:`tensors` for many (the engine's ``FusionTensors``)."""

    config: DataConfig

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.config.input_size)

    def _check_mode(self, frames: Frames) -> Frames:
        if self.config.rgb_channels == 4 and frames.metadata.get("rgb_mode") == "RGB" and not self.config.alpha_opaque:
            raise DataFormatError(
                f"the images are RGB but {self.config.architecture}'s weights were trained on RGBA images whose alpha "
                "was not always 255, so no alpha can stand in for it; give the RGBA images")
        return frames

    def read_folder(self, path: str | Path, labels: bool | None = None) -> Frames:
        """An own-data folder (:func:`mmzoo.data.read_own_folder`) at this weight's size, with its classes; a folder
        without angle files is taken to have the weight's beam grid."""
        classes = self.config.class_names or None
        return self._check_mode(read_own_folder(
            path, image_size=self.size, max_range=self.config.no_return, class_names=classes, labels=labels,
            azimuth=np.asarray(self.config.azimuth), zenith=np.asarray(self.config.zenith)))

    def frames(self, rgb: Any, lidar: Any, **targets: Any) -> Frames:
        """Arrays in memory (:func:`mmzoo.data.frames_from_arrays`, its keyword arguments) at this weight's size."""
        targets.setdefault("class_names", self.config.class_names or None)
        if targets.get("azimuth") is None and targets.get("zenith") is None:  # the weight's own beam grid
            targets.update(azimuth=np.asarray(self.config.azimuth), zenith=np.asarray(self.config.zenith))
        return self._check_mode(frames_from_arrays(rgb, lidar, image_size=self.size,
                                                   max_range=self.config.no_return, **targets))

    def tensors(self, frames: Frames, target: str | None = None,
                device: torch.device | str | None = None) -> FusionTensors:
        """``FusionTensors`` as the engine trains on them (RGB uint8, LiDAR in this weight's representation);
        ``target`` defaults to :func:`target_kind` (none for frames without targets: zeros)."""
        if target is None:
            target = target_kind(frames) if (frames.labels is not None or frames.positions is not None) else None
        if target is None:  # prediction only: a placeholder target column
            frames = Frames(frames.rgba, frames.depth, frames.azimuth, frames.zenith,
                            positions=np.zeros((len(frames), 1), np.float32), metadata=frames.metadata)
            target = "positions"
        return to_tensors(frames, lidar=self.config.lidar, formula=self.config.xyza_formula or "assignment",
                          rgb_channels=self.config.rgb_channels, target=target, max_range=self.config.no_return,
                          device=device)

    def __call__(self, rgb: Any, lidar: Any, *, azimuth: Any = None,
                 zenith: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One sample: an image (path, PIL image or ``(H, W, 3|4)`` uint8) and a range image (path, ``(A, Z)``
        array or ``(A, Z, 3)`` points) -> ``(rgb, lidar)`` float32 ``(C, H, W)`` tensors for the model (add the
        batch dimension with ``.unsqueeze(0)``)."""
        frames = self.frames([rgb], [lidar], azimuth=azimuth, zenith=zenith)
        data = self.tensors(frames, target="positions" if frames.positions is not None else None)
        rgb_t, lidar_t, _ = data.batch(slice(0, 1))
        return rgb_t[0], lidar_t[0]


def _folder_config(folder: Path) -> DataConfig:
    config = json.loads((folder / CONFIG_NAME).read_text())
    if isinstance(config.get(DATA_CONFIG_KEY), dict):
        return DataConfig.from_dict(config[DATA_CONFIG_KEY])
    return data_config_for(config["architecture"], config.get("kwargs", {}))


def transforms_for(model_or_name: nn.Module | str | DataConfig, **model_kwargs: Any) -> FusionTransforms:
    """The preprocessing of a model, a weight (``"late_fusion.shapes_v1"``), a ``"local-dir:"`` folder, an
    architecture built with ``model_kwargs``, or a :class:`DataConfig`.

    ``transforms.config.fixed_input_size`` says whether the network needs its ``input_size`` (the notebooks'
    fixed linear layers) or accepts other sizes (``input_size=`` at construction); inputs are always brought to
    the weight's size: images resized with antialiasing, range images shrunk by min-pool or nearest beam
    (never enlarged: a smaller range image is an :class:`~mmzoo.errors.InputSizeError`).
    """
    if isinstance(model_or_name, DataConfig):
        return FusionTransforms(model_or_name)
    if isinstance(model_or_name, str) and model_or_name.startswith("local-dir:"):
        return FusionTransforms(_folder_config(Path(model_or_name[len("local-dir:"):]).expanduser()))
    return FusionTransforms(data_config_for(model_or_name, model_kwargs or None))
