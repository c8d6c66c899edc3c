"""Every network step has an overall deadline: an endpoint that accepts and never answers, or one that trickles
its headers a byte at a time, fails within seconds; publishing to it prints one line; another revision than the
pinned one is fetched from the Hub (never a local copy) and is verified or refused."""
from __future__ import annotations

import json
import time

import pytest
from hubtest_utils import SlowServer, make_model

import mmzoo
from mmzoo.cli import main
from mmzoo.pretrained import hub

from test_hub_offline import ARCH, REPO, TAG, published  # noqa: F401  (the fixture)


@pytest.fixture(params=["silent", "trickling"])
def slow_hub(request, hub_env, monkeypatch):
    server = SlowServer(request.param)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    yield server
    server.close()


def test_a_hub_that_never_answers_fails_within_the_probe_deadline(published, slow_hub, monkeypatch):
    monkeypatch.setattr(hub, "PROBE_DEADLINE_S", 1.0)
    start = time.perf_counter()
    with pytest.raises(mmzoo.WeightsNotFoundError, match="no complete answer within 1 s"):
        mmzoo.create(f"{ARCH}.{TAG}", pretrained=True)
    assert time.perf_counter() - start < 4.0


def test_publishing_to_a_hub_that_never_answers_prints_one_line(slow_hub, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(hub, "PROBE_DEADLINE_S", 0.5)
    folder = mmzoo.save_pretrained(make_model(ARCH), tmp_path / "model")
    monkeypatch.setattr("mmzoo.release.publish.PROBE_DEADLINE_S", 0.5)
    start = time.perf_counter()
    assert main(["publish", str(folder), "--repo-id", "org/name"]) == 1
    err = capsys.readouterr().err.strip()
    assert time.perf_counter() - start < 6.0
    assert len(err.splitlines()) == 1 and err.startswith("mmzoo: error: publishing") and "Traceback" not in err


def test_publish_pin_checks_the_index_before_uploading(hub_env, tmp_path, capsys):
    folder = mmzoo.save_pretrained(make_model(ARCH), tmp_path / "late_fusion.nowhere")
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"format": 1, "weights": {}}))
    assert main(["publish", str(folder), "--repo-id", "org/pinless", "--pin", "--index", str(index)]) == 1
    assert "nothing was uploaded" in capsys.readouterr().err
    assert "org/pinless" not in hub_env.repos


def test_an_explicit_revision_is_never_served_from_a_local_copy(published, monkeypatch, tmp_path):
    """With the pinned file in a local folder, revision= another commit still goes to the Hub (offline here: so
    it must fail rather than load the local pinned bytes)."""
    model, commit = published
    local = mmzoo.save_pretrained(model, tmp_path / "weights" / f"{ARCH}.{TAG}")
    monkeypatch.setenv(mmzoo.pretrained.locate.WEIGHTS_DIR_ENV, str(local.parent))
    assert mmzoo.create(f"{ARCH}.{TAG}", pretrained=True).pretrained_file == str(local / "model.safetensors")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(mmzoo.WeightsNotFoundError, match="not in the Hugging Face cache"):
        mmzoo.create(f"{ARCH}.{TAG}", pretrained=True, revision="0" * 40)


def test_another_revision_without_a_record_is_refused_unless_trusted(published, hub_env, tmp_path):
    folder = mmzoo.save_pretrained(make_model(ARCH, seed=5), tmp_path / "unrecorded")
    config = json.loads((folder / "config.json").read_text())
    del config["files"]
    (folder / "config.json").write_text(json.dumps(config))
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub_env.url, token="hf_x")
    api.create_branch(REPO, branch="unrecorded", exist_ok=True)
    api.upload_folder(repo_id=REPO, folder_path=str(folder), revision="unrecorded")
    with pytest.raises(mmzoo.UnverifiedWeightsError, match="records no sha256"):
        mmzoo.create(f"{ARCH}.{TAG}", pretrained=True, revision="unrecorded")
    with pytest.warns(mmzoo.UnverifiedWeightsWarning):
        mmzoo.create(f"{ARCH}.{TAG}", pretrained=True, revision="unrecorded", trust_unverified=True)
