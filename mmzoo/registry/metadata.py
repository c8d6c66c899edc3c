"""Metadata as data: what an input must look like, what an architecture is, what a published weight is.

Nothing here has behaviour beyond (de)serialisation; the registry stores these records and the tests prove them
true against the built models (parameter counts) and, once weights are published, against the files
(sizes, sha256) and re-evaluations (metrics).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["SOURCES", "InputSpec", "ArchInfo", "WeightInfo"]

#: The notebooks mmzoo reproduces, by the short key used in ``ArchInfo.source``.
SOURCES: dict[str, str] = {
    "assignment": "assignment notebook 'Fusion Architecture Comparison' (cube vs sphere classification)",
    "course": "course lab 'Intermediate Fusion' (3-object position regression)",
    "mmzoo": "mmzoo's own architecture (not in a source notebook)",
}


@dataclass(frozen=True)
class InputSpec:
    """What a model's inputs must look like, so that nobody feeds a weight the wrong thing silently.

    Attributes:
        modalities: the inputs the model reads, a subset of ``("rgb", "lidar")``.
        rgb_channels: 4 for RGBA as stored in the PNGs, 3 for RGB.
        lidar_channels: 4 for xyza points, 1 for the raw depth map.
        height, width: spatial size of both inputs (camera pixels = LiDAR beams in the sources).
        rgb_range: value range of the camera input (the sources divide uint8 by 255, no mean/std).
        xyza_formula: which depth -> xyza conversion (``mmzoo.data.depth_to_xyza``): "assignment" (with the
            cos(zenith) factor on x), "course" (without it), or None when the LiDAR input is raw depth.
    """

    modalities: tuple[str, ...] = ("rgb", "lidar")
    rgb_channels: int = 4
    lidar_channels: int = 4
    height: int = 64
    width: int = 64
    rgb_range: tuple[float, float] = (0.0, 1.0)
    xyza_formula: str | None = "assignment"

    @property
    def lidar_format(self) -> str:
        """``"xyza"`` or ``"depth"``, derived from the channel count."""
        return "depth" if self.lidar_channels == 1 else "xyza"

    @property
    def rgb_format(self) -> str:
        """``"rgba"`` or ``"rgb"``, derived from the channel count."""
        return "rgba" if self.rgb_channels == 4 else "rgb"

    def shape(self, modality: str) -> tuple[int, int, int]:
        """The per-sample shape ``(C, H, W)`` expected for ``modality``."""
        channels = {"rgb": self.rgb_channels, "lidar": self.lidar_channels}[modality]
        return (channels, self.height, self.width)

    def describe(self) -> str:
        """One line for tables and error messages."""
        parts = []
        if "rgb" in self.modalities:
            lo, hi = self.rgb_range
            parts.append(f"rgb {self.rgb_format} {self.shape('rgb')} in [{lo:g}, {hi:g}]")
        if "lidar" in self.modalities:
            kind = f"xyza ({self.xyza_formula} formula)" if self.lidar_format == "xyza" else "raw depth"
            parts.append(f"lidar {kind} {self.shape('lidar')}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lidar_format": self.lidar_format, "rgb_format": self.rgb_format}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "InputSpec":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("modalities", "rgb_range"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


@dataclass(frozen=True)
class ArchInfo:
    """An architecture's metadata, as declared beside its registered constructor.

    ``num_params`` and ``num_outputs`` describe the model built with default arguments; a test builds every
    registered model and checks them. ``pretrained_kwargs`` is filled in by :func:`mmzoo.model_info` from the
    published weights: per tag, the constructor arguments its weights were trained with, which
    ``mmzoo.create("arch.tag", pretrained=True)`` builds with (``{"shapes_v1": {"lidar_scale": 0.02, ...}}``).
    """

    source: str
    task: str
    fusion_point: str
    fusion_op: str | None
    num_outputs: int
    num_params: int
    input_spec: InputSpec = field(default_factory=InputSpec)
    fused_after: str = ""  # what each modality goes through before fusion, e.g. "2 conv blocks"
    fusion_detail: str = ""
    downsample: str = "pool"
    description: str = ""
    name: str = ""  # filled in by ``register_model``
    family: str = ""  # the group a model belongs to ("assignment", "course", "catalogue", "timm"); "" = source
    fusion_points: tuple[int, ...] = ()  # stages (conv blocks / backbone stages) after which the modalities meet
    pretrained_kwargs: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        # The notebook families are their sources; frozen, hence object.__setattr__.
        if not self.family:
            object.__setattr__(self, "family", self.source)
        object.__setattr__(self, "fusion_points", tuple(self.fusion_points))

    @property
    def source_title(self) -> str:
        return SOURCES.get(self.source, self.source)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["input_spec"] = self.input_spec.to_dict()
        data["source_title"] = self.source_title
        return data


@dataclass(frozen=True)
class WeightInfo:
    """A published pretrained weight: where it lives, how to check it, what it was trained and tested on.

    ``sha256`` and ``num_bytes`` are verified on every load, wherever the file comes from; ``revision`` pins the
    Hub commit (None until the weight is really published) so that a later push to the repository cannot change
    what an existing ``arch.tag`` loads. The records live as data in ``mmzoo/pretrained/index.json`` (written by
    ``mmzoo export``, read when mmzoo is imported), so a wheel install knows them without the ``weights/`` folder.

    Attributes:
        tag: the pretrained tag (``arch.tag``).
        repo_id, revision, filename: where the Hub holds the file (``revision`` None: not published yet).
        sha256, num_bytes: the file's digest and size.
        num_params: parameters of the model the file loads into.
        dataset, dataset_version, split: what ``metrics`` were measured on (e.g. ``shapes`` 1.0, ``val``).
        metrics: validation metrics of the published weights (``accuracy``, ``loss``, ``position_error``...).
        recipe: the training recipe's name; ``recipe_config`` every field of it (data seed, frames, epochs...).
        model_kwargs: the constructor arguments the weights were trained with (``create`` builds with them).
        input_spec: what the inputs must look like.
        license: the weights' license (an SPDX-like id as the Hub uses, e.g. ``apache-2.0``).
        training: how the run went (device, train time, epochs, selected epoch), for the model card.
        architecture: the architecture name (filled in by ``register_weights``).
    """

    tag: str
    repo_id: str
    revision: str | None
    sha256: str
    num_bytes: int
    num_params: int
    dataset: str
    filename: str = "model.safetensors"
    dataset_version: str = ""
    split: str = "val"
    metrics: dict[str, float] = field(default_factory=dict)
    recipe: str = ""
    recipe_config: dict[str, Any] = field(default_factory=dict)
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    input_spec: InputSpec | None = None
    license: str = "apache-2.0"
    training: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    architecture: str = ""

    @property
    def name(self) -> str:
        """``arch.tag``."""
        return f"{self.architecture}.{self.tag}"

    @property
    def published(self) -> bool:
        """True once the weight is on the Hub at a pinned revision."""
        return self.revision is not None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["input_spec"] = None if self.input_spec is None else self.input_spec.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "WeightInfo":
        """Inverse of ``to_dict``; unknown keys are an error (a typo in the index must not pass silently)."""
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown WeightInfo fields {unknown}; known: {sorted(cls.__dataclass_fields__)}")
        values = dict(data)
        if values.get("input_spec") is not None:
            values["input_spec"] = InputSpec.from_dict(values["input_spec"])
        return cls(**values)
