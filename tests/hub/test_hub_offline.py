"""Registered weights through the Hub at a pinned revision; offline, unreachable and down Hubs fail fast and say
how to fix it; a populated cache keeps working without a single request."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest
import torch
from hubtest_utils import make_model, sample_inputs

import mmzoo
from mmzoo.registry import _registry as registry
from mmzoo.registry.metadata import WeightInfo
from mmzoo.utils.files import file_sha256

ARCH, TAG = "intermediate_add_strided", "loopback_test"
REPO = f"mmzoo-test/{ARCH}.{TAG}"


@pytest.fixture
def published(hub_env, clean_registry, tmp_path):
    """A weight published on the loopback Hub and registered at its pinned revision; yields (model, commit)."""
    model = make_model(ARCH, seed=11)
    folder = mmzoo.save_pretrained(model, tmp_path / "publish")
    commit = mmzoo.publish_folder(folder, REPO).commit
    path = folder / "model.safetensors"
    registry.register_weights(ARCH, WeightInfo(
        tag=TAG, repo_id=REPO, revision=commit, sha256=file_sha256(path), num_bytes=path.stat().st_size,
        num_params=sum(p.numel() for p in model.parameters()), dataset="shapes", input_spec=model.input_spec))
    return model, commit


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens here any more


def test_registered_weight_downloads_at_its_pinned_revision(published, tmp_path):
    model, commit = published
    publish_later = mmzoo.save_pretrained(make_model(ARCH, seed=12), tmp_path / "later")
    mmzoo.publish_folder(publish_later, REPO)  # a later push must not change what the tag loads
    loaded = mmzoo.create(f"{ARCH}.{TAG}", pretrained=True)
    rgb, lidar = sample_inputs(model)
    assert torch.equal(loaded(rgb, lidar), model(rgb, lidar))
    assert f"/snapshots/{commit}/" in loaded.pretrained_file and loaded.pretrained_cfg.revision == commit
    # Another revision on request, verified against that revision's own config.json.
    other = mmzoo.create(f"{ARCH}.{TAG}", pretrained=True, revision="main")
    assert not torch.equal(other(rgb, lidar), model(rgb, lidar))


def test_a_tampered_cached_file_is_refused(published):
    loaded = mmzoo.create(f"{ARCH}.{TAG}", pretrained=True)
    blob = os.path.realpath(loaded.pretrained_file)  # the cache's blob behind the snapshot symlink
    with open(blob, "r+b") as handle:
        handle.seek(200)
        byte = handle.read(1)
        handle.seek(200)
        handle.write(bytes([byte[0] ^ 1]))
    with pytest.raises(mmzoo.IntegrityError, match=r"has sha256 [0-9a-f]{64} but [0-9a-f]{64} was recorded"):
        mmzoo.create(f"{ARCH}.{TAG}", pretrained=True)


def test_offline_with_a_populated_cache_loads_without_a_request(published, hub_env, monkeypatch):
    model, _ = published
    mmzoo.create(f"{ARCH}.{TAG}", pretrained=True)  # populate the cache at the pinned commit
    mmzoo.create(f"hf-hub:{REPO}", pretrained=True)  # and the cache's refs/main
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = len(hub_env.requests)
    rgb, lidar = sample_inputs(model)
    assert torch.equal(mmzoo.create(f"{ARCH}.{TAG}", pretrained=True)(rgb, lidar), model(rgb, lidar))
    assert mmzoo.create(f"hf-hub:{REPO}", pretrained=True).arch_name == ARCH  # a branch, from the cache
    assert hub_env.requests[before:] == []


def test_offline_with_an_empty_cache_fails_fast_and_says_how_to_fix_it(published, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(mmzoo.WeightsNotFoundError) as error:
        mmzoo.create(f"{ARCH}.{TAG}", pretrained=True)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"offline failure took {elapsed:.2f} s"
    message = str(error.value)
    for part in ("not in the Hugging Face cache", "HF_HUB_OFFLINE=1 forbids downloading", "To fix it",
                 "MMZOO_WEIGHTS_DIR", "checkpoint_path", f"hf download {REPO} --revision"):
        assert part in message, message


def test_unreachable_hub_fails_fast(published, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", closed_port_url())
    start = time.perf_counter()
    with pytest.raises(mmzoo.WeightsNotFoundError, match=r"cannot reach the Hugging Face Hub at http://127.0.0.1:\d+"):
        mmzoo.create(f"{ARCH}.{TAG}", pretrained=True)
    assert time.perf_counter() - start < 1.0


def test_a_hub_that_is_down_falls_back_to_the_cache_for_a_branch(published, hub_env, tmp_path):
    mmzoo.create(f"hf-hub:{REPO}", pretrained=True)
    hub_env.fail_downloads = True  # every GET / HEAD answers 503 now
    assert mmzoo.create(f"hf-hub:{REPO}", pretrained=True).arch_name == ARCH  # the cached copy of main
    start = time.perf_counter()
    with pytest.raises(mmzoo.WeightsNotFoundError, match="cannot reach"):
        mmzoo.create(f"hf-hub:{REPO}", pretrained=True, cache_dir=tmp_path / "empty")
    assert time.perf_counter() - start < 1.0


def test_hf_hub_offline_set_before_import_in_a_fresh_process(published, hub_env, tmp_path):
    """The user's real path: HF_HUB_OFFLINE=1 in the environment when huggingface_hub is imported."""
    model, commit = published
    mmzoo.create(f"{ARCH}.{TAG}", pretrained=True)  # populate the cache of this test's HF_HUB_CACHE
    weight = mmzoo.get_weights(f"{ARCH}.{TAG}")
    code = (
        "import json, sys, time\n"
        "import mmzoo\n"
        "from mmzoo.registry.metadata import WeightInfo\n"
        "mmzoo.register_weights(sys.argv[1], WeightInfo.from_dict(json.loads(sys.argv[2])))\n"
        "out = {}\n"
        "for label, cache in (('cached', None), ('empty', sys.argv[3])):\n"
        "    start = time.perf_counter()\n"
        "    try:\n"
        "        model = mmzoo.create(sys.argv[1] + '.' + sys.argv[4], pretrained=True, cache_dir=cache)\n"
        "        out[label] = {'ok': True, 'sum': float(sum(p.double().sum() for p in model.parameters()))}\n"
        "    except mmzoo.WeightsNotFoundError as err:\n"
        "        out[label] = {'ok': False, 'error': str(err)}\n"
        "    out[label]['seconds'] = time.perf_counter() - start\n"
        "print(json.dumps(out))\n"
    )
    entry = {k: v for k, v in weight.to_dict().items() if k != "architecture"}
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", code, ARCH, json.dumps(entry), str(tmp_path / "empty"), TAG],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["cached"]["ok"], out
    with torch.no_grad():
        assert out["cached"]["sum"] == pytest.approx(float(sum(p.double().sum() for p in model.parameters())))
    assert not out["empty"]["ok"] and "HF_HUB_OFFLINE=1 forbids downloading" in out["empty"]["error"]
    assert out["empty"]["seconds"] < 1.0, out
