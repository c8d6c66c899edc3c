"""A zoo model as a graph: ``torch.export`` with one dynamic batch dimension shared by both inputs.

Two-input models are where exporters trip (PyTorch's own issues: one dynamic dimension per input that must be
tied together, a batch specialised to the example's size when the example batch is 1, ``None`` inputs of
single-modality models). This module settles them once, for ``export_program`` and for the ONNX export:

- :class:`ModalityInputs` wraps a model so that it takes exactly the inputs its ``input_spec`` reads, in the
  spec's order, positionally (a baseline that reads only LiDAR takes one tensor, not ``(None, lidar)``);
- :func:`dynamic_batch` declares one ``torch.export.Dim("batch")`` object and uses it for every input, which is
  how torch.export is told that the inputs' batch sizes are the same symbol;
- :func:`example_inputs` makes inputs of batch 2 by default: with batch 1 torch.export specialises the
  dimension (0/1 specialisation) and the program only accepts batch 1.

>>> import mmzoo
>>> program = export_program(mmzoo.create("intermediate_cat").eval())
>>> rgb, lidar = example_inputs(mmzoo.model_info("intermediate_cat").input_spec, batch=7)
>>> tuple(program.module()(rgb, lidar).shape)
(7, 1)
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mmzoo.data.sensor import MAX_RANGE
from mmzoo.registry.metadata import InputSpec

__all__ = ["EXAMPLE_BATCH", "ModalityInputs", "example_inputs", "dynamic_batch", "as_deployable", "export_program"]

#: Batch size of the example inputs traced by the exporters: 2, because torch.export specialises a dimension
#: whose example size is 0 or 1 to that constant, which would freeze the "dynamic" batch at 1.
EXAMPLE_BATCH = 2


class ModalityInputs(nn.Module):
    """``model`` called with exactly the inputs its ``input_spec.modalities`` names, in that order, by name.

    A fusion model keeps its ``forward(rgb, lidar)``; a single-modality baseline gets ``forward(rgb)`` or
    ``forward(lidar)`` (:func:`as_deployable` picks the class) and the input it does not read is passed to it as
    None inside the graph, since exporters cannot take None inputs. Named parameters (not ``*inputs``) keep the
    exported program's inputs named ``rgb`` / ``lidar``.
    """

    modalities: tuple[str, ...] = ("rgb", "lidar")

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        spec = getattr(model, "input_spec", None)
        if not isinstance(spec, InputSpec):
            raise TypeError(
                f"{type(model).__name__} has no input_spec; export models built by mmzoo.create(...) "
                "(a zoo model's input_spec says which inputs it reads and their shapes)"
            )
        if tuple(spec.modalities) != self.modalities:
            raise ValueError(f"{type(self).__name__} takes {self.modalities}; the model reads {spec.modalities}")
        self.model = model

    @property
    def input_spec(self) -> InputSpec:
        return self.model.input_spec

    def forward(self, rgb: torch.Tensor, lidar: torch.Tensor) -> torch.Tensor:
        return self.model(rgb, lidar)


class _RgbInput(ModalityInputs):
    modalities = ("rgb",)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.model(rgb, None)


class _LidarInput(ModalityInputs):
    modalities = ("lidar",)

    def forward(self, lidar: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.model(None, lidar)


_WRAPPERS = {cls.modalities: cls for cls in (ModalityInputs, _RgbInput, _LidarInput)}


def as_deployable(model: nn.Module) -> ModalityInputs:
    """``model`` in eval mode, wrapped in the :class:`ModalityInputs` for its modalities (a wrapped model is
    returned as is)."""
    if isinstance(model, ModalityInputs):
        return model.eval()
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module built by mmzoo.create(...); got {type(model).__name__}")
    spec = getattr(model, "input_spec", None)
    wrapper = _WRAPPERS.get(tuple(spec.modalities) if isinstance(spec, InputSpec) else None, ModalityInputs)
    return wrapper(model).eval()


def example_inputs(spec: InputSpec, batch: int = EXAMPLE_BATCH, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random float32 inputs for ``spec``, one per modality in ``spec.modalities`` order, from ``seed``.

    RGB is uniform in ``spec.rgb_range``. LiDAR xyza has x, y, z uniform in [-MAX_RANGE, MAX_RANGE] and a 0/1 hit
    mask as its fourth channel; raw depth is uniform in [0, MAX_RANGE]. The values cover what real frames hold
    (so exported graphs are exercised over the whole range) without depending on the scene renderer, whose
    output may change between dataset versions. The same seed gives the same tensors on every machine (torch's
    CPU generator).
    """
    if not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive int; got {batch!r}")
    generator = torch.Generator().manual_seed(seed)
    tensors = []
    for modality in spec.modalities:
        shape = (batch, *spec.shape(modality))
        values = torch.rand(shape, generator=generator)
        if modality == "rgb":
            lo, hi = spec.rgb_range
            values = lo + values * (hi - lo)
        elif spec.lidar_channels == 4:
            values = (2 * values - 1) * MAX_RANGE
            values[:, 3] = (values[:, 3] > 0).float()  # the hit mask is 0 or 1
        else:
            values = values * MAX_RANGE
        tensors.append(values)
    return tuple(tensors)


def dynamic_batch(spec: InputSpec, name: str = "batch") -> tuple[dict[int, Any], ...]:
    """``dynamic_shapes`` for torch.export / torch.onnx.export: dimension 0 of every input is the same
    ``torch.export.Dim`` object, so the exported graph has one batch size shared by all inputs."""
    batch = torch.export.Dim(name)
    return tuple({0: batch} for _ in spec.modalities)


def export_program(model: nn.Module, *, example_batch: int = EXAMPLE_BATCH, strict: bool = False):
    """``torch.export.export`` of a zoo model with a dynamic batch dimension shared by its inputs.

    Args:
        model: a model built by ``mmzoo.create`` (it is put in eval mode, wrapped in :class:`ModalityInputs`).
        example_batch: batch size of the traced example (2 or more, or the batch is frozen; see module doc).
        strict: torch.export's strict mode (TorchDynamo tracing); the default non-strict mode traces Python as is.

    Returns:
        A ``torch.export.ExportedProgram``; ``program.module()(*inputs)`` runs it, the inputs being the
        modalities of ``model.input_spec`` in order, of any batch size.
    """
    if example_batch < 2:
        raise ValueError(f"example_batch must be >= 2 (torch.export freezes a batch of 1 to 1); got {example_batch}")
    wrapped = as_deployable(model)
    spec = wrapped.input_spec
    return torch.export.export(
        wrapped, example_inputs(spec, example_batch), dynamic_shapes=dynamic_batch(spec), strict=strict
    )
