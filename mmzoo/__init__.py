"""mmzoo: a model zoo of RGB + LiDAR fusion networks.

>>> import mmzoo
>>> mmzoo.list_models("intermediate_cat*")
['intermediate_cat', 'intermediate_cat_strided']
>>> model = mmzoo.create("intermediate_cat")

The package is layered; each layer imports only the ones before it (see ``docs/contributing.md``)::

    errors, utils -> data -> registry -> models -> pretrained -> train -> bench, release -> cli
"""
from mmzoo._version import __version__

import importlib
from typing import Any

from mmzoo import models  # noqa: F401  (importing registers every architecture)
from mmzoo import errors as _errors
from mmzoo.errors import (
    BusyError,
    DataFormatError,
    DuplicateModelError,
    GoldenOutputError,
    HeadMismatchError,
    InputRangeWarning,
    InputSizeError,
    IntegrityError,
    LabelsFileError,
    MmzooError,
    NonFiniteLossError,
    PretrainedAdaptationWarning,
    PublishError,
    UnknownClassError,
    UnknownModelError,
    UnpairedFilesError,
    UnverifiedWeightsError,
    UnverifiedWeightsWarning,
    WeightsNotFoundError,
    WrongArchitectureError,
)
from mmzoo.pretrained.factory import create, parse_model_name
from mmzoo.pretrained.data_config import DataConfig, data_config_for
from mmzoo.pretrained.folder import load_pretrained, save_pretrained
from mmzoo.pretrained.transforms import FusionTransforms, transforms_for
from mmzoo.pretrained.index import register_index
from mmzoo.registry import (
    ArchInfo,
    InputSpec,
    WeightInfo,
    get_weights,
    is_model,
    list_models,
    list_pretrained,
    model_entrypoint,
    model_info,
    register_model,
    register_weights,
    split_model_name_tag,
)

# The published weights' records ship as package data (mmzoo/pretrained/index.json): register them now that
# every architecture is registered, so list_models(pretrained=True) works without the weights/ folder.
register_index()

# Release functions load huggingface_hub and the training engine: imported when first used, not by `import mmzoo`.
_LAZY = {"push_to_hub": "mmzoo.release.publish", "publish_folder": "mmzoo.release.publish",
         "export_onnx": "mmzoo.release.onnx"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mmzoo' has no attribute {name!r}")


__all__ = [
    "__version__",
    "create",
    "parse_model_name",
    "save_pretrained",
    "load_pretrained",
    "transforms_for",
    "data_config_for",
    "DataConfig",
    "FusionTransforms",
    "push_to_hub",
    "publish_folder",
    "export_onnx",
    "list_models",
    "list_pretrained",
    "is_model",
    "model_info",
    "model_entrypoint",
    "get_weights",
    "register_model",
    "register_weights",
    "split_model_name_tag",
    "ArchInfo",
    "InputSpec",
    "WeightInfo",
    *_errors.__all__,  # every public exception and warning (mmzoo/errors.py)
]
