"""``mmzoo train --pretrained --freeze``, ``mmzoo predict`` and ``mmzoo evaluate`` on a tiny own-data folder."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from mmzoo.cli import main
from mmzoo.data import generate

TINY = ["--set", "epochs=1", "--set", "batch_size=8", "--device", "cpu"]


@pytest.fixture
def folder(tmp_path):
    """18 generated frames labelled a / b / c, with a split column."""
    frames = generate("shapes", 18, seed=2)
    root = tmp_path / "data"
    (root / "rgb").mkdir(parents=True)
    (root / "lidar").mkdir()
    rows = ["id,label,split"]
    for i in range(18):
        Image.fromarray(frames.rgba[i]).save(root / "rgb" / f"x{i:02d}.png")
        np.save(root / "lidar" / f"x{i:02d}.npy", frames.depth[i])
        rows.append(f"x{i:02d},{'abc'[i % 3]},{'train' if i < 12 else ('val' if i < 15 else 'test')}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.slow
def test_train_pretrained_freeze_predict_evaluate(folder, tmp_path, capsys):
    out = tmp_path / "model"
    assert main(["train", "late_fusion_strided", "--pretrained", "shapes_v1", "--data-dir", str(folder), "--out",
                 str(out), "--freeze", "encoders", "--json", *TINY]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["start"] == "late_fusion_strided.shapes_v1" and summary["out"] == str(out)
    config = json.loads((out / "config.json").read_text())
    assert config["data_config"]["class_names"] == ["a", "b", "c"]
    assert config["pretrained_cfg"]["recipe_config"]["freeze"] == "encoders"

    assert main(["predict", f"local-dir:{out}", str(folder), "--split", "test", "--out", str(tmp_path / "p.csv")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert [r["id"] for r in rows] == ["x15", "x16", "x17"]
    assert set(rows[0]) == {"id", "prediction", "probability", "p_a", "p_b", "p_c"}
    assert all(r["prediction"] in "abc" and abs(sum(float(r[f"p_{c}"]) for c in "abc") - 1) < 1e-4 for r in rows)

    assert main(["evaluate", f"local-dir:{out}", str(folder), "--json", "--plot", str(tmp_path / "cm.png")]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["samples"] == 18 and np.asarray(report["confusion"]).sum() == 18
    assert report["accuracy"] == pytest.approx(np.trace(report["confusion"]) / 18)
    assert (tmp_path / "cm.png").stat().st_size > 1000
    assert main(["evaluate", f"local-dir:{out}", str(folder)]) == 0
    assert "confusion matrix (rows: true, columns: predicted)" in capsys.readouterr().out


@pytest.mark.slow
def test_regression_targets_from_scratch(folder, tmp_path, capsys):
    rows = ["id,speed,height"] + [f"x{i:02d},{i},{-2 * i}" for i in range(18)]
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "reg"
    assert main(["train", "late_fusion_strided", "--data-dir", str(folder), "--out", str(out), *TINY]) == 0
    assert "random init" in capsys.readouterr().out
    assert main(["evaluate", f"local-dir:{out}", str(folder), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(report["per_target"]) == {"speed", "height"} and report["task"] == "values"
    assert main(["predict", f"local-dir:{out}", str(folder)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "id,speed,height"


def test_bad_input_exits_1_with_the_reason(folder, tmp_path, capsys):
    out = tmp_path / "model"
    assert main(["train", "late_fusion_strided", "--pretrained", "--data-dir", str(folder), "--out", str(out),
                 "--keep-head", *TINY]) == 1
    assert "the task needs 3 output(s)" in capsys.readouterr().err
    assert main(["train", "course_early_fusion", "--data-dir", str(folder), "--out", str(out), "--freeze",
                 "encoders", *TINY]) == 1
    assert "freeze=backbone" in capsys.readouterr().err
    assert main(["train", "late_fusion_strided", "--pretrained", "--out", str(out), *TINY]) == 1
    assert "give --data-dir" in capsys.readouterr().err
    (folder / "lidar" / "x03.npy").unlink()
    assert main(["train", "late_fusion_strided", "--data-dir", str(folder), "--out", str(out), *TINY]) == 1
    assert "'x03'" in capsys.readouterr().err
