"""``create()``: one call from a name to a ready model.

>>> import mmzoo
>>> model = mmzoo.create("intermediate_cat")
>>> sum(p.numel() for p in model.parameters())
914201
>>> mmzoo.create("intermediate_cat", num_outputs=None).num_outputs  # None never overrides a default
1
"""
from __future__ import annotations

import os
from typing import Any

from torch import nn

from mmzoo.registry import get_weights, model_entrypoint, split_model_name_tag
from mmzoo.serialization import load_pretrained

__all__ = ["PREFIXES", "create", "parse_model_name"]

#: Name prefixes that point at a model outside the registry.
PREFIXES = ("hf-hub:", "local-dir:")


def parse_model_name(model_name: str) -> tuple[str, str]:
    """Split ``model_name`` into ``(source, name)`` where source is ``""`` (the registry), ``"hf-hub"`` or
    ``"local-dir"``.

    A name that looks like a path or a Hub repo id but has no prefix is refused rather than guessed at.

    >>> parse_model_name("hf-hub:org/late_fusion")
    ('hf-hub', 'org/late_fusion')
    >>> parse_model_name("late_fusion.synthetic")
    ('', 'late_fusion.synthetic')
    """
    if not isinstance(model_name, str) or not model_name:
        raise ValueError(f"model name must be a non-empty string; got {model_name!r}")
    for prefix in PREFIXES:
        if model_name.startswith(prefix):
            rest = model_name[len(prefix):]
            if not rest:
                raise ValueError(f"{model_name!r} names no {'repo id' if prefix == 'hf-hub:' else 'folder'} after the prefix")
            return prefix[:-1], rest
    looks_like_path = any(sep in model_name for sep in ("/", "\\")) or model_name.startswith(("~", "."))
    if looks_like_path or os.path.isdir(model_name):
        raise ValueError(
            f"{model_name!r} looks like a Hub repo id or a folder, not a registered architecture name; "
            f"write 'hf-hub:{model_name}' for a Hugging Face Hub repo or 'local-dir:{model_name}' for a "
            "folder holding config.json and model.safetensors"
        )
    return "", model_name


def create(model_name: str, pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """Build a registered model, optionally with pretrained weights.

    Args:
        model_name: an architecture (``"late_fusion"``), an architecture with a pretrained tag
            (``"late_fusion.<tag>"``), or a folder written by ``save_pretrained`` (``"local-dir:/path"``;
            ``"hf-hub:org/repo"`` is reserved for the Hub).
        pretrained: load the weights of the tag (the architecture's default tag when none is given), or of the
            ``local-dir:`` folder (without it, only the architecture comes from the folder, as in timm).
        **kwargs: constructor arguments (``num_outputs``, ``rgb_channels``, ``lidar_channels``, ...); those
            whose value is None are dropped so that a CLI default of None never overrides a model default.

    Returns:
        The model, carrying ``arch_name``, ``arch_kwargs`` (what rebuilds it), ``input_spec`` and
        ``pretrained_cfg`` (the tag's ``WeightInfo``, or None).

    Raises:
        UnknownModelError: unknown architecture (the message lists the closest names) or tag.
        ValueError: a path-like name without a prefix.
        RuntimeError: ``pretrained=True`` for an architecture that has no published weights.
    """
    source, name = parse_model_name(model_name)
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    if source == "local-dir":
        model = load_pretrained(name, pretrained=pretrained, **kwargs)
        model.pretrained_cfg = None
        return model
    if source == "hf-hub":
        raise NotImplementedError(
            "loading from 'hf-hub:' is not available in this version of mmzoo; download the repo's files into a "
            "folder and use 'local-dir:FOLDER'"
        )
    arch, tag = split_model_name_tag(name)
    entrypoint = model_entrypoint(arch)
    weight = get_weights(name) if (tag or pretrained) else None
    if pretrained and weight is None:
        raise RuntimeError(
            f"{arch!r} has no published pretrained weights yet; build it with pretrained=False, or pick one "
            "from mmzoo.list_models(pretrained=True)"
        )
    model = entrypoint(**kwargs)
    model.pretrained_cfg = weight
    if pretrained:
        raise NotImplementedError(
            f"{arch}.{weight.tag} is registered but this version of mmzoo cannot download weights yet"
        )
    return model
