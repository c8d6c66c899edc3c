"""The committed weights tell the truth: the package index, weights/<arch>.<tag>/ and the model cards agree, the
recorded sha256, sizes and parameter counts are recomputed from the files, and every weight, loaded by name
(``mmzoo.create(name, pretrained=True)``) and re-evaluated on a freshly generated validation set, reaches the
metrics its card states.

Tolerance of the re-evaluation: the same frames and the same weights give the same logits up to float summation
order (thread count), so accuracy may differ by at most one frame of the split (a logit within rounding of 0) and
the loss by 1e-4.
"""
from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import pytest
import yaml
from safetensors import safe_open

import mmzoo
from mmzoo.cli.export import WEIGHT_COLUMNS, weight_rows
from mmzoo.cli.models import format_table
from mmzoo.pretrained.folder import CONFIG_NAME, WEIGHTS_NAME, folder_weight_info
from mmzoo.utils.files import file_sha256
from mmzoo.pretrained.index import INDEX_PATH, read_index

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights"
INDEX = read_index()
NAMES = sorted(INDEX)
FOLDERS = sorted(p.name for p in WEIGHTS.iterdir() if p.is_dir() and not p.name.startswith("."))
LOSS_TOLERANCE = 1e-4


@pytest.fixture(autouse=True)
def only_the_checkout(monkeypatch):
    """Load from this checkout's weights/ only: no user weights folder, and never the network."""
    monkeypatch.delenv(mmzoo.pretrained.locate.WEIGHTS_DIR_ENV, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def card_metadata(name: str) -> dict:
    return yaml.safe_load((WEIGHTS / name / "README.md").read_text().split("---\n")[1])


def test_folders_and_index_entries_match():
    assert set(FOLDERS) <= set(NAMES), "a weights/ folder has no index entry: export it with `mmzoo export`"
    unpublished_elsewhere = [n for n in NAMES if n not in FOLDERS and INDEX[n]["revision"] is None]
    assert not unpublished_elsewhere, f"{unpublished_elsewhere} are neither in weights/ nor published on the Hub"
    assert mmzoo.list_models(pretrained=True) == mmzoo.list_models(NAMES, pretrained=True)
    assert INDEX_PATH.read_text() == (ROOT / "mmzoo" / "pretrained" / "index.json").read_text()


def test_the_assignment_models_have_weights_on_the_synthetic_shapes_set():
    assignment = [n for n in mmzoo.list_models() if mmzoo.model_info(n).source == "assignment"]
    missing = [n for n in assignment if f"{n}.shapes_v1" not in FOLDERS]
    assert len(assignment) == 8 and not missing, f"export {missing} with `mmzoo export` (see the README)"


#: mmzoo's own architectures get shipped weights when their float32 state dict is at most about this size.
SHIPPED_LIMIT_BYTES = 5 * 2**20


def test_every_small_catalogue_architecture_has_weights_that_classify():
    catalogue = [n for n in mmzoo.list_models() if mmzoo.model_info(n).source == "mmzoo"]
    small = [n for n in catalogue if 4 * mmzoo.model_info(n).num_params <= SHIPPED_LIMIT_BYTES]
    missing = [n for n in small if f"{n}.shapes_v1" not in FOLDERS]
    assert len(small) >= 9 and not missing, f"export {missing} with `mmzoo export` (see docs/pretrained.md)"
    # the card's accuracy on the 400 validation frames (re-measured by test_reevaluation_matches_the_card)
    assert all(INDEX[f"{n}.shapes_v1"]["metrics"]["accuracy"] >= 0.97 for n in small)


@pytest.mark.parametrize("name", FOLDERS)
def test_recorded_metadata_is_true(name):
    weight = mmzoo.get_weights(name)
    path = WEIGHTS / name / WEIGHTS_NAME
    assert (weight.sha256, weight.num_bytes) == (file_sha256(path), path.stat().st_size)
    model = mmzoo.create(name)
    assert weight.num_params == sum(p.numel() for p in model.parameters())
    assert weight.num_params == mmzoo.model_info(weight.architecture).num_params  # same architecture as listed
    config = json.loads((WEIGHTS / name / CONFIG_NAME).read_text())
    assert config["architecture"] == weight.architecture and config["kwargs"] == weight.model_kwargs
    assert config["files"][WEIGHTS_NAME] == {"sha256": weight.sha256, "num_bytes": weight.num_bytes}
    assert config["num_params"] == weight.num_params
    assert folder_weight_info(config) == dataclasses.replace(weight, revision=None)  # the folder tells the same
    with safe_open(str(path), framework="pt") as handle:
        assert handle.metadata()["architecture"] == weight.architecture
    results = card_metadata(name)["model-index"][0]["results"][0]
    assert {m["type"]: m["value"] for m in results["metrics"]} == weight.metrics
    assert results["dataset"]["config"] == weight.dataset_version == "1.0"
    assert f"sha256 `{weight.sha256}`" in (WEIGHTS / name / "README.md").read_text()


@functools.lru_cache(maxsize=None)
def validation_set(recipe_json: str):
    from mmzoo.train import Recipe, recipe_tensors

    return recipe_tensors(Recipe.from_dict(json.loads(recipe_json)))[1]


@pytest.mark.parametrize("name", FOLDERS)
def test_reevaluation_matches_the_card(name):
    from mmzoo.train import evaluate

    model = mmzoo.create(name, pretrained=True)  # by name, verified, from this checkout's weights/
    # the committed file's bytes, from the checkout's weights/ or the copy the installed wheel ships
    assert Path(model.pretrained_file).read_bytes() == (WEIGHTS / name / WEIGHTS_NAME).read_bytes()
    assert model.pretrained_adaptations == []
    weight = model.pretrained_cfg
    recipe = weight.recipe_config
    val = validation_set(json.dumps(recipe, sort_keys=True))
    assert len(val) == recipe["val_frames"] and val.metadata["version"] == weight.dataset_version
    metrics = evaluate(model, val, recipe["task"], recipe["loss"], device="cpu")
    card = {m["type"]: m["value"] for m in card_metadata(name)["model-index"][0]["results"][0]["metrics"]}
    if "accuracy" in card:
        assert abs(metrics["accuracy"] - card["accuracy"]) <= 1 / len(val) + 1e-9, (metrics, card)
    assert metrics["loss"] == pytest.approx(card["loss"], abs=LOSS_TOLERANCE)


def test_readme_weights_table_is_mmzoo_weights_output():
    table = format_table(WEIGHT_COLUMNS, weight_rows(mmzoo.list_models(pretrained=True)))
    assert table in (ROOT / "README.md").read_text(), "regenerate the README's weights table with `mmzoo weights`"
