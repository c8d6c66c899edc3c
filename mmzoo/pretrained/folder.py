"""A model on disk: a folder with ``config.json`` and ``model.safetensors``, written and read back strictly.

``save_pretrained(model, folder)`` records what rebuilds the model (architecture, constructor kwargs, input
spec) and the sha256 and size of its weights; ``load_pretrained(folder)`` (what ``create("local-dir:...")``
calls) rebuilds it, verifies the file against those records and loads the weights strictly: a tampered or
truncated file, or a state dict that does not fit the architecture, is an error, never a silent partial load.

>>> import tempfile, mmzoo
>>> folder = save_pretrained(mmzoo.create("late_fusion_strided"), tempfile.mkdtemp())
>>> mmzoo.create(f"local-dir:{folder}", pretrained=True).arch_name
'late_fusion_strided'
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from safetensors.torch import save_file
from torch import nn

from mmzoo.pretrained.adapt import check_architecture, check_overrides, load_weights, read_weights, report_adaptations
from mmzoo.pretrained.data_config import DATA_CONFIG_KEY, DataConfig, data_config_for
from mmzoo.registry.metadata import InputSpec, WeightInfo
from mmzoo.utils.files import atomic_write_json, file_sha256, verify_file
from mmzoo.errors import IntegrityError, UnverifiedWeightsError, UnverifiedWeightsWarning
from mmzoo.registry import get_weights, is_model, model_entrypoint

__all__ = [
    "CONFIG_NAME",
    "CONFIG_TOP_LEVEL",
    "WEIGHTS_NAME",
    "save_pretrained",
    "load_pretrained",
    "load_file_into",
    "verify_recorded",
    "folder_weight_info",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
#: The published-weight fields a config.json holds at its top level (WeightInfo field -> config.json key): what
#: rebuilds the model. ``pretrained_cfg`` holds the weight's other fields, so that nothing is recorded twice.
CONFIG_TOP_LEVEL = {"architecture": "architecture", "model_kwargs": "kwargs", "input_spec": "input_spec",
                    "num_params": "num_params"}


def save_pretrained(model: nn.Module, folder: str | Path, pretrained_cfg: dict[str, Any] | None = None) -> Path:
    """Write ``model`` to ``folder`` as ``model.safetensors`` + ``config.json``; returns the folder.

    The model must come from the registry (``mmzoo.create``), so that its architecture name and constructor
    kwargs can rebuild it. ``pretrained_cfg`` (the weight's metadata: tag, dataset, metrics, recipe...) is
    stored in config.json as is. The same model gives byte-identical files.
    """
    arch = getattr(model, "arch_name", None)
    if arch is None or not hasattr(model, "arch_kwargs"):
        raise ValueError("save_pretrained needs a model built by mmzoo.create (it records arch_name and arch_kwargs)")
    model_entrypoint(arch)  # refuse names the registry cannot rebuild
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / WEIGHTS_NAME
    state = {key: value.detach().contiguous().cpu() for key, value in model.state_dict().items()}
    save_file(state, str(weights), metadata={"format": "pt", "architecture": arch})
    _canonical_header(weights)
    spec = getattr(model, "input_spec", None)
    config = {
        "architecture": arch,
        "kwargs": model.arch_kwargs,
        "input_spec": None if spec is None else spec.to_dict(),
        "num_params": sum(p.numel() for p in model.parameters()),
        "files": {WEIGHTS_NAME: {"sha256": file_sha256(weights), "num_bytes": weights.stat().st_size}},
    }
    if pretrained_cfg is not None:
        config["pretrained_cfg"] = pretrained_cfg
    dataset = None
    if isinstance(pretrained_cfg, dict) and pretrained_cfg.get("dataset"):
        dataset = f"{pretrained_cfg['dataset']} {pretrained_cfg.get('dataset_version', '')}".strip()
    # What mmzoo.transforms_for turns a user's files into for these weights.
    config[DATA_CONFIG_KEY] = data_config_for(model, dataset=dataset).to_dict()
    atomic_write_json(folder / CONFIG_NAME, config)
    return folder


def _canonical_header(path: Path) -> None:
    """Rewrite the safetensors header with its metadata keys sorted, in place and at the same length.

    safetensors writes the metadata from a hash map, so its key order (hence the file's bytes and sha256) changes
    from process to process; published files must be byte-identical for the same weights.
    """
    with open(path, "r+b") as handle:
        size = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(size))
        metadata = header.pop("__metadata__", None)
        ordered = {**({"__metadata__": dict(sorted(metadata.items()))} if metadata else {}), **header}
        text = json.dumps(ordered, separators=(",", ":")).encode()
        if len(text) > size:  # cannot happen for a reordering; keep the library's header rather than break it
            return
        handle.seek(8)
        handle.write(text + b" " * (size - len(text)))  # safetensors pads its header with spaces too


def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist; a local-dir: model folder holds {CONFIG_NAME} and {WEIGHTS_NAME} "
            "(write one with mmzoo.save_pretrained(model, folder))"
        )
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}); re-save the model with mmzoo.save_pretrained") from None
    if not isinstance(config, dict) or not isinstance(config.get("architecture"), str):
        raise ValueError(f"{path} has no 'architecture' name; it was not written by mmzoo.save_pretrained")
    return config


def verify_recorded(path: Path, config: dict[str, Any], source: str, trust_unverified: bool = False) -> None:
    """Verify ``path`` against the sha256 and size that ``config["files"]`` records for it.

    A config that records nothing for the file is refused (:class:`UnverifiedWeightsError`) unless
    ``trust_unverified``, which loads it with an :class:`UnverifiedWeightsWarning` saying what was not checked.
    """
    record = config.get("files", {}).get(path.name) if isinstance(config.get("files"), dict) else None
    if not isinstance(record, dict) or not record.get("sha256"):
        message = (f"{source} records no sha256 for {path.name}, so nothing can tell whether the file is the one "
                   "that was saved")
        if not trust_unverified:
            raise UnverifiedWeightsError(f"{message}; re-save it with mmzoo.save_pretrained, or pass "
                                         "trust_unverified=True if you trust the file")
        warnings.warn(f"{message}; loading it unverified (trust_unverified=True)", UnverifiedWeightsWarning,
                      stacklevel=3)
        return
    verify_file(path, record["sha256"], record.get("num_bytes"))


def _check_claimed_tag(config: dict[str, Any], path: Path) -> None:
    """A folder whose metadata names a registered ``arch.tag`` must hold that tag's published bytes: the
    package index's sha256 is checked, not only the folder's own record (which whoever edits the file can
    rewrite too)."""
    described = config.get("pretrained_cfg")
    if not isinstance(described, dict):
        return
    name = f"{config.get('architecture')}.{described.get('tag')}"
    if not described.get("tag") or not is_model(name):
        return
    published = get_weights(name)
    if published is not None and published.sha256 and file_sha256(path) != published.sha256:
        raise IntegrityError(f"{path} claims to be the published weights {name}, but its sha256 is not the one "
                             f"mmzoo publishes for {name} ({published.sha256}); it was modified or replaced")


def load_pretrained(folder: str | Path, pretrained: bool = True, trust_unverified: bool = False,
                    **kwargs: Any) -> nn.Module:
    """Rebuild the model saved in ``folder`` and, if ``pretrained``, load its verified weights (as timm's
    ``local-dir:``: without ``pretrained`` only the architecture comes from the folder).

    The model carries ``pretrained_cfg``: the folder's published-weight metadata (``mmzoo export`` folders), else
    None. ``kwargs`` override the saved constructor kwargs. With ``pretrained`` only the declared adaptations are
    allowed (``num_outputs``: fresh head; ``rgb_channels`` / ``lidar_channels``: adapted first convolution),
    reported in ``model.pretrained_adaptations`` and as a warning; anything else that would change what the
    weights mean is refused. The weights must be recorded in config.json (sha256 and size) unless
    ``trust_unverified``; a folder claiming a registered ``arch.tag`` must hold that tag's published bytes.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder {folder} does not exist")
    config = _read_config(folder)
    entrypoint = model_entrypoint(config["architecture"])
    trained = config.get("kwargs", {})
    if not isinstance(trained, dict):
        raise ValueError(f"{folder / CONFIG_NAME}: 'kwargs' must be an object of constructor arguments")
    if pretrained:
        check_overrides(f"in {folder}", trained, kwargs, build=entrypoint)
    model = entrypoint(**{**trained, **kwargs})
    model.pretrained_adaptations = []
    model.pretrained_cfg = folder_weight_info(config)
    if not pretrained:
        return model
    weights = folder / WEIGHTS_NAME
    verify_recorded(weights, config, str(folder / CONFIG_NAME), trust_unverified)
    _check_claimed_tag(config, weights)
    load_file_into(model, weights, source_spec=config.get("input_spec"), label=f"local-dir:{folder}")
    if isinstance(config.get(DATA_CONFIG_KEY), dict) and not model.pretrained_adaptations:
        model.data_config = DataConfig.from_dict(config[DATA_CONFIG_KEY])  # e.g. a fine-tuned folder's classes
    return model


def folder_weight_info(config: dict[str, Any]) -> WeightInfo | None:
    """The published-weight metadata a folder's config.json carries (``mmzoo export`` writes it), or None."""
    described = config.get("pretrained_cfg")
    if not isinstance(described, dict):
        return None
    record = config.get("files", {}).get(described.get("filename", WEIGHTS_NAME), {})
    # Folders written before the top-level fields left pretrained_cfg hold them in both places: the same values.
    rebuild = {field: config[key] for field, key in CONFIG_TOP_LEVEL.items() if key in config}
    return WeightInfo.from_dict({**rebuild, **described, "revision": None, "sha256": record.get("sha256", ""),
                                 "num_bytes": record.get("num_bytes", 0)})


def load_file_into(
    model: nn.Module,
    path: str | Path,
    source_spec: InputSpec | dict | None = None,
    label: str | None = None,
) -> list[str]:
    """Load a (verified) weight file into ``model``: architecture check, strict load with declared adaptations,
    reported. Sets ``model.pretrained_adaptations`` and ``model.pretrained_file``; returns the adaptations."""
    path = Path(path)
    state, metadata = read_weights(path)
    check_architecture(model, metadata.get("architecture"), str(path))
    if isinstance(source_spec, dict):
        source_spec = InputSpec.from_dict(source_spec)
    adaptations = load_weights(model, state, str(path), source_spec)
    report_adaptations(model, label or str(path), adaptations)
    model.pretrained_file = str(path)
    return adaptations
