"""The pretrained-weight index: every published ``arch.tag`` and its metadata, as package data.

``mmzoo/pretrained/index.json`` ships inside the wheel, so an installed mmzoo knows each weight's Hub repo,
pinned revision, file name, sha256, size, parameter count, metrics, recipe and input spec without the
``weights/`` folder of a source checkout. ``mmzoo export`` rewrites it (deterministically: sorted keys, fixed
indentation); importing mmzoo registers its entries (:func:`register_index`). It is the one record of each weight's
metadata: the folders' ``config.json`` and model cards are written from it (``mmzoo weights --write-files``,
:mod:`mmzoo.release.weight_files`). A test proves every entry true against the files in ``weights/``.

The file::

    {"format": 1,
     "weights": {"intermediate_cat.shapes_v1": {"architecture": "intermediate_cat", "tag": "shapes_v1",
                                                "default": true, "repo_id": ..., "revision": null, ...}}}
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from mmzoo.registry.metadata import WeightInfo
from mmzoo.utils.files import atomic_write_text, file_lock
from mmzoo.registry import is_model, register_weights, split_model_name_tag

__all__ = ["INDEX_PATH", "INDEX_FORMAT", "read_index", "write_index", "update_index", "register_index"]

#: The index shipped with the package.
INDEX_PATH = Path(__file__).with_name("index.json")
INDEX_FORMAT = 1


def read_index(path: str | Path = INDEX_PATH) -> dict[str, dict[str, Any]]:
    """``{"arch.tag": entry}`` from an index file (an absent file is an empty index).

    Raises:
        ValueError: the file is not an index of this format, or an entry's name disagrees with its fields.
    """
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); regenerate it with `mmzoo export`") from None
    if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT or not isinstance(data.get("weights"), dict):
        raise ValueError(f"{path} is not a pretrained index of format {INDEX_FORMAT}; "
                         "regenerate it with `mmzoo export`")
    for name, entry in data["weights"].items():
        arch, tag = split_model_name_tag(name)
        if (entry.get("architecture"), entry.get("tag")) != (arch, tag):
            raise ValueError(f"{path}: entry {name!r} records architecture {entry.get('architecture')!r} "
                             f"and tag {entry.get('tag')!r}; the key must be 'architecture.tag'")
    return data["weights"]


def write_index(entries: dict[str, dict[str, Any]], path: str | Path = INDEX_PATH) -> Path:
    """Write ``entries`` as an index, sorted, atomically (readers see the old file or the new one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"format": INDEX_FORMAT, "weights": dict(sorted(entries.items()))}, indent=2, sort_keys=True)
    atomic_write_text(path, text + "\n")
    return path


def update_index(weight: WeightInfo, path: str | Path = INDEX_PATH, default: bool | None = None) -> Path:
    """Add or replace ``weight`` (its ``architecture`` must be set) in the index at ``path``.

    ``default``: whether a bare architecture name loads this tag; None keeps the existing choice, or makes the
    weight the default when its architecture has no other tag yet.
    """
    if not weight.architecture:
        raise ValueError("the weight's architecture must be set before it is indexed")
    with file_lock(Path(path).with_name(Path(path).name + ".lock"), f"the pretrained index {path}", wait_s=60):
        return _update_locked(weight, Path(path), default)


def _update_locked(weight: WeightInfo, path: Path, default: bool | None) -> Path:
    entries = read_index(path)
    siblings = {n: e for n, e in entries.items() if e["architecture"] == weight.architecture and n != weight.name}
    if default is None:
        default = entries.get(weight.name, {}).get("default", not any(e.get("default") for e in siblings.values()))
    if default:
        for entry in siblings.values():
            entry["default"] = False
    entries[weight.name] = {**weight.to_dict(), "default": bool(default)}
    return write_index(entries, path)


def register_index(path: str | Path = INDEX_PATH) -> list[str]:
    """Register every entry of the index with the registry (mmzoo does this on import); returns the names.

    An entry for an architecture that is not registered is skipped with a ``RuntimeWarning``.

    An entry marked ``default`` becomes what a bare architecture name loads, also over tags registered before.
    """
    entries = read_index(path)
    ordered = sorted(entries.items(), key=lambda item: (not item[1].get("default", False), item[0]))
    registered = []
    for name, entry in ordered:
        if not is_model(entry["architecture"]):
            # An index written by a newer mmzoo, or a plugin not imported yet: importing mmzoo must still work.
            warnings.warn(f"{path}: weight {name} is for architecture {entry['architecture']!r}, which is not "
                          "registered; skipping it (import the package that registers it, or upgrade mmzoo)",
                          RuntimeWarning, stacklevel=2)
            continue
        values = {key: value for key, value in entry.items() if key != "default"}
        register_weights(entry["architecture"], WeightInfo.from_dict(values), default=bool(entry.get("default")),
                         override=True)
        registered.append(name)
    return registered
