"""Golden outputs: every committed weight still gives the output recorded in its config.json (atol 1e-5)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

import mmzoo
from mmzoo.cli import main
from mmzoo.pretrained.folder import CONFIG_NAME
from mmzoo.release.golden import GOLDEN_ATOL, GOLDEN_KEY, check_golden, golden_record, read_golden, record_golden

WEIGHTS = Path(__file__).resolve().parents[2] / "weights"
COMMITTED = sorted(p.name for p in WEIGHTS.iterdir() if (p / CONFIG_NAME).is_file())


def test_every_published_weight_has_a_golden_record():
    assert COMMITTED and sorted(mmzoo.list_pretrained()) == COMMITTED
    for name in COMMITTED:
        record = read_golden(WEIGHTS / name)
        assert record["atol"] == GOLDEN_ATOL and len(record["output"]) == record["batch"] >= 2, name


@pytest.mark.parametrize("name", COMMITTED)
def test_loading_a_published_weight_still_gives_its_golden_output(name, monkeypatch):
    monkeypatch.setenv("MMZOO_WEIGHTS_DIR", str(WEIGHTS))  # the checkout's files, never a download
    model = mmzoo.create(name, pretrained=True).eval()
    assert check_golden(model, read_golden(WEIGHTS / name), label=name) <= GOLDEN_ATOL


def test_the_recorded_outputs_are_the_weights_real_predictions():
    """On the golden frames (real renders, not noise) the classifiers' logits have the labels' signs."""
    from mmzoo.data import generate, to_tensors

    record = read_golden(WEIGHTS / "late_fusion.shapes_v1")
    labels = to_tensors(generate(record["dataset"], record["batch"], seed=record["seed"])).target.view(-1)
    logits = torch.tensor(record["output"]).view(-1)
    assert torch.equal(logits > 0, labels > 0.5)


@pytest.fixture
def folder_copy(tmp_path):
    folder = tmp_path / "late_fusion.shapes_v1"
    shutil.copytree(WEIGHTS / "late_fusion.shapes_v1", folder)
    return folder


def test_a_changed_model_is_caught(folder_copy):
    model = mmzoo.load_pretrained(folder_copy).eval()
    with torch.no_grad():
        model.head[-1].bias += 1e-3  # what a refactor changing the computation would look like
    with pytest.raises(mmzoo.GoldenOutputError, match="differs from its golden record by 0.001"):
        check_golden(model, read_golden(folder_copy))


def test_a_changed_input_generator_is_reported_as_such(folder_copy):
    record = dict(read_golden(folder_copy), seed=1)
    with pytest.raises(mmzoo.GoldenOutputError, match="data generator changed"):
        check_golden(mmzoo.load_pretrained(folder_copy).eval(), record)


def test_recording_changes_nothing_else_and_the_cli_checks(folder_copy, capsys):
    before = json.loads((folder_copy / CONFIG_NAME).read_text())
    weights_bytes = (folder_copy / "model.safetensors").read_bytes()
    config = folder_copy / CONFIG_NAME
    config.write_text(json.dumps({k: v for k, v in before.items() if k != GOLDEN_KEY}, indent=2) + "\n")
    with pytest.raises(mmzoo.GoldenOutputError, match="no 'golden' record"):
        read_golden(folder_copy)
    assert main(["golden", str(folder_copy)]) == 0
    after = json.loads(config.read_text())
    # The same record again (outputs equal within the record's tolerance: another CPU rounds differently), the
    # rest untouched.
    assert {k: v for k, v in after.items() if k != GOLDEN_KEY} == {k: v for k, v in before.items() if k != GOLDEN_KEY}
    # the record names the torch that wrote it, which is this test's torch, not necessarily the committed one's
    fields = lambda record: {k: v for k, v in record.items() if k not in ("output", "torch_version")}  # noqa: E731
    assert fields(after[GOLDEN_KEY]) == fields(before[GOLDEN_KEY])
    assert torch.allclose(torch.tensor(after[GOLDEN_KEY]["output"]), torch.tensor(before[GOLDEN_KEY]["output"]),
                          rtol=0, atol=before[GOLDEN_KEY]["atol"])
    assert (folder_copy / "model.safetensors").read_bytes() == weights_bytes
    assert main(["golden", "--check", str(folder_copy)]) == 0 and "ok" in capsys.readouterr().out
    broken = dict(before, golden=dict(before[GOLDEN_KEY], output=[[0.0]] * before[GOLDEN_KEY]["batch"]))
    config.write_text(json.dumps(broken))
    assert main(["golden", "--check", str(folder_copy)]) == 1 and "FAILED" in capsys.readouterr().out


def test_a_model_without_weights_needs_a_dataset():
    with pytest.raises(ValueError, match="pass dataset="):
        golden_record(mmzoo.create("late_fusion"))
    record = golden_record(mmzoo.create("course_rgb_only"), dataset="shapes", batch=2)
    assert record["dataset"] == "shapes" and len(record["output"]) == 2 and len(record["output"][0]) == 9


def test_record_golden_writes_what_check_reads(folder_copy):
    record = record_golden(folder_copy, batch=2)
    assert read_golden(folder_copy) == record and record["batch"] == 2
