"""``export_onnx``: a zoo model as an ONNX file that onnxruntime, TensorRT or a server can run without mmzoo.

The file is written by PyTorch's current exporter (``torch.onnx.export(..., dynamo=True)``) from the
``torch.export`` program of :func:`mmzoo.release.program.export_program`, so it has:

- inputs named after the modalities the model reads (``rgb`` and ``lidar``, or the one a baseline reads),
  float32, ``(batch, C, H, W)``, with ONE symbolic ``batch`` dimension shared by all inputs;
- one output named for the task: ``logit`` for classification, ``positions`` for regression
  (:func:`output_name`), shaped ``(batch, num_outputs)``;
- ``metadata_props`` that say what the inputs must look like and what the model is (:data:`METADATA_KEYS`):
  the input spec, the architecture's metadata (``mmzoo.model_info(name).to_dict()``), the constructor
  arguments, the opset, and the weight's name and sha256 when it was exported with pretrained weights.

Needs the ``export`` extra: ``pip install mmzoo[export]`` (onnx, onnxscript; onnxruntime to run the file).
Example (not a doctest: the extra is optional)::

    path = export_onnx("late_fusion", "late.onnx")
    [i.name for i in onnx.load(path).graph.input]   # ['rgb', 'lidar']
    read_onnx_metadata(path)["mmzoo.output"]         # 'logit'
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mmzoo.pretrained.factory import create
from mmzoo.registry import model_info
from mmzoo.release.program import as_deployable, export_program
from mmzoo.utils.files import atomic_write_bytes

__all__ = ["OUTPUT_NAMES", "METADATA_KEYS", "output_name", "onnx_metadata", "export_onnx", "read_onnx_metadata"]

#: The output's name by the kind of task an architecture's ``ArchInfo.task`` describes (checked in order).
OUTPUT_NAMES: tuple[tuple[str, str], ...] = (("classification", "logit"), ("regression", "positions"))
#: The output's name when the task is neither (an architecture registered with another kind of task).
DEFAULT_OUTPUT_NAME = "output"

#: What ``metadata_props`` holds; values are strings, JSON for the structured ones.
METADATA_KEYS = (
    "mmzoo.version",  # the mmzoo that wrote the file
    "mmzoo.architecture",  # registered architecture name
    "mmzoo.model_kwargs",  # JSON: constructor arguments (mmzoo.create(architecture, **kwargs) rebuilds it)
    "mmzoo.input_spec",  # JSON: InputSpec.to_dict() of the exported model (channels, size, ranges, formula)
    "mmzoo.model_info",  # JSON: ArchInfo.to_dict() of the architecture (task, fusion point, source...)
    "mmzoo.inputs",  # JSON list: the input names in order
    "mmzoo.output",  # the output's name
    "mmzoo.opset",  # the default-domain opset of the file
    "mmzoo.weight",  # JSON: {"name", "sha256", "num_bytes"} of the pretrained weight, or null
)


def output_name(task: str) -> str:
    """The ONNX output name for an architecture's task description.

    >>> output_name("binary classification: cube (0) vs sphere (1), 1 logit")
    'logit'
    >>> output_name("regression: x, y, z of three objects (9 outputs), MSE")
    'positions'
    """
    lowered = task.lower()
    return next((name for kind, name in OUTPUT_NAMES if kind in lowered), DEFAULT_OUTPUT_NAME)


def _resolve(model_or_name: nn.Module | str, pretrained: bool, create_kwargs: dict[str, Any]) -> nn.Module:
    if isinstance(model_or_name, str):
        return create(model_or_name, pretrained=pretrained, **create_kwargs)
    if not isinstance(model_or_name, nn.Module):
        raise TypeError(f"export_onnx takes a model name or a model built by mmzoo.create; got {type(model_or_name).__name__}")
    if pretrained or create_kwargs:
        raise ValueError("pretrained= and constructor arguments apply to a model name; this model is already built")
    return model_or_name


def _weight_record(model: nn.Module) -> dict[str, Any] | None:
    """The loaded weight's identity, when the model carries pretrained weights it can name."""
    weight = getattr(model, "pretrained_cfg", None)
    if weight is None or not getattr(model, "pretrained_file", None):
        return None
    return {"name": weight.name, "sha256": weight.sha256, "num_bytes": weight.num_bytes}


def onnx_metadata(model: nn.Module, opset: int) -> dict[str, str]:
    """The ``metadata_props`` (see :data:`METADATA_KEYS`) written into the ONNX file of ``model``."""
    from mmzoo._version import __version__

    arch = getattr(model, "arch_name", None)
    info = model_info(arch)
    spec = model.input_spec
    return {
        "mmzoo.version": __version__,
        "mmzoo.architecture": arch,
        "mmzoo.model_kwargs": json.dumps(getattr(model, "arch_kwargs", {}), sort_keys=True),
        "mmzoo.input_spec": json.dumps(spec.to_dict(), sort_keys=True),
        "mmzoo.model_info": json.dumps(info.to_dict(), sort_keys=True),
        "mmzoo.inputs": json.dumps(list(spec.modalities)),
        "mmzoo.output": output_name(info.task),
        "mmzoo.opset": str(opset),
        "mmzoo.weight": json.dumps(_weight_record(model), sort_keys=True),
    }


def _default_opset(proto: Any) -> int:
    return next(entry.version for entry in proto.opset_import if entry.domain in ("", "ai.onnx"))


def export_onnx(
    model_or_name: nn.Module | str,
    path: str | Path,
    *,
    pretrained: bool = False,
    opset: int | None = None,
    check: bool = True,
    **create_kwargs: Any,
) -> Path:
    """Export a zoo model to an ONNX file with named inputs, a shared dynamic batch and mmzoo metadata.

    Args:
        model_or_name: a name for :func:`mmzoo.create` (``"intermediate_cat"``, ``"late_fusion.shapes_v1"``,
            ``"local-dir:/path"``...) or a model it built.
        path: the ``.onnx`` file to write (replaced atomically; its folder is created).
        pretrained: load the name's pretrained weights (as ``mmzoo.create(name, pretrained=True)``).
        opset: the ONNX opset (default: the exporter's). torch's exporter implements opsets from 18; a lower one
            is converted, and if the conversion fails this raises instead of writing another opset than asked.
        check: run ``onnx.checker.check_model(full_check=True)`` (with shape inference) on the file.
        **create_kwargs: constructor arguments for a name (``num_outputs=3``...).

    Returns:
        The written path.

    Example::

        mmzoo.export_onnx("intermediate_cat", "cat.onnx", pretrained=True)
        session = onnxruntime.InferenceSession("cat.onnx")
        logit = session.run(["logit"], {"rgb": rgb.numpy(), "lidar": lidar.numpy()})[0]
    """
    try:
        import onnx
    except ImportError as err:
        raise ImportError("export_onnx needs onnx and onnxscript: pip install 'mmzoo[export]'") from err
    if opset is not None and (not isinstance(opset, int) or isinstance(opset, bool) or opset < 7):
        raise ValueError(f"opset must be an int ONNX opset version (18 or more for torch's exporter); got {opset!r}")
    model = _resolve(model_or_name, pretrained, create_kwargs).to("cpu", torch.float32)
    wrapped = as_deployable(model)
    names = list(wrapped.modalities)
    out_name = output_name(model_info(model.arch_name).task)
    with warnings.catch_warnings():
        # The exporter warns about its own internals (deprecated torch.export APIs it calls); not the user's.
        warnings.simplefilter("ignore", (DeprecationWarning, FutureWarning, UserWarning))
        program = torch.onnx.export(export_program(wrapped), (), None, dynamo=True, input_names=names,
                                    output_names=[out_name], opset_version=opset, external_data=False,
                                    verbose=False)
    proto = program.model_proto
    produced = _default_opset(proto)
    if opset is not None and produced != opset:
        raise ValueError(f"opset {opset} was asked for but torch's exporter could only produce opset {produced}; "
                         "use opset 18 or more")
    for key, value in onnx_metadata(model, produced).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    path = atomic_write_bytes(Path(path).expanduser(), proto.SerializeToString())
    if check:
        onnx.checker.check_model(str(path), full_check=True)
    return path


def read_onnx_metadata(path: str | Path) -> dict[str, Any]:
    """The mmzoo ``metadata_props`` of an ONNX file (:data:`METADATA_KEYS`), JSON values decoded: for a
    baseline reading only RGB, ``meta["mmzoo.inputs"] == ["rgb"]``; ``meta["mmzoo.weight"]`` is None unless the
    file was exported with pretrained weights."""
    import onnx

    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    decoded: dict[str, Any] = {}
    for key, value in props.items():
        if not key.startswith("mmzoo."):
            continue
        try:
            decoded[key] = value if key in ("mmzoo.version", "mmzoo.architecture", "mmzoo.output") else json.loads(value)
        except json.JSONDecodeError:
            decoded[key] = value
    return decoded
