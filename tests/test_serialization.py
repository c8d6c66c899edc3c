"""save_pretrained / local-dir: round trips exactly; corrupted, tampered or ill-fitting files are refused."""
from __future__ import annotations

import json

import pytest
import torch

from safetensors.torch import save_file

import mmzoo
from mmzoo.pretrained.folder import CONFIG_NAME, WEIGHTS_NAME
from mmzoo.errors import IntegrityError
from mmzoo.utils.files import file_sha256


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = mmzoo.create("intermediate_add_strided", num_outputs=3, lidar_channels=1)
    return model, mmzoo.save_pretrained(model, tmp_path / "model")


def test_round_trip_is_exact(saved):
    model, folder = saved
    loaded = mmzoo.create(f"local-dir:{folder}", pretrained=True)
    assert loaded.model_config == model.model_config
    rgb, lidar = torch.rand(2, 4, 64, 64), torch.rand(2, 1, 64, 64)
    assert torch.equal(loaded(rgb, lidar), model(rgb, lidar))
    config = json.loads((folder / CONFIG_NAME).read_text())
    assert config["num_params"] == sum(p.numel() for p in model.parameters())
    assert config["input_spec"]["lidar_format"] == "depth"
    assert config["files"][WEIGHTS_NAME] == {"sha256": file_sha256(folder / WEIGHTS_NAME),
                                             "num_bytes": (folder / WEIGHTS_NAME).stat().st_size}


def test_without_pretrained_only_the_architecture_comes_from_the_folder(saved):
    model, folder = saved
    fresh = mmzoo.create(f"local-dir:{folder}")
    assert fresh.model_config == model.model_config
    assert not torch.equal(fresh.state_dict()["head.1.0.weight"], model.state_dict()["head.1.0.weight"])


def test_tampered_file_is_refused(saved):
    _, folder = saved
    weights = folder / WEIGHTS_NAME
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"has sha256 .* was recorded: the file is corrupted or was modified"):
        mmzoo.create(f"local-dir:{folder}", pretrained=True)


def test_truncated_file_is_refused(saved):
    _, folder = saved
    weights = folder / WEIGHTS_NAME
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(IntegrityError, match="truncated or corrupted"):
        mmzoo.load_pretrained(folder)


def test_unreadable_file_without_records_is_refused(saved):
    _, folder = saved
    config = json.loads((folder / CONFIG_NAME).read_text())
    del config["files"]
    (folder / CONFIG_NAME).write_text(json.dumps(config))
    (folder / WEIGHTS_NAME).write_bytes(b"not a safetensors file")
    with pytest.raises(mmzoo.UnverifiedWeightsError, match="records no sha256 for model.safetensors"):
        mmzoo.load_pretrained(folder)
    with pytest.warns(mmzoo.UnverifiedWeightsWarning), pytest.raises(IntegrityError, match="not a readable safetensors"):
        mmzoo.load_pretrained(folder, trust_unverified=True)


def test_weights_that_do_not_fit_say_what_differs(saved):
    model, folder = saved
    # A renamed key (what strict=False loaders silently skip) is refused, naming the keys.
    state = {("head.9.weight" if k == "head.1.2.weight" else k): v for k, v in model.state_dict().items()}
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / WEIGHTS_NAME))
    config = json.loads((folder / CONFIG_NAME).read_text())
    config["files"][WEIGHTS_NAME] = {"sha256": file_sha256(folder / WEIGHTS_NAME),
                                     "num_bytes": (folder / WEIGHTS_NAME).stat().st_size}
    (folder / CONFIG_NAME).write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"do not fit intermediate_add_strided: missing keys \['head.1.2.weight'\]; "
                                         r"unexpected keys \['head.9.weight'\]"):
        mmzoo.create(f"local-dir:{folder}", pretrained=True)


def test_other_num_outputs_is_a_reported_adaptation(saved):
    model, folder = saved
    with pytest.warns(mmzoo.PretrainedAdaptationWarning, match=r"head head.1.2: 3 -> 1 outputs, freshly initialised"):
        loaded = mmzoo.create(f"local-dir:{folder}", pretrained=True, num_outputs=1)
    assert loaded.pretrained_adaptations == ["head head.1.2: 3 -> 1 outputs, freshly initialised (train it before use)"]
    assert torch.equal(loaded.state_dict()["trunk.0.0.weight"], model.state_dict()["trunk.0.0.weight"])


def test_overrides_that_change_the_meaning_of_the_weights_are_refused(saved):
    _, folder = saved
    with pytest.raises(ValueError, match=r"fusion_op='concat'.*only num_outputs, rgb_channels, lidar_channels"):
        mmzoo.create(f"local-dir:{folder}", pretrained=True, fusion_op="concat")
    # Without pretrained weights any variant may be built from the folder's architecture.
    assert mmzoo.create(f"local-dir:{folder}", fusion_op="concat").arch_kwargs["fusion_op"] == "concat"


def test_missing_files_name_the_path(tmp_path, saved):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        mmzoo.create(f"local-dir:{tmp_path / 'nowhere'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"config.json does not exist.*save_pretrained"):
        mmzoo.create(f"local-dir:{tmp_path / 'empty'}")
    _, folder = saved
    (folder / WEIGHTS_NAME).unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors does not exist"):
        mmzoo.create(f"local-dir:{folder}", pretrained=True)


def test_bad_config_is_refused(saved):
    _, folder = saved
    (folder / CONFIG_NAME).write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        mmzoo.load_pretrained(folder)
    (folder / CONFIG_NAME).write_text(json.dumps({"architecture": "late_fusin", "kwargs": {}}))
    with pytest.raises(mmzoo.UnknownModelError, match="did you mean 'late_fusion'"):
        mmzoo.load_pretrained(folder)


def test_only_registry_models_can_be_saved(tmp_path):
    with pytest.raises(ValueError, match="needs a model built by mmzoo.create"):
        mmzoo.save_pretrained(torch.nn.Linear(1, 1), tmp_path)
