"""mmzoo: a model zoo of RGB + LiDAR fusion networks.

>>> import mmzoo
>>> mmzoo.list_models("intermediate_*", exclude="*_strided")
['intermediate_add', 'intermediate_cat', 'intermediate_hadamard']
>>> model = mmzoo.create("intermediate_cat")
"""
__version__ = "0.1.0"

from mmzoo import models  # noqa: F401  (importing registers every architecture)
from mmzoo.adapt import PretrainedAdaptationWarning, WrongArchitectureError
from mmzoo.factory import create, parse_model_name
from mmzoo.hub import WeightsNotFoundError
from mmzoo.pretrained import ArchInfo, InputSpec, WeightInfo
from mmzoo.registry import (
    DuplicateModelError,
    UnknownModelError,
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
from mmzoo.publish import publish_folder, push_to_hub
from mmzoo.serialization import IntegrityError, load_pretrained, save_pretrained
from mmzoo.weight_index import register_index

# The published weights' metadata ships as package data (mmzoo/pretrained_index.json): register it now that
# every architecture is registered, so list_models(pretrained=True) works without the weights/ folder.
register_index()

__all__ = [
    "__version__",
    "create",
    "parse_model_name",
    "save_pretrained",
    "load_pretrained",
    "push_to_hub",
    "publish_folder",
    "IntegrityError",
    "WeightsNotFoundError",
    "WrongArchitectureError",
    "PretrainedAdaptationWarning",
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
    "UnknownModelError",
    "DuplicateModelError",
]
