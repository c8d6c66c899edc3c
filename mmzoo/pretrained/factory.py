"""``create()``: one call from a name to a ready model.

>>> import mmzoo
>>> model = mmzoo.create("intermediate_cat")
>>> sum(p.numel() for p in model.parameters())
914201
>>> mmzoo.create("intermediate_cat", num_outputs=None).num_outputs  # None never overrides a default
1
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from torch import nn

from mmzoo.errors import WeightsNotFoundError
from mmzoo.pretrained.adapt import check_architecture, check_overrides
from mmzoo.pretrained.data_config import DataConfig, data_config_for
from mmzoo.pretrained.folder import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    load_file_into,
    load_pretrained,
    verify_recorded,
)
from mmzoo.pretrained.hub import hub_download, parse_hub_name
from mmzoo.pretrained.locate import WEIGHTS_DIR_ENV, find_local_weight, local_weight_dirs
from mmzoo.registry import WeightInfo, get_weights, model_entrypoint, split_model_name_tag
from mmzoo.utils.files import verify_file

__all__ = ["PREFIXES", "create", "parse_model_name", "locate_weight", "load_checkpoint_into"]

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
                what = "repo id" if prefix == "hf-hub:" else "folder"
                raise ValueError(f"{model_name!r} names no {what} after the prefix")
            return prefix[:-1], rest
    looks_like_path = any(sep in model_name for sep in ("/", "\\")) or model_name.startswith(("~", "."))
    if looks_like_path or os.path.isdir(model_name):
        raise ValueError(
            f"{model_name!r} looks like a Hub repo id or a folder, not a registered architecture name; "
            f"write 'hf-hub:{model_name}' for a Hugging Face Hub repo or 'local-dir:{model_name}' for a "
            "folder holding config.json and model.safetensors"
        )
    return "", model_name


def create(
    model_name: str,
    pretrained: bool = False,
    *,
    checkpoint_path: str | Path | None = None,
    cache_dir: str | Path | None = None,
    revision: str | None = None,
    trust_unverified: bool = False,
    **kwargs: Any,
) -> nn.Module:
    """Build a registered model, optionally with pretrained weights.

    Args:
        model_name: an architecture (``"late_fusion"``), an architecture with a pretrained tag
            (``"late_fusion.shapes_v1"``), a folder written by ``save_pretrained`` (``"local-dir:/path"``) or a
            Hub repo holding one (``"hf-hub:org/name"``, ``"hf-hub:org/name@revision"``).
        pretrained: load the weights of the tag (the architecture's default tag when none is given), of the
            ``local-dir:`` folder or of the ``hf-hub:`` repo (without it, only the architecture comes from there).
            A tag's file is looked for in this order: ``checkpoint_path``, the local weights folders
            (``$MMZOO_WEIGHTS_DIR``, then the weights shipped with the package or a source checkout's
            ``weights/``), then the Hugging Face cache and Hub at the tag's pinned revision. Its sha256 and size are
            verified before loading, wherever it comes from.
        checkpoint_path: a weight file (``.safetensors``, or a ``.pt`` state dict), a folder written by
            ``save_pretrained``, or a training run folder / its ``checkpoint.pt`` (its kept best epoch is
            loaded), instead of the published file (even without ``pretrained``, as in timm).
        cache_dir: the Hugging Face cache to use (default: HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub).
        revision: the Hub revision (branch, tag or commit) instead of the tag's pinned one or ``main``. An
            explicit revision other than the pinned one is always fetched from the Hub (never a local copy of the
            pinned file) and verified against that revision's own ``config.json``.
        trust_unverified: load weights whose folder or revision records no sha256 (with a warning). Without it
            such weights are refused, since nothing could tell a damaged or replaced file.
        **kwargs: constructor arguments (``num_outputs``, ``rgb_channels``, ``lidar_channels``, ...); those
            whose value is None are dropped so that a CLI default of None never overrides a model default. With
            pretrained weights only ``num_outputs`` (a fresh head) and the channel counts (an adapted first
            convolution) may differ from what the weights were trained with; each adaptation is warned about and
            listed in ``model.pretrained_adaptations``.

    Returns:
        The model, with ``arch_name``, ``arch_kwargs`` (what rebuilds it), ``input_spec``, ``pretrained_cfg``
        (the tag's ``WeightInfo`` or None), ``pretrained_adaptations`` and, once loaded, ``pretrained_file``.

    Raises:
        UnknownModelError (with the closest names), ValueError (path-like names, weights that do not fit),
        IntegrityError, UnverifiedWeightsError, WeightsNotFoundError (see :mod:`mmzoo.errors`); RuntimeError when
        ``pretrained=True`` names an architecture without published weights.
    """
    source, name = parse_model_name(model_name)
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    if source == "local-dir":
        model = load_pretrained(name, pretrained=pretrained and checkpoint_path is None,
                                trust_unverified=trust_unverified, **kwargs)
    elif source == "hf-hub":
        model = _create_from_hub(name, pretrained and checkpoint_path is None, cache_dir, revision, kwargs,
                                 trust_unverified)
    else:
        model = _create_registered(name, pretrained, checkpoint_path, cache_dir, revision, kwargs,
                                   trust_unverified)
    if source and checkpoint_path is not None:
        load_checkpoint_into(model, checkpoint_path, None, model_name, trust_unverified)
    if getattr(model, "pretrained_file", None) and not isinstance(getattr(model, "data_config", None), DataConfig):
        model.data_config = data_config_for(model)  # what the loaded weights were trained on (transforms_for)
    return model


def _create_from_hub(name: str, pretrained: bool, cache_dir, revision: str | None, kwargs: dict,
                     trust_unverified: bool) -> nn.Module:
    repo_id, pinned = parse_hub_name(name)
    if pinned and revision and pinned != revision:
        raise ValueError(f"'hf-hub:{name}' names revision {pinned!r} but revision={revision!r} was passed; give one")
    config = hub_download(repo_id, CONFIG_NAME, pinned or revision, cache_dir)
    commit = config.parent.name  # the snapshot folder is named by the commit the config came from
    if pretrained:
        hub_download(repo_id, WEIGHTS_NAME, commit, cache_dir)  # the weights of that very commit
    model = load_pretrained(config.parent, pretrained=pretrained, trust_unverified=trust_unverified, **kwargs)
    if model.pretrained_cfg is not None:
        model.pretrained_cfg = dataclasses.replace(model.pretrained_cfg, repo_id=repo_id, revision=commit)
    model.pretrained_source = f"hf-hub:{repo_id}@{commit}"
    return model


def _create_registered(name: str, pretrained: bool, checkpoint_path, cache_dir, revision, kwargs: dict,
                       trust_unverified: bool) -> nn.Module:
    arch, tag = split_model_name_tag(name)
    entrypoint = model_entrypoint(arch)
    weight = get_weights(name) if (tag or pretrained) else None
    if pretrained and weight is None and checkpoint_path is None:
        raise RuntimeError(
            f"{arch!r} has no published pretrained weights yet; build it with pretrained=False, or pick one "
            "from mmzoo.list_models(pretrained=True)"
        )
    loading = pretrained or checkpoint_path is not None
    if weight is not None:
        if loading:
            check_overrides(weight.name, weight.model_kwargs, kwargs, build=entrypoint)
        kwargs = {**weight.model_kwargs, **kwargs}
    model = entrypoint(**kwargs)
    model.pretrained_cfg = weight
    model.pretrained_adaptations = []
    if checkpoint_path is not None:
        load_checkpoint_into(model, checkpoint_path, weight, name, trust_unverified)
    elif pretrained:
        path = locate_weight(weight, cache_dir, revision, trust_unverified)
        load_file_into(model, path, weight.input_spec, label=weight.name)
    return model


def locate_weight(weight: WeightInfo, cache_dir=None, revision: str | None = None,
                  trust_unverified: bool = False) -> Path:
    """The verified file of a registered weight: from the local weights folders, else the Hugging Face cache or Hub.

    An explicit ``revision`` other than the pinned one skips the local copies (they hold the pinned bytes) and is
    checked against that revision's ``config.json`` record.

    Raises:
        IntegrityError: the file found has another sha256 or size than recorded.
        UnverifiedWeightsError: another revision whose config.json records no sha256, without ``trust_unverified``.
        WeightsNotFoundError: not local, and not published (no pinned revision) or not fetchable now.
    """
    pinned = revision is None or revision == weight.revision
    local = find_local_weight(weight.name, weight.filename) if pinned else None
    if local is not None:
        verify_file(local, weight.sha256, weight.num_bytes)
        return local
    if weight.revision is None and revision is None:
        places = ", ".join(str(d) for d in local_weight_dirs()) or (
            f"none: ${WEIGHTS_DIR_ENV} is unset, this mmzoo ships no weights and is not a source checkout")
        raise WeightsNotFoundError(
            f"{weight.name} is not published on the Hugging Face Hub yet ({weight.repo_id} has no pinned revision) "
            f"and no local folder holds {weight.name}/{weight.filename} (looked in: {places}). To fix it: install "
            f"an mmzoo wheel that ships it, set {WEIGHTS_DIR_ENV} to a folder holding {weight.name}/, or pass "
            "checkpoint_path="
        )
    path = hub_download(weight.repo_id, weight.filename, revision or weight.revision, cache_dir, weight.name)
    if pinned:
        verify_file(path, weight.sha256, weight.num_bytes)
        return path
    config_path = hub_download(weight.repo_id, CONFIG_NAME, path.parent.name, cache_dir, weight.name)
    verify_recorded(path, json.loads(config_path.read_text()), f"{weight.repo_id}@{revision}", trust_unverified)
    return path


def _training_best_state(path: Path) -> Path | None:
    """The ``checkpoint.pt`` of a training run folder (or the file itself), else None."""
    candidate = path / "checkpoint.pt" if path.is_dir() else path
    return candidate if candidate.name == "checkpoint.pt" and candidate.is_file() else None


def load_checkpoint_into(model: nn.Module, checkpoint_path: str | Path, weight: WeightInfo | None, name: str,
                         trust_unverified: bool = False) -> None:
    """Load an explicit checkpoint into ``model``: a weight file, a ``save_pretrained`` folder (verified against
    its config.json, which must record the file unless ``trust_unverified``), or a training run's
    ``checkpoint.pt`` (the kept best epoch's weights, not the last epoch's). A bare file of your own without a
    config.json beside it loads as it is, still strictly (keys, shapes, dtypes, architecture)."""
    path = Path(checkpoint_path).expanduser()
    spec = weight.input_spec if weight else None
    run_checkpoint = _training_best_state(path)
    if run_checkpoint is not None:
        load_file_into(model, run_checkpoint, spec, label=f"{name} from {run_checkpoint} (best epoch)")
        return
    config_path = path / CONFIG_NAME if path.is_dir() else path.with_name(CONFIG_NAME)
    if path.is_dir():
        path = path / (weight.filename if weight else WEIGHTS_NAME)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint_path {path} does not exist")
    if config_path.is_file():
        config = json.loads(config_path.read_text())
        verify_recorded(path, config, str(config_path), trust_unverified)
        check_architecture(model, config.get("architecture"), str(config_path))
        spec = config.get("input_spec") or spec
    load_file_into(model, path, spec, label=f"{name} from {path}")
