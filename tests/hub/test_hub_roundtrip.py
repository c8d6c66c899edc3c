"""Publish with mmzoo to a loopback Hub, then load back through the real huggingface_hub client."""
from __future__ import annotations

import pytest
import torch
from hubtest_utils import FAKE_TOKEN, make_model, sample_inputs

import mmzoo
from mmzoo.release.publish import UPLOAD_FILES


def publish(model: torch.nn.Module, folder, repo_id: str, **kwargs) -> str:
    mmzoo.save_pretrained(model, folder)
    (folder / "README.md").write_text("---\nlibrary_name: mmzoo\n---\n# test\n")
    return mmzoo.publish_folder(folder, repo_id, **kwargs).commit


def test_publish_then_load_into_an_empty_cache_gives_identical_outputs(hub_env, tmp_path):
    model = make_model(seed=1)
    commit = publish(model, tmp_path / "m", "org/roundtrip")
    assert commit == hub_env.head("org/roundtrip")
    assert sorted(hub_env.files("org/roundtrip")) == sorted(UPLOAD_FILES)  # one commit with the three files
    cache = tmp_path / "empty-cache"
    loaded = mmzoo.create("hf-hub:org/roundtrip", pretrained=True, cache_dir=cache)
    rgb, lidar = sample_inputs(model)
    assert torch.equal(loaded(rgb, lidar), model(rgb, lidar))
    assert loaded.pretrained_source == f"hf-hub:org/roundtrip@{commit}"
    assert (cache / "models--org--roundtrip" / "snapshots" / commit / "model.safetensors").exists()
    # The download said who it was (library_name / library_version) and the token travelled only to the Hub.
    assert any(f"mmzoo/{mmzoo.__version__}" in agent for agent in hub_env.user_agents)
    assert f"Bearer {FAKE_TOKEN}" in hub_env.authorizations


def test_without_pretrained_only_the_config_is_downloaded(hub_env, tmp_path):
    model = make_model(seed=2)
    publish(model, tmp_path / "m", "org/config-only")
    before = len(hub_env.requests)
    fresh = mmzoo.create("hf-hub:org/config-only", cache_dir=tmp_path / "c")
    assert fresh.model_config == model.model_config
    assert not any("model.safetensors" in r for r in hub_env.requests[before:])


def test_older_revisions_still_load(hub_env, tmp_path):
    first, second = make_model(seed=3), make_model(seed=4)
    old = publish(first, tmp_path / "v1", "org/revisions")
    new = publish(second, tmp_path / "v2", "org/revisions")
    assert old != new
    rgb, lidar = sample_inputs(first)
    cache = tmp_path / "cache"
    assert torch.equal(mmzoo.create(f"hf-hub:org/revisions@{old}", pretrained=True, cache_dir=cache)(rgb, lidar),
                       first(rgb, lidar))
    assert torch.equal(mmzoo.create("hf-hub:org/revisions", pretrained=True, cache_dir=cache, revision=old)(rgb, lidar),
                       first(rgb, lidar))
    assert torch.equal(mmzoo.create("hf-hub:org/revisions", pretrained=True, cache_dir=cache)(rgb, lidar),
                       second(rgb, lidar))


def test_a_branch_is_created_and_loads(hub_env, tmp_path):
    model = make_model(seed=5)
    publish(make_model(seed=6), tmp_path / "main", "org/branches")
    commit = publish(model, tmp_path / "dev", "org/branches", revision="dev")
    assert hub_env.head("org/branches", "dev") == commit != hub_env.head("org/branches")
    loaded = mmzoo.create("hf-hub:org/branches@dev", pretrained=True, cache_dir=tmp_path / "c")
    rgb, lidar = sample_inputs(model)
    assert torch.equal(loaded(rgb, lidar), model(rgb, lidar))


def test_push_to_hub_writes_a_card_and_loads_back(hub_env, tmp_path):
    model = make_model("late_fusion_strided", seed=7, num_outputs=2)
    result = mmzoo.push_to_hub(model, "org/pushed")
    files = hub_env.files("org/pushed")
    assert sorted(files) == sorted(UPLOAD_FILES)
    card = files["README.md"].decode()
    assert card.startswith("---\nlibrary_name: mmzoo\n") and 'mmzoo.create("hf-hub:org/pushed", pretrained=True)' in card
    loaded = mmzoo.create(f"hf-hub:org/pushed@{result.commit}", pretrained=True, cache_dir=tmp_path / "c")
    rgb, lidar = sample_inputs(model)
    assert torch.equal(loaded(rgb, lidar), model(rgb, lidar))
    assert loaded.arch_kwargs == {"num_outputs": 2}


def test_a_tampered_folder_is_refused_before_anything_is_sent(hub_env, tmp_path):
    folder = mmzoo.save_pretrained(make_model(seed=8), tmp_path / "m")
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-1] ^= 1
    (folder / "model.safetensors").write_bytes(bytes(data))
    before = len(hub_env.requests)
    with pytest.raises(mmzoo.IntegrityError, match="sha256"):
        mmzoo.publish_folder(folder, "org/never")
    assert hub_env.requests[before:] == [] and "org/never" not in hub_env.repos


def test_a_file_tampered_on_the_hub_is_refused(hub_env, tmp_path):
    commit = publish(make_model(seed=9), tmp_path / "m", "org/tampered")
    files = hub_env.repos["org/tampered"].commits[commit].files
    data = bytearray(files["model.safetensors"])
    data[100] ^= 1  # same size: only the sha256 recorded in config.json can tell
    files["model.safetensors"] = bytes(data)
    with pytest.raises(mmzoo.IntegrityError, match=r"model.safetensors has sha256 [0-9a-f]{64} but [0-9a-f]{64} was recorded"):
        mmzoo.create(f"hf-hub:org/tampered@{commit}", pretrained=True, cache_dir=tmp_path / "c")


@pytest.mark.parametrize(("name", "message"), [
    ("hf-hub:org/does-not-exist", "has no repo org/does-not-exist"),
    ("hf-hub:org/missing-revision@nope", "has no revision 'nope'"),
])
def test_missing_repo_or_revision_is_named(hub_env, tmp_path, name, message):
    publish(make_model(seed=10), tmp_path / "m", "org/missing-revision")
    with pytest.raises(mmzoo.WeightsNotFoundError, match=message):
        mmzoo.create(name, pretrained=True, cache_dir=tmp_path / "c")


def test_bad_hub_names_are_refused():
    for name, message in (("hf-hub:noslash", "org/name"), ("hf-hub:a/b/c", "org/name"), ("hf-hub:org/x@", "empty revision")):
        with pytest.raises(ValueError, match=message):
            mmzoo.create(name)
    with pytest.raises(ValueError, match="names revision 'a' but revision='b' was passed"):
        mmzoo.create("hf-hub:org/x@a", revision="b")
