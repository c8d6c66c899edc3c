"""Strict weight loading, relaxed only by declared adaptations, each one reported.

A pretrained file loads into a model only if every key and shape matches, with two declared exceptions
(the ones timm users rely on, made explicit):

- **another number of outputs** (``num_outputs``): the head's last ``Linear`` keeps its fresh initialisation;
- **another input channel count** (``rgb_channels`` 4 -> 3, ``lidar_channels`` 4 -> 1, ...): the first convolution
  of that modality is adapted: summed over its input channels for 1 channel, otherwise its kernels are repeated
  or cut to the new count and scaled by ``old / new`` (timm's ``adapt_input_conv`` rule, so the activation scale
  stays about the same). Fused raw inputs (early fusion) are adapted per modality slice.

Each adaptation is returned as a sentence, warned about (:class:`PretrainedAdaptationWarning`) and recorded on
the model as ``model.pretrained_adaptations``. Every other difference is an error that lists the keys. Weights
saved for another architecture are refused by name (``intermediate_add`` and ``intermediate_hadamard`` have the
same shapes, so the shapes alone cannot tell them apart).
"""
from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from torch import nn

from mmzoo.errors import IntegrityError, PretrainedAdaptationWarning, WrongArchitectureError
from mmzoo.registry.metadata import InputSpec

__all__ = [
    "ADAPTABLE_KWARGS",
    "read_weights",
    "check_architecture",
    "check_overrides",
    "adapt_input_conv",
    "load_weights",
    "report_adaptations",
]

logger = logging.getLogger("mmzoo")

#: Constructor arguments that may differ from the ones the weights were trained with.
ADAPTABLE_KWARGS = ("num_outputs", "rgb_channels", "lidar_channels")


def read_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """``(state_dict, metadata)`` of a ``.safetensors`` file, or of a ``.pt`` / ``.pth`` state dict (loaded with
    ``weights_only=True``; a dict under ``best_state`` (an mmzoo training checkpoint's selected epoch),
    ``state_dict`` or ``model`` is unwrapped). Unreadable files raise
    ``mmzoo.IntegrityError``."""
    path = Path(path)
    if path.suffix in (".pt", ".pth", ".bin"):
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # any unpickling failure: say which file, and why
            raise IntegrityError(f"{path} is not a readable torch state dict ({err})") from None
        for key in ("best_state", "state_dict", "model"):  # a training checkpoint's kept epoch comes first
            if isinstance(state, dict) and isinstance(state.get(key), dict):
                state = state[key]
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise IntegrityError(f"{path} holds no state dict of tensors")
        return state, {}
    try:
        with safe_open(str(path), framework="pt") as handle:
            return {key: handle.get_tensor(key) for key in handle.keys()}, dict(handle.metadata() or {})
    except (SafetensorError, OSError) as err:
        raise IntegrityError(f"{path} is not a readable safetensors file ({err}); re-download or re-save it") from None


def check_architecture(model: nn.Module, recorded: str | None, source: str) -> None:
    """Refuse weights recorded for another architecture than ``model.arch_name`` (None: nothing recorded)."""
    arch = getattr(model, "arch_name", None)
    if recorded and arch and recorded != arch:
        raise WrongArchitectureError(
            f"the weights in {source} were saved for architecture {recorded!r}, not {arch!r}; "
            f"load them with mmzoo.create({recorded!r}, ...) or pick weights of {arch!r}"
        )


def check_overrides(
    name: str,
    trained: Mapping[str, Any],
    requested: Mapping[str, Any],
    build: Callable[..., nn.Module] | None = None,
) -> None:
    """Refuse constructor arguments that would silently change what the weights ``name`` mean.

    Only ``ADAPTABLE_KWARGS`` may differ from the arguments the weights were trained with (``trained``). An
    argument the weights did not record is accepted only if it restates the default: with ``build`` (the
    constructor) both variants are built and must have the same layers and input spec.
    """
    changed = {k: v for k, v in requested.items()
               if k not in ADAPTABLE_KWARGS and (k not in trained or trained[k] != v)}
    if not changed:
        return
    if build is not None and not any(k in trained for k in changed):
        plain, restated = build(**trained), build(**{**trained, **changed})
        if _same_architecture(plain, restated):
            return
    shown = ", ".join(f"{k}={v!r}" + (f" (trained with {trained[k]!r})" if k in trained else "")
                      for k, v in changed.items())
    raise ValueError(
        f"cannot load the pretrained weights {name} into a model built with {shown}: only "
        f"{', '.join(ADAPTABLE_KWARGS)} can be adapted; build it with pretrained=False to train that variant"
    )


def _same_architecture(a: nn.Module, b: nn.Module) -> bool:
    """Same layers, input spec and buffers: an argument that only sets a buffer (``lidar_scale`` sets the LiDAR
    gain) changes what the model computes although its layers print the same, and loading the file would
    silently replace the requested buffer with the trained one."""
    if repr(a) != repr(b) or getattr(a, "input_spec", None) != getattr(b, "input_spec", None):
        return False
    buffers_a, buffers_b = dict(a.named_buffers()), dict(b.named_buffers())
    return buffers_a.keys() == buffers_b.keys() and all(
        buffers_a[k].shape == buffers_b[k].shape and torch.equal(buffers_a[k], buffers_b[k]) for k in buffers_a)


def adapt_input_conv(weight: torch.Tensor, channels: int) -> torch.Tensor:
    """A conv kernel ``(out, c, kh, kw)`` adapted to ``channels`` input channels (see the module docstring)."""
    old = weight.shape[1]
    if channels == old:
        return weight.clone()
    if channels == 1:
        return weight.sum(dim=1, keepdim=True)
    repeats = math.ceil(channels / old)
    return weight.repeat(1, repeats, 1, 1)[:, :channels] * (old / channels)


def _head_linear(model: nn.Module) -> str | None:
    """The declared head: the last ``Linear`` producing ``model.num_outputs`` values."""
    outputs = getattr(model, "num_outputs", None)
    found = None
    for module_name, module in model.named_modules():
        if isinstance(module, nn.Linear) and module.out_features == outputs:
            found = module_name
    return found


def _input_slices(model: nn.Module, key: str, spec: InputSpec) -> list[tuple[str, int]] | None:
    """Which modality channels a first convolution reads, in order, under input spec ``spec``."""
    counts = {"rgb": spec.rgb_channels, "lidar": spec.lidar_channels}
    for modality in ("rgb", "lidar"):
        if key.startswith(f"{modality}_branch."):
            return [(modality, counts[modality])]
    if isinstance(getattr(model, "modality", None), str):
        return [(model.modality, counts[model.modality])]
    if getattr(model, "fusion_point", None) == 0:  # early fusion concatenates rgb then lidar channels
        return [("rgb", counts["rgb"]), ("lidar", counts["lidar"])]
    return None


def _fit_message(model: nn.Module, source: str, missing, unexpected, mismatched) -> str:
    parts = [f"{label} {items[:5]}{' ...' if len(items) > 5 else ''}"
             for label, items in (("missing keys", missing), ("unexpected keys", unexpected),
                                  ("shape mismatches", mismatched)) if items]
    return (f"the weights in {source} do not fit {getattr(model, 'arch_name', 'the model')}: " + "; ".join(parts)
            + " (only another num_outputs or input channel count can be adapted)")


def _adapt_head(model: nn.Module, state: Mapping, expected: Mapping, mismatched: set, adapted: dict) -> list[str]:
    """Another number of outputs: keep the model's fresh head (only its output dimension may differ)."""
    head = _head_linear(model)
    keys = {f"{head}.weight", f"{head}.bias"} & mismatched if head else set()
    weight = f"{head}.weight"
    if not keys or state[weight].shape[1:] != expected[weight].shape[1:] \
            or any(state[k].shape[0] == expected[k].shape[0] for k in keys):
        return []
    for key in (f"{head}.weight", f"{head}.bias"):
        adapted[key] = expected[key].clone()
    mismatched -= keys
    return [f"head {head}: {state[weight].shape[0]} -> {model.num_outputs} outputs, freshly initialised "
            "(train it before use)"]


def _adapt_first_convs(model: nn.Module, state: Mapping, expected: Mapping, mismatched: set, adapted: dict,
                       source_spec: InputSpec | None) -> list[str]:
    """Another input channel count: adapt each modality's slice of the convolutions that read the inputs."""
    target_spec = getattr(model, "input_spec", None)
    reports = []
    for key in sorted(mismatched):
        old, new = state[key], expected[key]
        if target_spec is None or old.ndim != 4 or old.shape[0] != new.shape[0] or old.shape[2:] != new.shape[2:]:
            continue
        slices_new = _input_slices(model, key, target_spec)
        slices_old = _input_slices(model, key, source_spec) if source_spec is not None else None
        if slices_old is None and slices_new is not None and len(slices_new) == 1:
            slices_old = [(slices_new[0][0], old.shape[1])]  # one modality: the file says its channel count
        if not slices_new or not slices_old or sum(c for _, c in slices_old) != old.shape[1] \
                or sum(c for _, c in slices_new) != new.shape[1]:
            continue
        pieces = torch.split(old, [c for _, c in slices_old], dim=1)
        pairs = list(zip(slices_old, slices_new, strict=True))
        adapted[key] = torch.cat([adapt_input_conv(p, c) for p, (_, (_, c)) in zip(pieces, pairs, strict=True)], 1)
        mismatched.discard(key)
        changes = ", ".join(f"{m} {co} -> {cn} channels" for (m, co), (_, cn) in pairs if co != cn)
        reports.append(f"first convolution {key.rsplit('.', 1)[0]}: {changes}, kernels adapted "
                       "(summed for 1 channel, else repeated or cut and rescaled)")
    return reports


def _adapt_buffers(model: nn.Module, expected: Mapping, mismatched: set, adapted: dict,
                   source_spec: InputSpec | None) -> list[str]:
    """Buffers derive from constructor arguments (e.g. the LiDAR gain per channel): with another channel count
    the freshly built model's own buffer is the right one."""
    spec = getattr(model, "input_spec", None)
    if spec is None or source_spec is None or \
            (source_spec.rgb_channels, source_spec.lidar_channels) == (spec.rgb_channels, spec.lidar_channels):
        return []
    buffers = dict(model.named_buffers())
    reports = []
    for key in sorted(k for k in mismatched if k in buffers):
        adapted[key] = expected[key].clone()
        mismatched.discard(key)
        reports.append(f"buffer {key}: rebuilt for {tuple(expected[key].shape)} from the constructor arguments "
                       "(the file's is for another channel count)")
    return reports


def load_weights(
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    source: str,
    source_spec: InputSpec | None = None,
) -> list[str]:
    """Load ``state`` into ``model`` strictly, except for the declared adaptations; returns them as sentences.

    Args:
        model: the freshly built model.
        state: the state dict read from ``source``.
        source: a description of where the weights come from, for messages.
        source_spec: the input spec the weights were trained with (needed to adapt input channels).

    Raises:
        ValueError: keys missing or unexpected, or shapes that no declared adaptation explains.
    """
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = {k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)}
    adapted: dict[str, torch.Tensor] = {}
    adaptations: list[str] = []
    if not missing and not unexpected and mismatched:
        adaptations += _adapt_head(model, state, expected, mismatched, adapted)
        adaptations += _adapt_first_convs(model, state, expected, mismatched, adapted, source_spec)
        adaptations += _adapt_buffers(model, expected, mismatched, adapted, source_spec)
    wrong_dtypes = [f"{k}: file {state[k].dtype} vs model {expected[k].dtype}" for k in sorted(expected)
                    if k in state and state[k].dtype != expected[k].dtype]
    if wrong_dtypes:
        raise ValueError(f"the weights in {source} have other tensor types than "
                         f"{getattr(model, 'arch_name', 'the model')} expects: {wrong_dtypes[:5]}; the file is not "
                         "what it claims to be (re-download or re-save it)")
    if missing or unexpected or mismatched:
        shapes = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}" for k in sorted(mismatched)]
        raise ValueError(_fit_message(model, source, missing, unexpected, shapes))
    model.load_state_dict({**state, **adapted}, strict=True)
    return adaptations


def report_adaptations(model: nn.Module, name: str, adaptations: list[str]) -> None:
    """Record ``adaptations`` on the model (``model.pretrained_adaptations``) and warn about them."""
    model.pretrained_adaptations = list(adaptations)
    if adaptations:
        message = f"{name} loaded with declared adaptations: " + "; ".join(adaptations)
        logger.info(message)
        warnings.warn(message, PretrainedAdaptationWarning, stacklevel=3)
