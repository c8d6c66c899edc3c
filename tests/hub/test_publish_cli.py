"""``mmzoo publish`` against the loopback Hub, and the committed weights making the round trip: publish, then
load by Hub name and by registered tag at the pinned revision, with identical outputs."""
from __future__ import annotations

import dataclasses
from pathlib import Path
import shutil

import pytest
import torch
from hubtest_utils import FAKE_TOKEN, make_model, sample_inputs

import mmzoo
from mmzoo.registry import _registry as registry
from mmzoo.cli import main
from mmzoo.pretrained.index import INDEX_PATH, read_index

WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"  # the committed artifacts, wherever mmzoo is installed
COMMITTED = sorted(p.name for p in WEIGHTS_DIR.iterdir() if p.is_dir())


@pytest.fixture
def folder(tmp_path):
    model = make_model(seed=21)
    path = mmzoo.save_pretrained(model, tmp_path / "intermediate_add_strided.cli")
    (path / "README.md").write_text("---\nlibrary_name: mmzoo\n---\n# card\n")
    return model, path


def test_dry_run_verifies_and_lists_but_sends_nothing(hub_env, folder, capsys):
    _, path = folder
    before = len(hub_env.requests)
    assert main(["publish", str(path), "--repo-id", "org/dry", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run: would commit these 3 files to org/dry@main" in out and "model.safetensors" in out
    assert hub_env.requests[before:] == [] and "org/dry" not in hub_env.repos


def test_publish_prints_the_commit_and_never_the_token(hub_env, folder, capsys, tmp_path):
    _, path = folder
    assert main(["publish", str(path), "--repo-id", "org/cli", "--message", "first upload"]) == 0
    captured = capsys.readouterr()
    commit = hub_env.head("org/cli")
    assert f"committed {commit} to org/cli@main" in captured.out
    assert hub_env.repos["org/cli"].commits[commit].message == "first upload"
    assert FAKE_TOKEN not in captured.out + captured.err
    assert not any(FAKE_TOKEN.encode() in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert main(["publish", str(path), "--repo-id", "org/cli", "--revision", "v2", "--json"]) == 0  # exist_ok
    assert hub_env.head("org/cli", "v2") != commit


@pytest.mark.parametrize(("argv", "message"), [
    (["publish", "/nonexistent/folder", "--repo-id", "org/x"], "model folder /nonexistent/folder does not exist"),
    (["publish", "{folder}", "--repo-id", "no-org"], "must look like org/name"),
    (["publish", "{folder}", "--repo-id", "org/x", "--pin", "--index", "{tmp}/empty.json"], "has no entry"),
])
def test_publish_errors_exit_1_without_traceback(hub_env, folder, tmp_path, capsys, argv, message):
    argv = [a.format(folder=folder[1], tmp=tmp_path) for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_publishing_offline_is_refused(hub_env, folder, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["publish", str(folder[1]), "--repo-id", "org/offline"]) == 1
    assert "publishing needs the network" in capsys.readouterr().err


@pytest.mark.skipif(not COMMITTED, reason="no committed weights in this checkout")
def test_committed_weights_round_trip_through_the_hub_and_pin(hub_env, tmp_path, monkeypatch, clean_registry, capsys):
    name = "intermediate_cat.shapes_v1" if "intermediate_cat.shapes_v1" in COMMITTED else COMMITTED[0]
    local = mmzoo.create(name, pretrained=True)  # from weights/ of this checkout
    index = tmp_path / "index.json"
    shutil.copy(INDEX_PATH, index)
    repo = f"mmzoo-test/{name}"
    assert main(["publish", str(WEIGHTS_DIR / name), "--repo-id", repo, "--pin", "--index", str(index)]) == 0
    commit = hub_env.head(repo)
    assert f"pinned {name} to revision {commit}" in capsys.readouterr().out
    entry = read_index(index)[name]
    assert (entry["repo_id"], entry["revision"]) == (repo, commit)
    rgb, lidar = sample_inputs(local, batch=4)
    from_hub = mmzoo.create(f"hf-hub:{repo}", pretrained=True)
    assert torch.equal(from_hub(rgb, lidar), local(rgb, lidar))
    assert from_hub.pretrained_cfg.metrics == local.pretrained_cfg.metrics  # the folder's metadata came along
    assert (from_hub.pretrained_cfg.repo_id, from_hub.pretrained_cfg.revision) == (repo, commit)
    # Without the checkout's weights/ (an installed wheel), the pinned tag now downloads and verifies.
    weight = dataclasses.replace(mmzoo.get_weights(name), repo_id=repo, revision=commit)
    registry.register_weights(weight.architecture, weight, override=True)
    monkeypatch.setattr(mmzoo.pretrained.locate, "_PACKAGE_DIR", tmp_path / "mmzoo")
    monkeypatch.setattr(mmzoo.pretrained.locate, "_SOURCE_ROOT", tmp_path)
    downloaded = mmzoo.create(name, pretrained=True)
    assert f"snapshots/{commit}/" in downloaded.pretrained_file
    assert torch.equal(downloaded(rgb, lidar), local(rgb, lidar))
