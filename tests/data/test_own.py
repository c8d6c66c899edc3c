"""The own-data folder format: what it reads, and every bad input it refuses, by file or line."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from mmzoo.data import AZIMUTH, MAX_RANGE, ZENITH, frames_from_arrays, read_own_folder, resize_range, split_frames
from mmzoo.errors import DataFormatError, InputSizeError, LabelsFileError, UnknownClassError, UnpairedFilesError


def write(root, n=6, labels=None, size=(64, 64), beams=(64, 64), mode="RGB", rows=None, header="id,label"):
    """A folder of ``n`` samples named s0.. with images of ``mode`` and range images of ``beams``."""
    (root / "rgb").mkdir(parents=True)
    (root / "lidar").mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        channels = {"RGB": 3, "RGBA": 4}.get(mode)
        pixels = rng.integers(0, 255, (size[0], size[1], channels), dtype=np.uint8) if channels else None
        Image.fromarray(pixels, mode).save(root / "rgb" / f"s{i}.png")
        depth = np.full(beams, MAX_RANGE, np.float32)
        depth[i % beams[0], :] = 10.0 + i
        np.save(root / "lidar" / f"s{i}.npy", depth)
    labels = labels or ["a", "b", "c"][: max(1, min(3, n))] * n
    lines = rows if rows is not None else [f"s{i},{labels[i]}" for i in range(n)]
    (root / "labels.csv").write_text(header + "\n" + "\n".join(lines) + "\n")
    return root


def test_reads_classes_in_sorted_order_with_opaque_alpha(tmp_path):
    frames = read_own_folder(write(tmp_path / "d", labels=["dog", "cat", "emu"] * 2))
    assert frames.class_names == ("cat", "dog", "emu")
    assert frames.labels.tolist() == [1, 0, 2, 1, 0, 2]
    assert frames.metadata["ids"] == [f"s{i}" for i in range(6)] and frames.metadata["task"] == "classification"
    assert frames.rgba.shape == (6, 64, 64, 4) and (frames.rgba[..., 3] == 255).all()
    assert frames.metadata["rgb_mode"] == "RGB" and frames.metadata["alpha_opaque"]
    assert frames.depth[0, 0, 0] == 10.0 and frames.depth[0, 1, 0] == MAX_RANGE


def test_regression_targets_jsonl_and_split(tmp_path):
    root = write(tmp_path / "d", n=4)
    (root / "labels.csv").unlink()
    rows = [{"id": f"s{i}", "speed": i * 1.5, "height": -i, "split": "train" if i < 3 else "val"} for i in range(4)]
    (root / "labels.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    frames = read_own_folder(root)
    assert frames.metadata["task"] == "values" and frames.metadata["target_names"] == ("speed", "height")
    assert frames.positions[3].tolist() == [4.5, -3.0]
    train, val = split_frames(frames)
    assert train.metadata["ids"] == ["s0", "s1", "s2"] and val.metadata["ids"] == ["s3"]


def test_seeded_split_keeps_every_class_in_both_parts(tmp_path):
    frames = read_own_folder(write(tmp_path / "d", n=15))
    train, val = split_frames(frames, val_fraction=0.2, seed=0)
    assert sorted(set(val.labels.tolist())) == [0, 1, 2] and len(train) + len(val) == 15
    again = split_frames(frames, val_fraction=0.2, seed=0)[1]
    assert again.metadata["ids"] == val.metadata["ids"]
    assert not set(train.metadata["ids"]) & set(val.metadata["ids"])


def test_images_are_resized_antialiased_and_range_images_min_pooled(tmp_path):
    root = write(tmp_path / "d", n=3, size=(100, 150), beams=(128, 128))
    np.save(root / "azimuth.npy", np.linspace(-0.3, 0.3, 128).astype(np.float32))
    np.save(root / "zenith.npy", np.linspace(-0.2, 0.2, 128).astype(np.float32))
    frames = read_own_folder(root, image_size=(64, 64))
    assert frames.rgba.shape == (3, 64, 64, 4) and frames.depth.shape == (3, 64, 64)
    # The hit row 0 (depth 10) survives the 2x2 min-pool at full depth: never averaged with the 50.0 around it.
    assert frames.depth[0, 0].tolist() == [10.0] * 64 and frames.depth[0, 1:].max() == MAX_RANGE
    assert np.isclose(frames.azimuth[0], np.linspace(-0.3, 0.3, 128)[:2].mean())
    # A smooth image stays smooth: the antialiased resize of a constant image is that constant.
    flat = np.full((3, 90, 70, 3), 77, np.uint8)
    arrays = frames_from_arrays(flat, np.full((3, 64, 64), 9.0, np.float32), labels=["x", "y", "x"])
    assert (arrays.rgba[..., :3] == 77).all()


def test_range_images_shrink_by_nearest_beam_for_other_factors():
    depth = np.arange(96 * 80, dtype=np.float32).reshape(96, 80) % 49 + 1
    out, az, ze = resize_range(depth, np.arange(96.0), np.arange(80.0), (64, 64))
    assert out.shape == (64, 64) and set(out.ravel()) <= set(depth.ravel())  # measured values, none invented
    assert az[0] == 0.0 and ze[-1] == 79.0  # each output beam is the source beam nearest its centre


def test_xyz_points_and_zero_no_return():
    points = np.zeros((64, 64, 3), np.float32)
    points[5, 7] = [3.0, 4.0, 0.0]  # range 5; every other beam is (0, 0, 0): no return
    frames = frames_from_arrays(np.zeros((1, 64, 64, 4), np.uint8), [points], labels=["a"], class_names=("a", "b"))
    assert frames.depth[0, 5, 7] == 5.0 and (np.delete(frames.depth[0].ravel(), 5 * 64 + 7) == MAX_RANGE).all()


def test_unpaired_files_are_named(tmp_path):
    root = write(tmp_path / "d")
    (root / "lidar" / "s2.npy").unlink()
    with pytest.raises(UnpairedFilesError, match=r"without lidar/<id>.npy: 's2'"):
        read_own_folder(root)
    root = write(tmp_path / "e")
    (root / "rgb" / "s4.png").unlink()
    with pytest.raises(UnpairedFilesError, match=r"without rgb/<id>.png: 's4'"):
        read_own_folder(root)


def test_labels_rows_and_files_must_match(tmp_path):
    root = write(tmp_path / "d", rows=[f"s{i},a" for i in range(5)] + ["s9,b"])
    with pytest.raises(UnpairedFilesError, match=r"row\(s\) of .*labels.csv without rgb/ and lidar/ files: 's9'"):
        read_own_folder(root)
    root = write(tmp_path / "e", rows=[f"s{i},a" for i in range(5)])
    with pytest.raises(UnpairedFilesError, match=r"without a row in labels.csv: 's5'"):
        read_own_folder(root)
    with pytest.raises(LabelsFileError, match="has no labels file"):
        (root / "labels.csv").unlink()
        read_own_folder(root, labels=True)


@pytest.mark.parametrize("rows, header, message", [
    (["s0,a", "s1,a", "s0,b"], "id,label", r"line 4 repeats id 's0' of line 2"),
    (["s0,a", "s1,"], "id,label", r"line 3 \(id 's1'\) has no label"),
    (["s0,a", ",b"], "id,label", r"line 3 has an empty id"),
    (["s0,a,extra", "s1,b"], "id,label", r"line 2 has 3 fields but the header has 2"),
    (["s0,1.5", "s1,fast"], "id,speed", r"line 3: speed='fast' is not a number"),
    (["s0,a,train", "s1,b,holdout"], "id,label,split", r"line 3: split='holdout'"),
    (["s0,a", "s1,b"], "name,label", r"no 'id' column"),
    ([], "id,label", r"holds no rows"),
])
def test_malformed_labels_name_the_line(tmp_path, rows, header, message):
    root = write(tmp_path / "d", n=2, rows=rows, header=header)
    with pytest.raises(LabelsFileError, match=message):
        read_own_folder(root)


def test_malformed_jsonl_line(tmp_path):
    root = write(tmp_path / "d", n=2)
    (root / "labels.csv").unlink()
    (root / "labels.jsonl").write_text('{"id": "s0", "label": "a"}\n{"id": "s1", "label": \n')
    with pytest.raises(LabelsFileError, match="line 2 is not valid JSON"):
        read_own_folder(root)


def test_unknown_class_is_refused_against_the_models_classes(tmp_path):
    root = write(tmp_path / "d", labels=["cube", "sphere", "cone"] * 2)
    with pytest.raises(UnknownClassError, match=r"'cone' that the model does not know.*'cube', 'sphere'"):
        read_own_folder(root, class_names=("cube", "sphere"))


@pytest.mark.parametrize("mode, what", [("L", "greyscale"), ("I;16", "16-"), ("P", "palette"), ("LA", "greyscale")])
def test_images_of_another_mode_or_depth(tmp_path, mode, what):
    root = write(tmp_path / "d", n=2)
    array = np.zeros((64, 64), np.uint16 if mode == "I;16" else np.uint8)
    image = Image.fromarray(array) if mode == "I;16" else Image.fromarray(array).convert(mode)
    image.save(root / "rgb" / "s1.png")
    with pytest.raises(DataFormatError, match=rf"s1.png is a {what}.*convert"):
        read_own_folder(root)


def test_a_folder_mixing_rgb_and_rgba_is_refused(tmp_path):
    root = write(tmp_path / "d", n=3)
    Image.fromarray(np.zeros((64, 64, 4), np.uint8)).save(root / "rgb" / "s2.png")
    with pytest.raises(DataFormatError, match="mix modes RGB and RGBA"):
        read_own_folder(root)


def test_range_images_with_nan_inf_negative_or_a_wrong_shape(tmp_path):
    root = write(tmp_path / "d", n=2)
    for bad, message in [(np.nan, "1 nan or infinite"), (np.inf, "1 nan or infinite"), (-1.0, "negative")]:
        depth = np.full((64, 64), 20.0, np.float32)
        depth[3, 3] = bad
        np.save(root / "lidar" / "s1.npy", depth)
        with pytest.raises(DataFormatError, match=rf"s1.npy has {message}"):
            read_own_folder(root)
    np.save(root / "lidar" / "s1.npy", np.full((64, 64, 2), 20.0, np.float32))
    with pytest.raises(DataFormatError, match=r"s1.npy has shape \(64, 64, 2\)"):
        read_own_folder(root)
    np.save(root / "lidar" / "s1.npy", np.full((32, 48), 20.0, np.float32))
    with pytest.raises(DataFormatError, match="32x48 beams, so the course's 64x64 beam grid does not apply"):
        read_own_folder(root)


def test_angle_files_must_fit_the_range_images(tmp_path):
    root = write(tmp_path / "d", n=2)
    np.save(root / "azimuth.npy", AZIMUTH[:60])
    np.save(root / "zenith.npy", ZENITH)
    with pytest.raises(DataFormatError, match="64x64 beams but there are 60 azimuth"):
        read_own_folder(root)
    (root / "zenith.npy").unlink()
    with pytest.raises(DataFormatError, match="has azimuth.npy but not zenith.npy"):
        read_own_folder(root)


def test_range_images_smaller_than_the_models_size_are_never_enlarged(tmp_path):
    root = write(tmp_path / "d", n=2, beams=(32, 32))
    np.save(root / "azimuth.npy", AZIMUTH[::2])
    np.save(root / "zenith.npy", ZENITH[::2])
    with pytest.raises(InputSizeError, match="32x32 beams but the model needs 64x64: range images are never enlarged"):
        read_own_folder(root, image_size=(64, 64))
    assert read_own_folder(root, image_size=(32, 32)).depth.shape == (2, 32, 32)
