"""Files that are not what they claim to be never load silently: tampered folders that claim a published tag,
folders without records, tensors of another dtype, constructor arguments of the wrong type or size, arguments the
weights would silently override, and training checkpoints (their kept epoch, not the last one)."""
from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

import mmzoo
from mmzoo.pretrained.index import read_index, register_index, update_index
from mmzoo.utils.files import file_sha256, replace_folder

WEIGHTS = Path(__file__).resolve().parents[2] / "weights"


def rewrite_config(folder: Path, **changes) -> dict:
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))
    return config


@pytest.fixture
def published_copy(tmp_path) -> Path:
    """A copy of the committed intermediate_cat.shapes_v1 folder."""
    return Path(shutil.copytree(WEIGHTS / "intermediate_cat.shapes_v1", tmp_path / "intermediate_cat.shapes_v1"))


def test_a_tampered_copy_of_a_published_folder_is_refused_even_with_its_record_updated(published_copy):
    path = published_copy / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-8:] = b"\x00\x00\x80\x7f" * 2  # the last weights become inf
    path.write_bytes(bytes(data))
    config = json.loads((published_copy / "config.json").read_text())
    config["files"]["model.safetensors"]["sha256"] = file_sha256(path)  # whoever edits the file edits this too
    (published_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(mmzoo.IntegrityError, match="claims to be the published weights intermediate_cat.shapes_v1"):
        mmzoo.create(f"local-dir:{published_copy}", pretrained=True)


def test_a_folder_without_records_loads_only_when_trusted(published_copy):
    config = json.loads((published_copy / "config.json").read_text())
    del config["files"]
    del config["pretrained_cfg"]
    (published_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(mmzoo.UnverifiedWeightsError, match="records no sha256"):
        mmzoo.create(f"local-dir:{published_copy}", pretrained=True)
    with pytest.warns(mmzoo.UnverifiedWeightsWarning, match="loading it unverified"):
        model = mmzoo.create(f"local-dir:{published_copy}", pretrained=True, trust_unverified=True)
    assert model.pretrained_file.endswith("model.safetensors")


def test_a_header_that_changes_a_dtype_is_refused(published_copy):
    path = published_copy / "model.safetensors"
    raw = path.read_bytes()
    size = struct.unpack("<Q", raw[:8])[0]
    header = raw[8:8 + size].replace(b'"dtype":"F32"', b'"dtype":"I32"', 1)
    path.write_bytes(raw[:8] + header + raw[8 + size:])
    rewrite_config(published_copy, pretrained_cfg=None,
                   files={"model.safetensors": {"sha256": file_sha256(path), "num_bytes": path.stat().st_size}})
    with pytest.raises(ValueError, match="other tensor types than intermediate_cat expects.*torch.int32"):
        mmzoo.create(f"local-dir:{published_copy}", pretrained=True)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"num_outputs": 10**12}, ValueError, "num_outputs must be between 1 and 100000"),
    ({"num_outputs": "3"}, TypeError, "num_outputs must be an int; got '3'"),
    ({"num_outputs": 3.0}, TypeError, "num_outputs must be an int; got 3.0"),
    ({"lidar_scale": "0.02"}, TypeError, "lidar_scale must be a number"),
    ({"lidar_scale": -1.0}, ValueError, "lidar_scale must be between"),
    ({"no_such_argument": 1}, TypeError, "got an argument it does not take.*no_such_argument"),
])
def test_config_arguments_are_checked_before_anything_is_built(published_copy, kwargs, error, message):
    config = json.loads((published_copy / "config.json").read_text())
    rewrite_config(published_copy, kwargs={**config["kwargs"], **kwargs})
    with pytest.raises(error, match=message):
        mmzoo.create(f"local-dir:{published_copy}", pretrained=True)
    with pytest.raises(error, match=message):
        mmzoo.create("intermediate_cat", **kwargs)


def test_an_argument_that_only_sets_a_buffer_is_not_silently_overridden_by_the_weights(tmp_path):
    folder = mmzoo.save_pretrained(mmzoo.create("late_fusion_strided"), tmp_path / "plain")  # lidar_scale 1.0
    with pytest.raises(ValueError, match=r"lidar_scale=0.02"):
        mmzoo.create(f"local-dir:{folder}", pretrained=True, lidar_scale=0.02)
    restated = mmzoo.create(f"local-dir:{folder}", pretrained=True, lidar_scale=1.0)  # the default: accepted
    assert float(restated.lidar_gain[0]) == 1.0


def test_a_training_checkpoint_loads_its_kept_best_epoch_not_the_last(tmp_path):
    best, last = mmzoo.create("late_fusion_strided"), mmzoo.create("late_fusion_strided")
    torch.save({"format": 1, "best_state": best.state_dict(), "model": last.state_dict()}, tmp_path / "checkpoint.pt")
    for path in (tmp_path, tmp_path / "checkpoint.pt"):
        loaded = mmzoo.create("late_fusion_strided", checkpoint_path=path)
        assert all(torch.equal(loaded.state_dict()[k], v) for k, v in best.state_dict().items())


def test_an_index_entry_for_an_unregistered_architecture_warns_and_is_skipped(tmp_path, clean_registry):
    entry = json.loads((Path(mmzoo.pretrained.index.INDEX_PATH)).read_text())["weights"]["late_fusion.shapes_v1"]
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"format": 1, "weights": {
        "from_the_future.v9": {**entry, "architecture": "from_the_future", "tag": "v9"}}}))
    with pytest.warns(RuntimeWarning, match="'from_the_future', which is not registered"):
        assert register_index(index) == []


UPDATE_MANY = """
import sys, mmzoo
from mmzoo.pretrained.index import update_index
index, worker = sys.argv[1], sys.argv[2]
weight = mmzoo.get_weights("late_fusion")
for i in range(10):
    update_index(mmzoo.registry.WeightInfo.from_dict({**weight.to_dict(), "tag": f"w{worker}_{i}"}), index)
"""


def test_concurrent_index_updates_lose_nothing(tmp_path):
    """Two processes update one index at the same time: the lock serialises them, so no update is lost."""
    index = str(tmp_path / "index.json")
    writers = [subprocess.Popen([sys.executable, "-c", UPDATE_MANY, index, str(worker)], cwd=tmp_path,
                                stderr=subprocess.PIPE, text=True) for worker in (0, 1)]
    for writer in writers:
        assert writer.wait(timeout=300) == 0, writer.stderr.read()
    assert len(read_index(index)) == 20


def test_replacing_a_folder_never_leaves_it_missing_and_keeps_the_old_one_aside(tmp_path):
    target, staging = tmp_path / "w", tmp_path / "staging"
    target.mkdir(), staging.mkdir()
    (target / "a").write_text("old")
    (staging / "a").write_text("new")
    replace_folder(staging, target)
    assert (target / "a").read_text() == "new" and (staging / "a").read_text() == "old"


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_inputs_of_another_dtype_are_refused_with_the_fix(dtype):
    model = mmzoo.create("late_fusion_strided")
    with pytest.raises(ValueError, match=rf"rgb is {dtype} but the model's weights are torch.float32"):
        model(torch.rand(1, 4, 64, 64, dtype=dtype), torch.rand(1, 4, 64, 64, dtype=dtype))


def test_rgb_in_0_255_is_warned_about_once():
    model = mmzoo.create("late_fusion_strided")
    with pytest.warns(mmzoo.InputRangeWarning, match="divide 8-bit images by 255"):
        model(torch.rand(1, 4, 64, 64) * 255, torch.rand(1, 4, 64, 64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model(torch.rand(1, 4, 64, 64) * 255, torch.rand(1, 4, 64, 64))
