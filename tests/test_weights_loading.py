"""Loading registered weights without a network: where files are looked for, integrity, wrong architectures,
the declared adaptations (each reported) and the package index that carries the metadata."""
from __future__ import annotations

import json
import time

import pytest
import torch

import mmzoo
from mmzoo.registry import _registry as registry
from mmzoo.pretrained.adapt import load_weights
from mmzoo.registry.metadata import WeightInfo
from mmzoo.pretrained.folder import WEIGHTS_NAME
from mmzoo.utils.files import file_sha256
from mmzoo.pretrained.index import read_index, register_index, update_index, write_index

ARCH, TAG = "intermediate_cat_strided", "unit"
NAME = f"{ARCH}.{TAG}"


def seeded(arch: str = ARCH, seed: int = 0, **kwargs) -> torch.nn.Module:
    torch.manual_seed(seed)
    return mmzoo.create(arch, **kwargs).eval()


def inputs(model: torch.nn.Module, batch: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    spec = model.input_spec
    return (torch.rand(batch, *spec.shape("rgb"), generator=generator),
            torch.rand(batch, *spec.shape("lidar"), generator=generator))


def weight_for(path, model, **changes) -> WeightInfo:
    values = dict(tag=TAG, repo_id=f"mmzoo-test/{NAME}", revision=None, sha256=file_sha256(path),
                  num_bytes=path.stat().st_size, num_params=sum(p.numel() for p in model.parameters()),
                  dataset="shapes", model_kwargs=dict(model.arch_kwargs), input_spec=model.input_spec)
    return WeightInfo(**{**values, **changes})


@pytest.fixture
def local_weight(tmp_path, monkeypatch, clean_registry):
    """A registered, unpublished weight whose file lies in a folder named by MMZOO_WEIGHTS_DIR."""
    model = seeded(seed=1)
    folder = mmzoo.save_pretrained(model, tmp_path / "weights" / NAME)
    registry.register_weights(ARCH, weight_for(folder / WEIGHTS_NAME, model), default=True)
    monkeypatch.setenv(mmzoo.pretrained.locate.WEIGHTS_DIR_ENV, str(tmp_path / "weights"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing may be downloaded in these tests
    return model, folder / WEIGHTS_NAME


def test_local_weights_folder_is_used_and_verified(local_weight):
    model, path = local_weight
    loaded = mmzoo.create(NAME, pretrained=True)
    assert loaded.pretrained_file == str(path) and loaded.pretrained_adaptations == []
    assert torch.equal(loaded(*inputs(model)), model(*inputs(model)))
    assert mmzoo.create(ARCH, pretrained=True).pretrained_cfg.tag == TAG  # a bare name loads the default tag


def test_tampered_and_truncated_local_files_are_refused(local_weight):
    _, path = local_weight
    expected = file_sha256(path)
    data = bytearray(path.read_bytes())
    data[500] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(mmzoo.IntegrityError, match=rf"{path} has sha256 {file_sha256(path)} but {expected} was recorded"):
        mmzoo.create(NAME, pretrained=True)
    path.write_bytes(bytes(data[:4096]))
    with pytest.raises(mmzoo.IntegrityError, match=rf"{path} is 4,096 bytes but {len(data):,} were recorded"):
        mmzoo.create(NAME, pretrained=True)


def test_unpublished_and_not_local_fails_fast_and_says_where_it_looked(local_weight, monkeypatch, tmp_path):
    monkeypatch.setenv(mmzoo.pretrained.locate.WEIGHTS_DIR_ENV, str(tmp_path / "nowhere"))
    start = time.perf_counter()
    with pytest.raises(mmzoo.WeightsNotFoundError) as error:
        mmzoo.create(NAME, pretrained=True)
    assert time.perf_counter() - start < 1.0
    message = str(error.value)
    assert "not published on the Hugging Face Hub yet" in message and str(tmp_path / "nowhere") in message
    assert "MMZOO_WEIGHTS_DIR" in message and "checkpoint_path=" in message


def test_checkpoint_path_comes_first_and_is_checked(local_weight, tmp_path):
    model, _ = local_weight
    other = seeded(seed=2)
    folder = mmzoo.save_pretrained(other, tmp_path / "mine")
    for path in (folder, folder / WEIGHTS_NAME):  # a save_pretrained folder or its file
        loaded = mmzoo.create(NAME, pretrained=True, checkpoint_path=path)
        assert torch.equal(loaded(*inputs(model)), other(*inputs(model)))
    torch.save(other.state_dict(), tmp_path / "plain.pt")  # a plain torch state dict too
    loaded = mmzoo.create(ARCH, checkpoint_path=tmp_path / "plain.pt")
    assert torch.equal(loaded(*inputs(model)), other(*inputs(model)))
    (folder / WEIGHTS_NAME).write_bytes((folder / WEIGHTS_NAME).read_bytes()[:-8])
    with pytest.raises(mmzoo.IntegrityError, match="truncated or corrupted"):
        mmzoo.create(NAME, pretrained=True, checkpoint_path=folder)


def test_weights_of_another_architecture_are_refused_even_when_shapes_fit(tmp_path):
    add = mmzoo.save_pretrained(seeded("intermediate_add"), tmp_path / "add")
    assert {k: v.shape for k, v in seeded("intermediate_hadamard").state_dict().items()} == \
        {k: v.shape for k, v in seeded("intermediate_add").state_dict().items()}
    with pytest.raises(mmzoo.WrongArchitectureError,
                       match=r"saved for architecture 'intermediate_add', not 'intermediate_hadamard'"):
        mmzoo.create("intermediate_hadamard", checkpoint_path=add / WEIGHTS_NAME)
    torch.save(seeded("intermediate_add").state_dict(), tmp_path / "add.pt")  # no architecture recorded: keys tell
    with pytest.raises(ValueError, match=r"do not fit late_fusion: missing keys"):
        mmzoo.create("late_fusion", checkpoint_path=tmp_path / "add.pt")


def test_another_num_outputs_gets_a_fresh_reported_head(local_weight):
    model, _ = local_weight
    with pytest.warns(mmzoo.PretrainedAdaptationWarning, match="head head.1.2: 1 -> 3 outputs"):
        loaded = mmzoo.create(NAME, pretrained=True, num_outputs=3)
    assert loaded.pretrained_adaptations == ["head head.1.2: 1 -> 3 outputs, freshly initialised (train it before use)"]
    source, target = model.state_dict(), loaded.state_dict()
    assert all(torch.equal(source[k], target[k]) for k in source if not k.startswith("head.1.2."))
    assert loaded(*inputs(loaded)).shape == (2, 3)


def test_other_channel_counts_get_adapted_first_convolutions(local_weight):
    model, _ = local_weight
    with pytest.warns(mmzoo.PretrainedAdaptationWarning) as caught:
        loaded = mmzoo.create(NAME, pretrained=True, rgb_channels=3, lidar_channels=1)
    assert len(caught) == 1
    reported = loaded.pretrained_adaptations
    assert any(r.startswith("first convolution rgb_branch.0.0: rgb 4 -> 3 channels") for r in reported), reported
    assert any(r.startswith("first convolution lidar_branch.0.0: lidar 4 -> 1 channels") for r in reported), reported
    source, target = model.state_dict(), loaded.state_dict()
    rgb_key, lidar_key = "rgb_branch.0.0.weight", "lidar_branch.0.0.weight"
    assert torch.allclose(target[rgb_key], source[rgb_key][:, :3] * 4 / 3)
    assert torch.allclose(target[lidar_key], source[lidar_key].sum(dim=1, keepdim=True))
    unchanged = [k for k in source if k not in (rgb_key, lidar_key) and source[k].shape == target[k].shape]
    assert all(torch.equal(source[k], target[k]) for k in unchanged)
    assert loaded(*inputs(loaded)).shape == (2, 1)


def test_early_fusion_adapts_each_modality_slice_of_the_fused_input():
    small = dict(widths=(4, 4, 4), head_hidden=(8,))
    source = seeded("course_early_fusion", **small)
    target = mmzoo.create("course_early_fusion", rgb_channels=3, **small)
    reported = load_weights(target, source.state_dict(), "test", source.input_spec)
    key = "trunk.0.0.weight"
    old = source.state_dict()[key]
    assert torch.allclose(target.state_dict()[key], torch.cat([old[:, :3] * 4 / 3, old[:, 4:]], dim=1))
    assert reported == ["first convolution trunk.0.0: rgb 4 -> 3 channels, kernels adapted "
                        "(summed for 1 channel, else repeated or cut and rescaled)"]


def test_only_declared_adaptations_are_allowed(local_weight):
    with pytest.raises(ValueError, match=r"fusion_op='add'.*only num_outputs, rgb_channels, lidar_channels"):
        mmzoo.create(NAME, pretrained=True, fusion_op="add")
    with pytest.raises(ValueError, match="xyza_formula='course'"):
        mmzoo.create(NAME, pretrained=True, xyza_formula="course")
    assert mmzoo.create(NAME, pretrained=True, downsample="stride").pretrained_adaptations == []  # its default
    assert mmzoo.create(NAME, fusion_op="add").arch_kwargs["fusion_op"] == "add"  # no weights: anything goes


def test_index_round_trip_defaults_and_registration(tmp_path, clean_registry):
    model = seeded()
    path = mmzoo.save_pretrained(model, tmp_path / "m") / WEIGHTS_NAME
    index = tmp_path / "index.json"
    first = weight_for(path, model, tag="a", architecture=ARCH, metrics={"accuracy": 0.9})
    update_index(first, index)
    update_index(WeightInfo.from_dict({**first.to_dict(), "tag": "b"}), index)
    entries = read_index(index)
    assert [entries[f"{ARCH}.a"]["default"], entries[f"{ARCH}.b"]["default"]] == [True, False]
    update_index(WeightInfo.from_dict({**first.to_dict(), "tag": "b"}), index, default=True)
    assert register_index(index) == [f"{ARCH}.b", f"{ARCH}.a"]
    assert mmzoo.get_weights(ARCH).tag == "b" and mmzoo.get_weights(f"{ARCH}.a").metrics == {"accuracy": 0.9}
    assert index.read_text() == write_index(read_index(index), tmp_path / "again.json").read_text()


def test_a_broken_index_says_what_is_wrong(tmp_path):
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"format": 1, "weights": {"late_fusion.x": {"architecture": "late_fusion", "tag": "y"}}}))
    with pytest.raises(ValueError, match="the key must be 'architecture.tag'"):
        read_index(index)
    index.write_text(json.dumps({"weights": {}}))
    with pytest.raises(ValueError, match="not a pretrained index of format 1"):
        read_index(index)
    with pytest.raises(ValueError, match=r"unknown WeightInfo fields \['sha'\]"):
        WeightInfo.from_dict({"tag": "x", "sha": "0"})


def test_without_local_files_the_index_still_describes_every_weight_and_says_where_to_get_them(no_local_weights):
    """Without shipped or checkout weights the index still describes every weight."""
    for name in mmzoo.list_models(pretrained=True):
        weight = mmzoo.get_weights(name)
        assert weight.sha256 and weight.num_bytes and weight.metrics and weight.input_spec is not None
        if weight.revision is None:
            with pytest.raises(mmzoo.WeightsNotFoundError, match="not a source checkout"):
                mmzoo.create(name, pretrained=True)
