"""Writing data folders never fails silently: overwrite removes only what mmzoo wrote, a second writer is refused,
frames stream to disk, an impossible request is refused up front, an unfinished folder is never read."""
from __future__ import annotations

import numpy as np
import pytest

from mmzoo.cli import main
from mmzoo.cli.data import generate_to_folder
from mmzoo.data.layouts import read_folder
from mmzoo.data.writers import FolderWriter, write_folder
from mmzoo.data.manifest import MANIFEST_NAME, read_manifest
from mmzoo.data.sets import generate


def _generate(out, *extra):
    return main(["data", "generate", "shapes", "--out", str(out), "--frames", "6", "--quiet", *extra])


def test_overwrite_keeps_a_users_files_and_refuses(tmp_path, capsys):
    assert _generate(tmp_path) == 0
    notes = tmp_path / "cubes" / "rgb" / "notes.txt"
    notes.write_text("mine")
    assert _generate(tmp_path, "--overwrite", "--seed", "1") == 1
    assert "cubes/rgb/notes.txt" in capsys.readouterr().err
    assert notes.read_text() == "mine"
    assert read_folder(tmp_path).metadata["seed"] == 0  # the first dataset is untouched


def test_overwrite_replaces_its_own_dataset_entirely(tmp_path):
    assert _generate(tmp_path) == 0
    assert main(["data", "generate", "cubes", "--out", str(tmp_path), "--frames", "4", "--quiet", "--overwrite"]) == 0
    # The assessment folders are gone (a leftover cubes/ + spheres/ would make the folder ambiguous).
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "azimuth.npy", "lidar", MANIFEST_NAME, "positions.csv", "rgb", "zenith.npy"]
    assert len(read_folder(tmp_path)) == 4


def test_a_folder_mmzoo_did_not_write_is_never_overwritten(tmp_path, capsys):
    (tmp_path / "rgb").mkdir()
    (tmp_path / "rgb" / "0000.png").write_bytes(b"someone else's frame")
    assert _generate(tmp_path, "--overwrite") == 1
    assert f"no {MANIFEST_NAME}" in capsys.readouterr().err
    assert (tmp_path / "rgb" / "0000.png").read_bytes() == b"someone else's frame"


def test_a_second_writer_is_refused_not_mixed(tmp_path, capsys):
    with FolderWriter(tmp_path, "assessment", 6) as writer:
        assert _generate(tmp_path, "--overwrite") == 1
        writer.add(generate("shapes", 6, seed=3))
    assert "being written by another mmzoo process" in capsys.readouterr().err
    assert read_folder(tmp_path).metadata["seed"] == 3


def test_frames_stream_to_disk_in_chunks(tmp_path):
    generate_to_folder("cubes", tmp_path / "streamed", 11, seed=2, chunk=4, progress=False)
    write_folder(generate("cubes", 11, seed=2), tmp_path / "whole")
    streamed, whole = read_folder(tmp_path / "streamed"), read_folder(tmp_path / "whole")
    assert np.array_equal(streamed.rgba, whole.rgba) and np.array_equal(streamed.depth, whole.depth)
    assert np.array_equal(streamed.positions, whole.positions)
    assert read_manifest(tmp_path / "streamed")["frames"] == {"": 11}


def test_an_impossible_request_is_refused_before_anything_is_written(tmp_path, capsys):
    code = main(["data", "generate", "shapes", "--out", str(tmp_path / "big"), "--frames", "1000000000", "--quiet"])
    assert code == 1
    assert "would take about" in capsys.readouterr().err
    assert not (tmp_path / "big").exists()


def test_an_interrupted_write_is_never_read_and_can_be_redone(tmp_path, capsys):
    with pytest.raises(KeyboardInterrupt):
        with FolderWriter(tmp_path, "assessment", 8) as writer:
            writer.add(generate("shapes", 4))
            raise KeyboardInterrupt
    with pytest.raises(ValueError, match="not finished writing"):
        read_folder(tmp_path)
    assert _generate(tmp_path, "--overwrite") == 0
    assert len(read_folder(tmp_path)) == 6


def test_ctrl_c_during_generate_says_what_to_do(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("mmzoo.cli.data.generate_to_folder", interrupted)
    assert _generate(tmp_path) == 130
    assert "--overwrite" in capsys.readouterr().err
