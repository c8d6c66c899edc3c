"""``MultiModalNet``: the forward contract ``model(rgb, lidar)`` and the input checks every zoo model shares."""
from __future__ import annotations

import warnings

import torch
from torch import nn

from mmzoo.errors import InputRangeWarning

from mmzoo.registry.metadata import InputSpec

__all__ = ["MultiModalNet", "make_input_spec"]


def make_input_spec(
    modalities: tuple[str, ...] = ("rgb", "lidar"),
    rgb_channels: int = 4,
    lidar_channels: int = 4,
    input_size: int = 64,
    xyza_formula: str | None = "assignment",
) -> InputSpec:
    """The ``InputSpec`` of a model built with these arguments (raw depth, 1 channel, has no xyza formula)."""
    for name, value in (("rgb_channels", rgb_channels), ("lidar_channels", lidar_channels)):
        if value not in (1, 3, 4):
            raise ValueError(f"{name} must be 4 (RGBA / xyza), 3 (RGB) or 1 (depth); got {value}")
    if input_size < 8 or input_size % 8:
        raise ValueError(f"input_size must be a multiple of 8 (three 2x downsamplings); got {input_size}")
    return InputSpec(
        modalities=modalities,
        rgb_channels=rgb_channels,
        lidar_channels=lidar_channels,
        height=input_size,
        width=input_size,
        xyza_formula=xyza_formula if lidar_channels == 4 else None,
    )


def _batch_shape(expected: tuple[int, ...]) -> str:
    """``(B, C, H, W)`` for an error message. Formatted only when raising: under tracing the sizes may be
    symbolic, and torch 2.6's dynamo cannot turn one into text."""
    return f"(B, {', '.join(map(str, expected))})"


class MultiModalNet(nn.Module):
    """Base of every zoo model: ``forward(rgb, lidar)`` validates its inputs, then calls ``forward_fused``.

    Subclasses implement ``forward_fused(rgb, lidar)``; a single-modality model receives None for the input it
    does not read. ``input_spec`` says what the inputs must look like; ``arch_name`` and ``arch_kwargs`` (set by
    the registry) say how to rebuild the model.
    """

    def __init__(self, input_spec: InputSpec, num_outputs: int, lidar_scale: float = 1.0) -> None:
        super().__init__()
        if num_outputs < 1:
            raise ValueError(f"num_outputs must be >= 1; got {num_outputs}")
        if not lidar_scale > 0:
            raise ValueError(f"lidar_scale must be positive; got {lidar_scale}")
        self.input_spec = input_spec
        self.num_outputs = num_outputs
        if "lidar" in input_spec.modalities:
            # A fixed gain on the LiDAR input (x, y, z; never the hit mask), stored with the weights so that a
            # checkpoint always brings the scale it was trained with. Users keep feeding raw xyza / depth.
            # 1.0 (the notebooks) leaves inputs untouched; docs/benchmarks.md shows the recipe with and without 0.02.
            gain = torch.full((input_spec.lidar_channels,), float(lidar_scale))
            if input_spec.lidar_channels == 4:
                gain[3] = 1.0
            self.register_buffer("lidar_gain", gain)
        self._rgb_range_checked = False
        self.arch_name: str = type(self).__name__
        self.arch_kwargs: dict = {}

    @property
    def model_config(self) -> dict:
        """What rebuilds this model: ``mmzoo.create(cfg["architecture"], **cfg["kwargs"])``."""
        return {"architecture": self.arch_name, "kwargs": dict(self.arch_kwargs)}

    def _check(self, modality: str, x: object) -> None:
        expected = self.input_spec.shape(modality)
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{self.arch_name}: {modality} must be a torch.Tensor of shape "
                            f"{_batch_shape(expected)}; got {type(x).__name__}")
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            hint = " (add a batch dimension with .unsqueeze(0))" if tuple(x.shape) == expected else ""
            raise ValueError(
                f"{self.arch_name}: expected {modality} of shape {_batch_shape(expected)} "
                f"[{self.input_spec.describe()}], got {tuple(x.shape)}{hint}"
            )
        if not x.is_floating_point():
            raise ValueError(
                f"{self.arch_name}: {modality} must be a floating-point tensor, got {x.dtype}; "
                "convert uint8 images with x.float() / 255"
            )
        parameters = list(self.parameters())  # not next(..., None): torch 2.8's dynamo cannot trace that
        reference = parameters[0] if parameters else None
        if reference is not None and x.dtype != reference.dtype and not torch.is_autocast_enabled(x.device.type):
            raise ValueError(
                f"{self.arch_name}: {modality} is {x.dtype} but the model's weights are {reference.dtype}; convert "
                f"the input with .to({reference.dtype}) (or the model with model.to(dtype)), or run under "
                "torch.autocast for mixed precision"
            )
        if reference is not None and x.device != reference.device:
            raise ValueError(f"{self.arch_name}: {modality} is on {x.device} but the model is on {reference.device}; "
                             f"move the input with .to({str(reference.device)!r}) or the model with model.to(...)")

    def validate_inputs(self, rgb: torch.Tensor | None, lidar: torch.Tensor | None) -> None:
        """Raise a ValueError naming the expected and the received shape if an input does not fit."""
        used = {"rgb": rgb, "lidar": lidar}
        for modality in self.input_spec.modalities:
            self._check(modality, used[modality])
        if len(self.input_spec.modalities) == 2 and rgb.shape[0] != lidar.shape[0]:
            raise ValueError(f"{self.arch_name}: rgb has batch size {rgb.shape[0]} but lidar has {lidar.shape[0]}")

    def _warn_if_rgb_looks_unscaled(self, rgb: torch.Tensor | None) -> None:
        """Warn once per model when the camera input looks like 0..255 instead of the spec's 0..1.

        Checked on CPU tensors in eager mode only: a reduction there costs nothing worth measuring, while on a
        GPU it would wait for the device, and under torch.compile / torch.export it would be data-dependent
        control flow."""
        if rgb is None or self._rgb_range_checked or rgb.device.type != "cpu" or torch.compiler.is_compiling():
            return
        self._rgb_range_checked = True
        high = self.input_spec.rgb_range[1]
        if rgb.numel() and float(rgb.detach().amax()) > 2 * high:
            warnings.warn(f"{self.arch_name}: rgb reaches {float(rgb.detach().amax()):g}, but the model expects "
                          f"values in {list(self.input_spec.rgb_range)}; divide 8-bit images by 255",
                          InputRangeWarning, stacklevel=3)

    def forward(self, rgb: torch.Tensor | None, lidar: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, C_rgb, H, W), (B, C_lidar, H, W) -> (B, num_outputs)``."""
        self.validate_inputs(rgb, lidar)
        self._warn_if_rgb_looks_unscaled(rgb if "rgb" in self.input_spec.modalities else None)
        if "lidar" in self.input_spec.modalities:
            # Always applied (one cheap multiply): testing the gain for 1.0 would cost a GPU sync per call.
            lidar = lidar * self.lidar_gain.to(lidar.dtype).view(1, -1, 1, 1)
        return self.forward_fused(rgb, lidar)

    def forward_fused(self, rgb: torch.Tensor | None, lidar: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError
