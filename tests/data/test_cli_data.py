"""``mmzoo data list / generate / preview``: folders that read back to the generated frames, a valid preview."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mmzoo.cli import main
from mmzoo.cli.data import generate_frames
from mmzoo.data.layouts import read_folder
from mmzoo.data.sets import generate


def test_list_prints_every_dataset(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("shapes", "cubes", "parallel"):
        assert name in out


def test_generate_in_chunks_equals_one_call():
    chunked = generate_frames("parallel", 23, seed=4, chunk=5, progress=False)
    whole = generate("parallel", 23, seed=4)
    assert np.array_equal(chunked.rgba, whole.rgba) and np.array_equal(chunked.depth, whole.depth)
    assert np.array_equal(chunked.positions, whole.positions)
    assert chunked.metadata["dataset"] == "parallel" and chunked.metadata["seed"] == 4


def test_generate_shapes_reads_back_in_the_assessment_layout(tmp_path, capsys):
    out = tmp_path / "shapes"
    assert main(["data", "generate", "shapes", "--out", str(out), "--frames", "12", "--seed", "3", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "12 frames" in printed and "frames/s" in printed
    assert (out / "cubes" / "rgb" / "0000.png").is_file() and (out / "spheres" / "lidar" / "0000.npy").is_file()
    back = read_folder(out)
    expected = generate("shapes", 12, seed=3)
    # The assessment layout stores cubes then spheres, each in generation order.
    order = np.concatenate([np.nonzero(expected.labels == 0)[0], np.nonzero(expected.labels == 1)[0]])
    assert len(back) == 12
    assert np.array_equal(np.sort(back.labels), np.sort(expected.labels))
    for label in (0, 1):
        got, want = back.labels == label, order[expected.labels[order] == label]
        assert np.array_equal(back.depth[got], expected.depth[want])
        assert np.array_equal(back.rgba[got], expected.rgba[want])


def test_generate_cubes_reads_back_in_the_course_layout_then_previews(tmp_path, capsys):
    out = tmp_path / "cubes"
    assert main(["data", "generate", "cubes", "--out", str(out), "--frames", "6", "--seed", "1", "--quiet"]) == 0
    assert (out / "positions.csv").is_file() and (out / "rgb" / "0005.png").is_file()
    back = read_folder(out)
    expected = generate("cubes", 6, seed=1)
    assert np.array_equal(back.depth, expected.depth) and np.array_equal(back.rgba, expected.rgba)
    assert np.allclose(back.positions, expected.positions, atol=1e-6)
    assert back.metadata.get("dataset") == "cubes" and back.metadata.get("version") == expected.metadata["version"]

    png = tmp_path / "preview.png"
    assert main(["data", "preview", str(out), "--out", str(png), "--n", "3"]) == 0
    with Image.open(png) as image:
        image.verify()
    with Image.open(png) as image:
        assert image.format == "PNG" and image.height > image.width / 2


def test_preview_defaults_to_a_file_in_the_folder(tmp_path):
    out = tmp_path / "p"
    assert main(["data", "generate", "parallel", "--out", str(out), "--frames", "2", "--quiet"]) == 0
    assert main(["data", "preview", str(out)]) == 0
    assert (out / "preview.png").is_file()


def test_errors_are_reported_without_traceback(tmp_path, capsys):
    assert main(["data", "generate", "nope", "--out", str(tmp_path / "x"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "unknown dataset 'nope'" in err and "shapes" in err
    assert main(["data", "generate", "cubes", "--out", str(tmp_path / "x"), "--frames", "0", "--quiet"]) == 1
    assert "--frames must be at least 1" in capsys.readouterr().err
    existing = tmp_path / "full"
    existing.mkdir()
    (existing / "keep.txt").write_text("x")
    assert main(["data", "generate", "cubes", "--out", str(existing), "--frames", "2", "--quiet"]) == 1
    assert "not empty" in capsys.readouterr().err and (existing / "keep.txt").is_file()
    with pytest.raises(SystemExit):
        main(["data", "generate", "cubes"])  # --out is required
