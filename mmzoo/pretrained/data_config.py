"""What a weight's inputs were: ``DataConfig``, recorded in every weight's ``config.json`` and on its model.

torchvision binds the preprocessing to the weights (``weights.transforms()``) and timm writes a data config into
each model's ``config.json``; mmzoo does the same for its two inputs, so that a user's own files can be turned
into exactly the tensors the weights were trained on (:func:`mmzoo.transforms_for`):

- the camera: RGBA (4 channels, as the course's PNGs) or RGB (3), 8-bit values divided by 255 (``rgb_range``),
  no mean/std normalisation;
- the LiDAR: the raw range image (``"depth"``, one channel) or xyza points (``"xyza"``) computed with an xyza
  formula (:mod:`mmzoo.data.sensor`) from the beams' azimuth and zenith angles; beams that saw nothing hold
  ``no_return`` (50.0 in the course's files); a fixed gain ``lidar_scale`` on x, y, z is applied *inside* the
  model (the ``lidar_gain`` buffer), so inputs stay raw;
- the size: ``input_size`` pixels = beams; ``fixed_input_size`` says whether the weights can only see that size
  (a ``Linear`` after flattening the last feature map, as in the notebooks' networks) or whether the
  architecture can be built at other sizes with the same weights (global pooling, the timm backbones).

>>> cfg = data_config_for("late_fusion.shapes_v1")
>>> cfg.lidar, cfg.xyza_formula, cfg.lidar_scale, cfg.input_size, cfg.fixed_input_size
('xyza', 'assignment', 0.02, (64, 64), True)
>>> DataConfig.from_dict(cfg.to_dict()) == cfg
True
"""
from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from mmzoo.data.sensor import AZIMUTH, MAX_RANGE, ZENITH, beam_angles
from mmzoo.data.sets import DATASETS
from mmzoo.registry import WeightInfo, get_weights, model_entrypoint, split_model_name_tag

__all__ = ["DATA_CONFIG_KEY", "DataConfig", "data_config_for", "fixed_input_size"]

#: The key of the data config in a weight folder's ``config.json``.
DATA_CONFIG_KEY = "data_config"


@dataclass(frozen=True)
class DataConfig:
    """The inputs a weight was trained on (see the module docstring).

    Attributes:
        architecture: the registered architecture the weights belong to.
        modalities: the inputs the model reads, a subset of ``("rgb", "lidar")``.
        input_size: ``(height, width)`` of the camera image = ``(azimuth, zenith)`` beams of the range image.
        fixed_input_size: True when the weights only fit ``input_size`` (fixed linear layers).
        rgb_channels: 4 (RGBA as stored) or 3 (RGB, alpha dropped).
        rgb_range: what 0 and 255 become (the 8-bit value divided by 255: ``(0.0, 1.0)``).
        alpha_opaque: the training images' alpha was 255 everywhere, so an RGB image may stand in for an RGBA
            one (its alpha is set to 255); False refuses RGB images for a 4-channel model.
        image_resize: how images of another size are resized (antialiased bilinear, Pillow).
        lidar: ``"xyza"`` (x, y, z, hit mask) or ``"depth"`` (the raw range image).
        xyza_formula: ``"assignment"`` or ``"course"`` (see :mod:`mmzoo.data.sensor`); None for depth.
        azimuth, zenith: the beam angles (radians) of the rows and columns of the training range images.
        no_return: the depth of a beam that saw nothing; every depth at or beyond it is no return (``a = 0``).
        lidar_scale: the model's gain on x, y, z (applied inside the model; inputs stay raw).
        range_resize: how range images of another size are resized: min-pool by an integer factor (the nearest
            return of each block, so depths are never averaged across an object's edge), else nearest beam.
        class_names: the names of the outputs' classes, index = class (empty for regression or unknown).
        target_names: the names of the regressed values (empty for classification).
        dataset: what the weights were trained on (``shapes`` 1.0, a folder, ...).
    """

    architecture: str
    modalities: tuple[str, ...] = ("rgb", "lidar")
    input_size: tuple[int, int] = (64, 64)
    fixed_input_size: bool = True
    rgb_channels: int = 4
    rgb_range: tuple[float, float] = (0.0, 1.0)
    alpha_opaque: bool = True
    image_resize: str = "bilinear, antialiased"
    lidar: str = "xyza"
    xyza_formula: str | None = "assignment"
    azimuth: tuple[float, ...] = field(default_factory=lambda: tuple(float(a) for a in AZIMUTH), repr=False)
    zenith: tuple[float, ...] = field(default_factory=lambda: tuple(float(z) for z in ZENITH), repr=False)
    no_return: float = MAX_RANGE
    lidar_scale: float = 1.0
    range_resize: str = "min-pool, else nearest beam"
    class_names: tuple[str, ...] = ()
    target_names: tuple[str, ...] = ()
    dataset: str = ""

    def __post_init__(self) -> None:
        if self.lidar not in ("xyza", "depth"):
            raise ValueError(f"DataConfig.lidar must be 'xyza' or 'depth'; got {self.lidar!r}")
        if "lidar" in self.modalities and (len(self.azimuth), len(self.zenith)) != tuple(self.input_size):
            raise ValueError(f"DataConfig: {len(self.azimuth)} azimuth and {len(self.zenith)} zenith angles do not "
                             f"match input_size {tuple(self.input_size)}")

    @property
    def task(self) -> str:
        """``"classification"`` when class names are known, ``"values"`` when target names are, else ``""``."""
        return "classification" if self.class_names else ("values" if self.target_names else "")

    def describe(self) -> str:
        """One line for cards, tables and error messages."""
        h, w = self.input_size
        size = f"{h}x{w}" + (" (fixed)" if self.fixed_input_size else " (other sizes accepted)")
        parts = []
        if "rgb" in self.modalities:
            parts.append(f"camera {'RGBA' if self.rgb_channels == 4 else 'RGB'} 8-bit / 255")
        if "lidar" in self.modalities:
            kind = f"xyza ({self.xyza_formula} formula)" if self.lidar == "xyza" else "raw depth"
            parts.append(f"LiDAR {kind}, no return = {self.no_return:g}, lidar_scale {self.lidar_scale:g}")
        return f"{size}; " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists); :meth:`from_dict` reads it back."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DataConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error (a typo must not pass silently)."""
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown data config fields {unknown}; known: {sorted(cls.__dataclass_fields__)}")
        values = dict(data)
        for key in ("modalities", "input_size", "rgb_range", "azimuth", "zenith", "class_names", "target_names"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


def _meta_build(arch: str, kwargs: dict[str, Any]) -> nn.Module:
    # Parameters on the meta device: nothing is allocated or initialised, so a 20M-parameter build is instant.
    with torch.device("meta"):
        return model_entrypoint(arch)(**kwargs)


@functools.lru_cache(maxsize=256)
def _fixed(arch: str, kwargs_json: str) -> bool:
    kwargs = json.loads(kwargs_json)
    size = int(kwargs.pop("input_size", 64))
    shapes = [{k: v.shape for k, v in _meta_build(arch, {**kwargs, "input_size": s}).state_dict().items()}
              for s in (size, 2 * size)]
    return shapes[0] != shapes[1]


def fixed_input_size(arch: str, model_kwargs: dict[str, Any] | None = None) -> bool:
    """True when ``arch``'s weights only fit one input size: building it at another size changes a weight's
    shape (a ``Linear`` after flattening), so 64x64 weights need 64x64 inputs.

    >>> fixed_input_size("intermediate_cat"), fixed_input_size("timm_resnet18_late")
    (True, False)
    """
    return _fixed(split_model_name_tag(arch)[0], json.dumps(model_kwargs or {}, sort_keys=True, default=str))


def _dataset_targets(dataset: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(class_names, target_names)`` of a generated dataset's frames (empty for a dataset mmzoo does not know)."""
    spec = DATASETS.get(dataset)
    if spec is None:
        return (), ()
    if spec.target == "label":
        return spec.class_names, ()
    names = [color if color != "hue" else slot for slot, color in zip(spec.slots, spec.colors)]
    return (), tuple(f"{name}_{axis}" for name in names for axis in "xyz")


def data_config_for(
    model_or_name: nn.Module | str | WeightInfo,
    model_kwargs: dict[str, Any] | None = None,
    *,
    azimuth: Any = None,
    zenith: Any = None,
    no_return: float = MAX_RANGE,
    class_names: tuple[str, ...] = (),
    target_names: tuple[str, ...] = (),
    dataset: str | None = None,
) -> DataConfig:
    """The :class:`DataConfig` of a model, a registered weight (``"arch.tag"``, a :class:`WeightInfo`) or an
    architecture built with ``model_kwargs``.

    A model that carries a recorded ``data_config`` (a fine-tuned folder's) returns it. Otherwise the config is
    derived from the architecture's input spec and the constructor arguments (``lidar_scale``, ``xyza_formula``,
    channels, ``input_size``); the angles default to the course's 0.5-degree grid and ``dataset`` to the weight's
    (``"shapes 1.0"``; a generated set's name also gives the class or target names).

    >>> data_config_for("intermediate_cat", {"lidar_channels": 1}).lidar
    'depth'
    """
    if isinstance(model_or_name, nn.Module):
        recorded = getattr(model_or_name, "data_config", None)
        if isinstance(recorded, DataConfig):
            return recorded
        arch, kwargs = model_or_name.arch_name, dict(getattr(model_or_name, "arch_kwargs", {}))
        weight = getattr(model_or_name, "pretrained_cfg", None)
    else:
        weight = model_or_name if isinstance(model_or_name, WeightInfo) else None
        if isinstance(model_or_name, str):
            arch, tag = split_model_name_tag(model_or_name)
            weight = get_weights(model_or_name) if tag else None
        else:
            arch = model_or_name.architecture
        kwargs = dict(weight.model_kwargs) if weight is not None else {}
    kwargs.update(model_kwargs or {})
    spec = _meta_build(arch, kwargs).input_spec
    size = (spec.height, spec.width)
    angles = {name: tuple(float(a) for a in (value if value is not None else default))
              for name, value, default in (("azimuth", azimuth, AZIMUTH), ("zenith", zenith, ZENITH))}
    if azimuth is None and zenith is None and size != (64, 64):  # the course's beam step, another beam count
        angles = {"azimuth": tuple(map(float, beam_angles(size[0]))), "zenith": tuple(map(float, beam_angles(size[1])))}
    if dataset is None:
        dataset = f"{weight.dataset} {weight.dataset_version}".strip() if weight is not None else ""
    fresh_head = weight is not None and kwargs.get("num_outputs") != weight.model_kwargs.get("num_outputs")
    if not class_names and not target_names and not fresh_head:  # a generated set's names ("shapes 1.0")
        class_names, target_names = _dataset_targets(dataset.partition(" ")[0])
    return DataConfig(
        architecture=arch, modalities=tuple(spec.modalities), input_size=size,
        fixed_input_size=fixed_input_size(arch, kwargs), rgb_channels=spec.rgb_channels,
        rgb_range=tuple(spec.rgb_range), lidar=spec.lidar_format, xyza_formula=spec.xyza_formula,
        no_return=float(no_return), lidar_scale=float(kwargs.get("lidar_scale", 1.0)),
        class_names=tuple(class_names), target_names=tuple(target_names), dataset=dataset, **angles,
    )
