"""A published weight folder's ``config.json`` and model card, written from the weight's one record.

Each weight's metadata lives once: in its entry of ``mmzoo/pretrained/index.json`` (written by ``mmzoo export``,
registered when mmzoo is imported). ``weights/<arch>.<tag>/`` holds the weights file and two files written from
that entry, never edited by hand:

- ``config.json``: what rebuilds and verifies the model (architecture, constructor arguments, input spec,
  parameter count, the file's sha256 and size), the rest of the weight's metadata under ``pretrained_cfg``
  (tag, dataset, metrics, recipe, training), and the weights' data config (what a user's files are turned into
  for them, :mod:`mmzoo.pretrained.data_config`). The folder's golden outputs (:mod:`mmzoo.release.golden`) are
  kept as recorded: they are measured from the file, like its sha256, and recorded nowhere else;
- ``README.md``: the model card (:func:`mmzoo.release.cards.render_card`).

``mmzoo weights --write-files`` rewrites both for every weight in ``weights/``; ``mmzoo weights --check-files``
lists the stale ones (a test runs it on the committed folders). Neither touches ``model.safetensors``, so no
sha256 changes.

>>> import mmzoo
>>> config = config_for(mmzoo.get_weights("intermediate_cat.shapes_v1"))
>>> config["kwargs"]["lidar_scale"], config["data_config"]["lidar_scale"], "model_kwargs" in config["pretrained_cfg"]
(0.02, 0.02, False)
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mmzoo.pretrained.data_config import DATA_CONFIG_KEY, data_config_for
from mmzoo.pretrained.folder import CONFIG_NAME, CONFIG_TOP_LEVEL
from mmzoo.pretrained.index import INDEX_PATH, read_index
from mmzoo.registry import WeightInfo, model_info
from mmzoo.release.cards import render_card
from mmzoo.release.golden import GOLDEN_KEY
from mmzoo.release.publish import CARD_NAME
from mmzoo.utils.files import atomic_write_text

__all__ = ["config_for", "folder_texts", "stale_files", "write_weight_files"]

#: ``WeightInfo`` fields that ``config.json`` keeps out of ``pretrained_cfg``: those its top level already holds
#: (what rebuilds and verifies the model), and the Hub revision, which is known only after the folder is uploaded.
_NOT_IN_PRETRAINED_CFG = set(CONFIG_TOP_LEVEL) | {"sha256", "num_bytes", "revision"}


def config_for(weight: WeightInfo, golden: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``config.json`` of ``weight``'s folder, as data (``golden``: the folder's recorded golden outputs)."""
    described = {k: v for k, v in weight.to_dict().items() if k not in _NOT_IN_PRETRAINED_CFG}
    config = {
        "architecture": weight.architecture,
        "kwargs": dict(weight.model_kwargs),
        "input_spec": None if weight.input_spec is None else weight.input_spec.to_dict(),
        "num_params": weight.num_params,
        "files": {weight.filename: {"sha256": weight.sha256, "num_bytes": weight.num_bytes}},
        "pretrained_cfg": described,
        DATA_CONFIG_KEY: data_config_for(weight).to_dict(),
    }
    if golden is not None:
        config[GOLDEN_KEY] = golden
    return config


def folder_texts(weight: WeightInfo, golden: dict[str, Any] | None = None) -> dict[str, str]:
    """``{"config.json": text, "README.md": text}``: the two files of ``weight``'s folder, byte for byte.

    The weight is read as the index stores it (keys sorted), so that the files an export writes are the ones a
    later rewrite from the index gives.
    """
    weight = WeightInfo.from_dict(json.loads(json.dumps(weight.to_dict(), sort_keys=True)))
    config = json.dumps(config_for(weight, golden), indent=2) + "\n"
    return {CONFIG_NAME: config, CARD_NAME: render_card(weight, model_info(weight.architecture))}


def _recorded_golden(folder: Path) -> dict[str, Any] | None:
    try:
        record = json.loads((folder / CONFIG_NAME).read_text()).get(GOLDEN_KEY)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _expected(weights_dir: Path, index_path: Path) -> dict[Path, str]:
    """Every indexed weight folder under ``weights_dir``: each generated file and the text it must hold."""
    expected = {}
    for name, entry in sorted(read_index(index_path).items()):
        folder = weights_dir / name
        if not folder.is_dir():
            continue  # published on the Hub only: nothing here to write
        weight = WeightInfo.from_dict({k: v for k, v in entry.items() if k != "default"})
        for filename, text in folder_texts(weight, _recorded_golden(folder)).items():
            expected[folder / filename] = text
    return expected


def stale_files(weights_dir: str | Path, index_path: str | Path = INDEX_PATH) -> list[Path]:
    """The generated files under ``weights_dir`` that differ from what the index says they hold.

    >>> from mmzoo.pretrained.locate import checkout_weights_dir, shipped_weights_dir
    >>> stale_files(shipped_weights_dir() or checkout_weights_dir())
    []
    """
    expected = _expected(Path(weights_dir), Path(index_path))
    return [path for path, text in expected.items() if not path.is_file() or path.read_text() != text]


def write_weight_files(weights_dir: str | Path, index_path: str | Path = INDEX_PATH) -> list[Path]:
    """Rewrite the stale ``config.json`` and ``README.md`` files under ``weights_dir`` from the index (atomically,
    one file at a time); returns the files written. ``model.safetensors`` is never touched."""
    expected = _expected(Path(weights_dir), Path(index_path))
    written = []
    for path, text in expected.items():
        if not path.is_file() or path.read_text() != text:
            atomic_write_text(path, text).chmod(0o644)  # published artifacts, not private temporary files
            written.append(path)
    return written
