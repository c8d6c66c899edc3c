"""The registry and model metadata: names -> constructors, what each architecture and published weight is.

May import: torch, :mod:`mmzoo.errors`. No network, no weights on disk, no training: the layers above
(:mod:`mmzoo.models` registers into it, :mod:`mmzoo.pretrained` loads what it describes) depend on it, never the
other way round.

>>> from mmzoo.registry import list_models
>>> list_models("intermediate_cat*")
['intermediate_cat', 'intermediate_cat_strided']
"""
from mmzoo.errors import DuplicateModelError, UnknownModelError
from mmzoo.registry._registry import (
    closest_models,
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
from mmzoo.registry.metadata import SOURCES, ArchInfo, InputSpec, WeightInfo

__all__ = [
    "SOURCES",
    "ArchInfo",
    "InputSpec",
    "WeightInfo",
    "UnknownModelError",
    "DuplicateModelError",
    "register_model",
    "register_weights",
    "split_model_name_tag",
    "list_models",
    "list_pretrained",
    "is_model",
    "model_entrypoint",
    "model_info",
    "get_weights",
    "closest_models",
]
