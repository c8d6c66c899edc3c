"""torch.hub.load(repo_dir, NAME, source="local") works for every registered architecture (hubconf.py)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

import mmzoo

REPO = Path(__file__).resolve().parents[1]


def hub_entry_points() -> list[str]:
    """What torch.hub.list shows for a repository: hubconf's public callables (it reads only GitHub repos)."""
    spec = importlib.util.spec_from_file_location("hubconf", REPO / "hubconf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return sorted(f for f in dir(module) if callable(getattr(module, f)) and not f.startswith("_"))


def test_hub_lists_exactly_the_registered_architectures():
    assert hub_entry_points() == sorted(mmzoo.list_models())


def test_pretrained_load_gives_the_published_weights(monkeypatch):
    monkeypatch.setenv("MMZOO_WEIGHTS_DIR", str(REPO / "weights"))
    model = torch.hub.load(str(REPO), "intermediate_cat", source="local", pretrained=True)
    reference = mmzoo.create("intermediate_cat", pretrained=True)
    assert model.pretrained_cfg.name == "intermediate_cat.shapes_v1"
    for (key, got), (_, want) in zip(model.state_dict().items(), reference.state_dict().items()):
        assert torch.equal(got, want), key


@pytest.mark.parametrize("name", mmzoo.list_models())
def test_every_entry_point_builds_its_architecture(name):
    model = torch.hub.load(str(REPO), name, source="local", num_outputs=3)
    assert model.arch_name == name and model.num_outputs == 3
