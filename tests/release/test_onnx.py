"""ONNX export of every registered model: a valid file, named inputs, one shared dynamic batch, mmzoo metadata,
and onnxruntime agreeing with PyTorch on batches 1, 2 and 7. Skips with a message without the ``export`` extra."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import mmzoo
from mmzoo.cli import main
from mmzoo.data import generate, to_tensors
from mmzoo.release.program import as_deployable, example_inputs

onnx = pytest.importorskip("onnx", reason="ONNX export tests need the export extra: pip install 'mmzoo[export]'")
ort = pytest.importorskip("onnxruntime", reason="ONNX parity tests need the export extra: pip install 'mmzoo[export]'")
pytest.importorskip("onnxscript", reason="torch's ONNX exporter needs onnxscript: pip install 'mmzoo[export]'")

from mmzoo.release.onnx import export_onnx, output_name, read_onnx_metadata  # noqa: E402

ATOL = 1e-4
BATCHES = (1, 2, 7)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """``exported(name) -> (model, path)``: each model is built and exported once for the whole module."""
    folder = tmp_path_factory.mktemp("onnx")
    cache: dict[str, tuple[torch.nn.Module, object]] = {}

    def get(name: str):
        if name not in cache:
            torch.manual_seed(0)
            model = mmzoo.create(name).eval()
            try:
                path = export_onnx(model, folder / f"{name}.onnx")
            except Exception as err:  # name the model in the failure, whatever the exporter raised
                pytest.fail(f"{name} cannot be exported to ONNX: {type(err).__name__}: {err}")
            cache[name] = (model, path)
        return cache[name]

    return get


def session(path) -> "ort.InferenceSession":
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # the suite shares a few cores; parity does not depend on threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("name", mmzoo.list_models())
def test_onnx_file_is_valid_and_runs_like_pytorch(name, exported):
    model, path = exported(name)
    onnx.checker.check_model(str(path), full_check=True)
    spec = model.input_spec
    sess = session(path)
    assert [i.name for i in sess.get_inputs()] == list(spec.modalities), name
    assert [o.name for o in sess.get_outputs()] == [output_name(mmzoo.model_info(name).task)], name
    # One symbolic batch dimension, the same symbol on every input, and the output's batch too.
    batch_dims = {i.shape[0] for i in sess.get_inputs()} | {sess.get_outputs()[0].shape[0]}
    assert len(batch_dims) == 1 and isinstance(batch_dims.pop(), str), (name, batch_dims)
    wrapped = as_deployable(model)
    for batch in BATCHES:
        inputs = example_inputs(spec, batch, seed=batch)
        with torch.no_grad():
            expected = wrapped(*inputs).numpy()
        got = sess.run(None, {m: t.numpy() for m, t in zip(spec.modalities, inputs)})[0]
        assert got.shape == expected.shape == (batch, model.num_outputs), (name, batch)
        np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL, err_msg=f"{name}, batch {batch}")


def test_metadata_describes_the_model_and_the_pretrained_weight(tmp_path):
    path = export_onnx("late_fusion_strided", tmp_path / "late.onnx", pretrained=True, opset=18)
    meta = read_onnx_metadata(path)
    weight = mmzoo.get_weights("late_fusion_strided")
    assert meta["mmzoo.architecture"] == "late_fusion_strided"
    assert meta["mmzoo.weight"] == {"name": weight.name, "sha256": weight.sha256, "num_bytes": weight.num_bytes}
    assert meta["mmzoo.input_spec"] == json.loads(json.dumps(weight.input_spec.to_dict()))
    assert meta["mmzoo.model_info"]["num_params"] == mmzoo.model_info("late_fusion_strided").num_params
    assert meta["mmzoo.model_kwargs"] == weight.model_kwargs
    assert meta["mmzoo.opset"] == 18 == next(o.version for o in onnx.load(str(path)).opset_import if o.domain == "")
    assert meta["mmzoo.output"] == "logit" and meta["mmzoo.version"] == mmzoo.__version__


def test_a_random_model_records_no_weight_and_a_regressor_outputs_positions(exported):
    _, path = exported("course_lidar_only")
    meta = read_onnx_metadata(path)
    assert meta["mmzoo.weight"] is None
    assert meta["mmzoo.inputs"] == ["lidar"] and meta["mmzoo.output"] == "positions"


@pytest.mark.parametrize("kwargs, error, message", [
    ({"model_or_name": 3}, TypeError, "model name or a model"),
    ({"model_or_name": torch.nn.Linear(2, 2)}, TypeError, "has no input_spec"),
    ({"model_or_name": "late_fusion", "opset": "18"}, ValueError, "opset must be an int"),
    ({"model_or_name": "late_fusoin"}, mmzoo.UnknownModelError, "late_fusion"),
])
def test_bad_arguments_say_what_is_wrong(tmp_path, kwargs, error, message):
    with pytest.raises(error, match=message):
        export_onnx(path=tmp_path / "x.onnx", **kwargs)
    assert not (tmp_path / "x.onnx").exists()


def test_must_show_cli_export_then_onnxruntime_predicts_as_mmzoo(tmp_path, capsys):
    """``mmzoo export-onnx intermediate_cat --pretrained --out cat.onnx``, then onnxruntime on generated frames
    gives the predictions of ``mmzoo.create("intermediate_cat", pretrained=True)``."""
    out = tmp_path / "cat.onnx"
    assert main(["export-onnx", "intermediate_cat", "--pretrained", "--out", str(out)]) == 0
    assert "intermediate_cat.shapes_v1" in capsys.readouterr().out
    frames = to_tensors(generate("shapes", 16, seed=11), lidar="xyza", formula="assignment")
    rgb, lidar, target = frames.batch(slice(None))
    logit = session(out).run(["logit"], {"rgb": rgb.numpy(), "lidar": lidar.numpy()})[0]
    with torch.no_grad():
        expected = mmzoo.create("intermediate_cat", pretrained=True)(rgb, lidar).numpy()
    np.testing.assert_allclose(logit, expected, rtol=0, atol=ATOL)
    assert ((logit > 0) == (expected > 0)).all()
    assert ((logit > 0) == (target.numpy() > 0.5)).mean() >= 0.9  # the trained weights really came along


def test_cli_reports_a_bad_model_name_without_traceback(tmp_path, capsys):
    assert main(["export-onnx", "no_such_model", "--out", str(tmp_path / "x.onnx")]) == 1
    assert "no_such_model" in capsys.readouterr().err
