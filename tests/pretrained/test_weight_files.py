"""Each weight's metadata lives once, in the pretrained index: the committed config.json files and model cards are
what ``mmzoo weights --write-files`` writes from it, a hand edit is found and undone without touching the weights,
config.json records each fact once, and the architecture's metadata says what its weights were built with."""
from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest

import mmzoo
from mmzoo.cli import main
from mmzoo.data.sets import DATASETS
from mmzoo.pretrained.data_config import DATA_CONFIG_KEY, data_config_for
from mmzoo.pretrained.folder import CONFIG_NAME, CONFIG_TOP_LEVEL, WEIGHTS_NAME
from mmzoo.pretrained.index import read_index, write_index
from mmzoo.release.weight_files import config_for, stale_files, write_weight_files

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / "weights"
NAME = "late_fusion_strided.shapes_v1"


def test_the_committed_folders_are_what_the_index_writes():
    assert stale_files(WEIGHTS) == [], "run `mmzoo weights --write-files` after changing the index"


@pytest.fixture
def copied(tmp_path):
    """One committed weight folder and its index entry, copied where a test may edit them."""
    shutil.copytree(WEIGHTS / NAME, tmp_path / "weights" / NAME)
    index = tmp_path / "index.json"
    write_index({NAME: read_index()[NAME]}, index)
    return tmp_path / "weights", index


def test_a_hand_edit_is_found_and_rewritten_and_the_weights_are_untouched(copied):
    weights, index = copied
    folder = weights / NAME
    original = {p.name: p.read_bytes() for p in folder.iterdir()}
    config = json.loads((folder / CONFIG_NAME).read_text())
    config["pretrained_cfg"]["metrics"]["accuracy"] = 1.0  # a better number than was measured
    (folder / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
    (folder / "README.md").write_text((folder / "README.md").read_text().replace("0.9975", "1.0000"))
    assert stale_files(weights, index) == [folder / CONFIG_NAME, folder / "README.md"]
    assert main(["weights", "--check-files", "--weights-dir", str(weights)]) == 1  # against the package's index
    assert write_weight_files(weights, index) == [folder / CONFIG_NAME, folder / "README.md"]
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == original
    assert stale_files(weights, index) == [] and write_weight_files(weights, index) == []


def test_the_index_is_the_source_a_changed_entry_reaches_config_and_card(copied):
    weights, index = copied
    entry = read_index(index)[NAME]
    entry["notes"] = "retrained on the same recipe"
    entry["training"]["command"] = entry["training"]["command"].replace("--out weights", "--out elsewhere")
    write_index({NAME: entry}, index)
    write_weight_files(weights, index)
    config = json.loads((weights / NAME / CONFIG_NAME).read_text())
    assert config["pretrained_cfg"]["notes"] == "retrained on the same recipe"
    assert "--out elsewhere" in (weights / NAME / "README.md").read_text()
    assert (weights / NAME / WEIGHTS_NAME).read_bytes() == (WEIGHTS / NAME / WEIGHTS_NAME).read_bytes()


@pytest.mark.parametrize("name", sorted(read_index()))
def test_config_records_each_fact_once_and_the_weights_data_config(name):
    config = json.loads((WEIGHTS / name / CONFIG_NAME).read_text())
    repeated = set(config["pretrained_cfg"]) & (set(CONFIG_TOP_LEVEL) | set(CONFIG_TOP_LEVEL.values()))
    assert not repeated, f"{name}: {sorted(repeated)} are recorded at the top level and again in pretrained_cfg"
    assert config[DATA_CONFIG_KEY] == json.loads(json.dumps(data_config_for(name).to_dict()))
    assert config == json.loads(json.dumps(config_for(mmzoo.get_weights(name), config.get("golden"))))


@pytest.mark.parametrize("name", sorted(read_index()))
def test_the_metadata_is_true_of_the_weights(name):
    """What the record says the weights need is what loading them builds; the metrics name their provenance."""
    weight = mmzoo.get_weights(name)
    model = mmzoo.create(name, pretrained=True)
    assert model.arch_kwargs == weight.model_kwargs and model.input_spec == weight.input_spec
    gain = float(model.lidar_gain[0]) if hasattr(model, "lidar_gain") else 1.0
    assert gain == pytest.approx(weight.model_kwargs.get("lidar_scale", gain))
    recipe = weight.recipe_config
    assert (weight.dataset, weight.split, weight.recipe) == (recipe["dataset"], "val", recipe["name"])
    assert weight.dataset_version == DATASETS[weight.dataset].version, "metrics name the generator's version"
    assert weight.num_params == sum(p.numel() for p in model.parameters())
    assert weight.training["val_metrics_during_training"].keys() <= weight.metrics.keys()
    assert "--model-arg" not in weight.training["command"], "cards show the current spelling, --set"


def test_model_info_tells_what_each_weight_is_built_with():
    for name in read_index():
        arch, tag = name.split(".")
        assert mmzoo.model_info(arch).pretrained_kwargs[tag] == mmzoo.get_weights(name).model_kwargs
    # the assignment networks default to the notebook's raw inputs; their weights need the 1/50 gain
    info = mmzoo.model_info("intermediate_cat")
    assert info.pretrained_kwargs["shapes_v1"]["lidar_scale"] == 0.02
    default = getattr(mmzoo.create("intermediate_cat"), "lidar_gain", None)
    assert default is None or float(default[0]) == 1.0
    assert "lidar_scale=0.02" in mmzoo.models.assignment.__doc__


def test_mmzoo_info_shows_the_arguments_the_weights_are_built_with(capsys):
    assert main(["info", "intermediate_cat"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("pretrained"))
    assert "intermediate_cat.shapes_v1" in line and "lidar_scale=0.02" in line


def test_the_deprecated_model_arg_warns_and_still_reaches_the_model(monkeypatch, capsys):
    import mmzoo.release.export as export

    seen = {}

    def record(name, *args, model_kwargs=None, **kwargs):
        seen.update(model_kwargs)
        raise SystemExit(0)  # stop before training: the arguments are what this test checks

    monkeypatch.setattr(export, "export_weights", record)
    with pytest.warns(FutureWarning, match="--set KEY=VALUE"), pytest.raises(SystemExit):
        main(["export", "intermediate_cat", "--model-arg", "lidar_scale=0.02", "--no-index"])
    assert seen == {"lidar_scale": 0.02}
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        seen.clear()
        with pytest.raises(SystemExit):
            main(["export", "intermediate_cat", "--set", "lidar_scale=0.02", "--no-index"])
    assert seen == {"lidar_scale": 0.02}
