"""The real data's folder layouts: exact round trips, splits, and clear errors on bad folders."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from mmzoo.data.frames import Frames
from mmzoo.data.layouts import detect_layout, read_assessment_folder, read_course_folder, read_folder
from mmzoo.data.writers import write_assessment_folder, write_course_folder, write_folder
from mmzoo.data.splits import class_split, course_split, course_val_count


def make_frames(n: int, seed: int = 0, labels: np.ndarray | None = None, positions: bool = True) -> Frames:
    """Seeded random frames: full-range RGBA, depths with some no-return beams (exactly 50)."""
    rng = np.random.default_rng(seed)
    depth = rng.uniform(1.0, 60.0, size=(n, 64, 64)).astype(np.float32)
    depth[depth > 45] = 50.0
    return Frames(
        rgba=rng.integers(0, 256, size=(n, 64, 64, 4), dtype=np.uint8),
        depth=depth,
        labels=None if labels is None else np.asarray(labels, dtype=np.int64),
        positions=rng.normal(0, 3, size=(n, 9)).astype(np.float32) if positions else None,
        class_names=("cube", "sphere") if labels is not None else (),
        metadata={"generator": "test", "seed": seed},
    )


@pytest.fixture
def course(tmp_path):
    frames = make_frames(12)
    return frames, write_course_folder(frames, tmp_path / "course")


@pytest.fixture
def assessment(tmp_path):
    frames = make_frames(10, labels=[0, 1, 1, 0, 0, 1, 0, 1, 0, 1], positions=False)
    return frames, write_assessment_folder(frames, tmp_path / "assessment")


def assert_same(a: Frames, b: Frames) -> None:
    assert a.rgba.dtype == b.rgba.dtype == np.uint8 and a.rgba.tobytes() == b.rgba.tobytes()
    assert a.depth.dtype == b.depth.dtype == np.float32 and a.depth.tobytes() == b.depth.tobytes()
    assert a.azimuth.tobytes() == b.azimuth.tobytes() and a.zenith.tobytes() == b.zenith.tobytes()


# ------------------------------------------------------------------------------------------- round trips


def test_course_round_trip_is_exact(course):
    frames, root = course
    names = sorted(p.name for p in root.iterdir() if p.name != ".mmzoo.lock")  # the writer's lock file
    assert names == ["azimuth.npy", "lidar", "mmzoo.json", "positions.csv", "rgb", "zenith.npy"]
    assert (root / "rgb" / "0011.png").is_file() and (root / "lidar" / "0011.npy").is_file()
    with Image.open(root / "rgb" / "0003.png") as image:
        assert image.mode == "RGBA" and image.size == (64, 64)
    stored = np.load(root / "lidar" / "0003.npy")
    assert stored.dtype == np.float32 and stored.shape == (64, 64)
    lines = (root / "positions.csv").read_text().splitlines()
    assert len(lines) == 13 and len(lines[1].split(",")) == 9  # header + one row per frame

    back = read_course_folder(root)
    assert_same(frames, back)
    assert back.positions.dtype == np.float32 and back.positions.tobytes() == frames.positions.tobytes()
    assert back.labels is None
    assert back.metadata["layout"] == "course" and back.metadata["split"] is None
    assert back.metadata["source"] == str(root.resolve())
    assert back.metadata["seed"] == 0 and back.metadata["generator"] == "test"  # via mmzoo.json


def test_assessment_round_trip_is_exact(assessment):
    frames, root = assessment
    assert (root / "cubes" / "rgb" / "0004.png").is_file() and not (root / "cubes" / "rgb" / "0005.png").exists()
    assert (root / "spheres" / "lidar" / "0004.npy").is_file() and (root / "spheres" / "azimuth.npy").is_file()
    back = read_assessment_folder(root)
    order = np.argsort(frames.labels, kind="stable")  # the layout stores cubes, then spheres
    assert_same(frames.subset(order), back)
    assert back.labels.tolist() == [0] * 5 + [1] * 5 and back.class_names == ("cube", "sphere")
    assert back.metadata["layout"] == "assessment"


def test_generic_entry_points_pick_the_layout(tmp_path):
    labelled = make_frames(4, labels=[0, 1, 0, 1])  # labels win over positions
    assert detect_layout(write_folder(labelled, tmp_path / "a")) == "assessment"
    assert detect_layout(write_folder(make_frames(4), tmp_path / "c")) == "course"
    assert detect_layout(write_folder(labelled, tmp_path / "c2", layout="course")) == "course"
    assert read_folder(tmp_path / "a").labels.tolist() == [0, 0, 1, 1]
    assert read_folder(tmp_path / "c", split="val").metadata["split"] == "val"
    with pytest.raises(ValueError, match="neither labels nor positions"):
        write_folder(make_frames(2, positions=False), tmp_path / "x")
    with pytest.raises(ValueError, match="unknown layout"):
        write_folder(labelled, tmp_path / "y", layout="kitti")


def test_writers_refuse_to_mix_with_existing_frames(course, tmp_path):
    frames, root = course
    with pytest.raises(FileExistsError, match="overwrite"):
        write_course_folder(make_frames(3), root)
    write_folder(frames.subset(slice(0, 3)), root, overwrite=True)
    assert len(read_folder(root)) == 3  # no stale frames 3..11 left behind


def test_writer_rejects_frames_the_layout_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="positions"):
        write_course_folder(make_frames(2, positions=False), tmp_path / "c")
    with pytest.raises(ValueError, match="labels must be 0"):
        write_assessment_folder(make_frames(2, labels=[0, 2]), tmp_path / "a")
    with pytest.raises(ValueError, match="no 'sphere' frames"):
        write_assessment_folder(make_frames(2, labels=[0, 0]), tmp_path / "a")


def test_real_folder_extras_are_tolerated(course):
    frames, root = course
    (root / "mmzoo.json").unlink()  # the real data has no sidecar
    (root / "distance").mkdir()  # the three-shape set's unused folder
    np.save(root / "distance" / "0000.npy", np.zeros((64, 64), np.float32))
    (root / "rgb" / ".DS_Store").write_text("junk")
    positions = np.loadtxt(root / "positions.csv", delimiter=",", skiprows=1)
    index_col = np.column_stack([np.arange(len(positions)), positions])  # a pandas-style index column
    np.savetxt(root / "positions.csv", index_col, fmt="%.9g", delimiter=",", header=",a" * 9, comments="")
    np.save(root / "lidar" / "0005.npy", np.asfortranarray(frames.depth[5]))  # a different .npy header
    back = read_course_folder(root)
    assert_same(frames, back)
    assert np.array_equal(back.positions, frames.positions)
    assert "seed" not in back.metadata


# ------------------------------------------------------------------------------------------------ splits


def test_course_default_split_is_the_courses():
    train, val = course_split(9999, "train"), course_split(9999, "val")
    assert np.array_equal(train, np.arange(9679)) and np.array_equal(val, np.arange(9679, 9999))
    assert len(val) == 320 and np.array_equal(course_split(9999), np.arange(9999))


@pytest.mark.parametrize("n, expected", [(10000, 320), (1000, 32), (100, 3), (20, 1), (2, 1), (1, 0)])
def test_course_split_generalises_proportionally(n, expected):
    assert course_val_count(n) == expected
    train, val = course_split(n, "train"), course_split(n, "val")
    assert len(val) == expected and np.array_equal(np.concatenate([train, val]), np.arange(n))


def test_course_folder_split_reads_the_right_frames(course):
    frames, root = course  # 12 frames -> the last one is validation
    val = read_course_folder(root, "val")
    assert val.metadata["frame_indices"].tolist() == [11]
    assert_same(frames.subset([11]), val)
    assert np.array_equal(val.positions, frames.positions[[11]])
    assert len(read_course_folder(root, "train")) == 11
    assert read_course_folder(root, "val", val_count=4).metadata["frame_indices"].tolist() == [8, 9, 10, 11]


def test_user_given_indices(course):
    frames, root = course
    picked = read_course_folder(root, [5, 0, 2])
    assert_same(frames.subset([5, 0, 2]), picked)
    assert picked.metadata["split"] == "indices" and picked.metadata["frame_indices"].tolist() == [5, 0, 2]
    mask = np.zeros(12, bool)
    mask[[1, 7]] = True
    assert read_course_folder(root, mask).metadata["frame_indices"].tolist() == [1, 7]
    with pytest.raises(ValueError, match="out of range"):
        read_course_folder(root, [12])
    with pytest.raises(ValueError, match="unknown split"):
        read_course_folder(root, "test")


def test_assessment_split_is_80_20_per_class_seeded():
    sizes = [1000, 1000]
    train, val = class_split(sizes, "train"), class_split(sizes, "val")
    assert len(train) == 1600 and len(val) == 400
    assert (val < 1000).sum() == 200 and (train < 1000).sum() == 800  # per class
    assert not np.intersect1d(train, val).size and np.array_equal(np.union1d(train, val), np.arange(2000))
    assert np.array_equal(class_split(sizes, "val", seed=51), val)  # the default seed, reproducible
    assert not np.array_equal(class_split(sizes, "val", seed=52), val)
    drawn_train = class_split([9999, 9999], "train", per_class=1000)
    drawn_val = class_split([9999, 9999], "val", per_class=1000)
    assert len(drawn_train) == 1600 and len(drawn_val) == 400 and not np.intersect1d(drawn_train, drawn_val).size
    assert np.array_equal(class_split(sizes, [3, 1500]), [3, 1500])


def test_assessment_folder_split(assessment):
    frames, root = assessment  # 5 per class -> 4 train / 1 val per class
    ordered = frames.subset(np.argsort(frames.labels, kind="stable"))
    val = read_assessment_folder(root, "val", seed=7)
    train = read_assessment_folder(root, "train", seed=7)
    assert val.labels.tolist() == [0, 1] and np.bincount(train.labels).tolist() == [4, 4]
    assert_same(ordered.subset(val.metadata["frame_indices"]), val)
    assert val.metadata["seed"] == 7 and val.metadata["split"] == "val"
    assert sorted(np.concatenate([train.metadata["frame_indices"], val.metadata["frame_indices"]])) == list(range(10))
    again = read_folder(root, "val", seed=7)
    assert np.array_equal(again.metadata["frame_indices"], val.metadata["frame_indices"])


# ------------------------------------------------------------------------------------------ bad folders


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_folder(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty"):
        read_folder(tmp_path / "empty")
    (tmp_path / "other" / "images").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"neither data layout.*images/.*expected rgb/ \+ lidar/"):
        detect_layout(tmp_path / "other")
    (tmp_path / "c" / "rgb").mkdir(parents=True)
    (tmp_path / "c" / "lidar").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no frames in .*rgb"):
        read_folder(tmp_path / "c")


def test_gap_in_numbering_names_the_missing_file(course):
    _, root = course
    (root / "rgb" / "0003.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"rgb/0003\.png is missing"):
        read_course_folder(root)


def test_rgb_without_lidar_names_the_missing_file(course):
    _, root = course
    (root / "lidar" / "0011.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"lidar/0011\.npy is missing"):
        read_course_folder(root)


def test_duplicate_frame_numbers(course):
    _, root = course
    (root / "rgb" / "1.png").write_bytes((root / "rgb" / "0001.png").read_bytes())
    with pytest.raises(ValueError, match="both frame 1"):
        read_course_folder(root)


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((63, 64), np.float32), r"0002\.npy has shape \(63, 64\)"),
        (np.zeros((64, 64), np.int32), r"0002\.npy holds int32"),
        (np.zeros((2, 64, 64), np.float32), r"0002\.npy has shape \(2, 64, 64\)"),
    ],
)
def test_bad_npy_names_the_file(course, array, message):
    _, root = course
    np.save(root / "lidar" / "0002.npy", array)
    with pytest.raises(ValueError, match=message):
        read_course_folder(root)


def test_unreadable_npy_names_the_file(course):
    _, root = course
    (root / "lidar" / "0004.npy").write_bytes(b"not an npy file")
    with pytest.raises(ValueError, match=r"0004\.npy is not a valid \.npy"):
        read_course_folder(root)


@pytest.mark.parametrize(
    "image, message",
    [
        (Image.new("L", (64, 64)), r"0001\.png has PNG mode 'L'"),
        (Image.new("RGBA", (32, 64)), r"0001\.png is 32x64 pixels"),
    ],
)
def test_bad_png_names_the_file(course, image, message):
    _, root = course
    image.save(root / "rgb" / "0001.png")
    with pytest.raises(ValueError, match=message):
        read_course_folder(root)


def test_corrupt_png_and_rgb_png(course):
    frames, root = course
    Image.fromarray(frames.rgba[1, ..., :3]).save(root / "rgb" / "0001.png")  # RGB: gets alpha 255
    back = read_course_folder(root, [1])
    assert np.array_equal(back.rgba[0, ..., :3], frames.rgba[1, ..., :3]) and (back.rgba[0, ..., 3] == 255).all()
    (root / "rgb" / "0006.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(ValueError, match=r"0006\.png is not a readable PNG"):
        read_course_folder(root)


def test_positions_csv_must_match(course):
    _, root = course
    csv = root / "positions.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join(lines[:-2]) + "\n")
    with pytest.raises(ValueError, match=r"positions\.csv has 10 rows but there are 12 frames"):
        read_course_folder(root)
    csv.write_text("\n".join([lines[0]] + [",".join(l.split(",")[:8]) for l in lines[1:]]) + "\n")
    with pytest.raises(ValueError, match=r"positions\.csv has 8 columns"):
        read_course_folder(root)
    csv.unlink()
    with pytest.raises(FileNotFoundError, match=r"positions\.csv"):
        read_course_folder(root)


def test_angle_files_must_match(course):
    _, root = course
    np.save(root / "azimuth.npy", np.zeros(63, np.float32))
    with pytest.raises(ValueError, match=r"azimuth\.npy has shape \(63,\) but must hold 64 angles"):
        read_course_folder(root)
    (root / "zenith.npy").unlink()
    np.save(root / "azimuth.npy", np.zeros(64, np.float32))
    with pytest.raises(FileNotFoundError, match=r"zenith\.npy"):
        read_course_folder(root)


def test_assessment_folder_errors(assessment):
    _, root = assessment
    np.save(root / "spheres" / "zenith.npy", np.linspace(-1, 1, 64).astype(np.float32))
    with pytest.raises(ValueError, match="different azimuth/zenith"):
        read_assessment_folder(root)
    (root / "spheres" / "lidar" / "0000.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"spheres/lidar/0000\.npy is missing"):
        read_assessment_folder(root)
    for path in sorted((root / "spheres").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (root / "spheres").rmdir()
    with pytest.raises(ValueError, match="cubes/ \\+ spheres/"):
        read_folder(root)
    with pytest.raises(FileNotFoundError, match=r"spheres/rgb"):
        read_assessment_folder(root)


def test_sidecar_is_plain_json(course):
    _, root = course
    stored = json.loads((root / "mmzoo.json").read_text())
    assert stored["layout"] == "course" and stored["num_frames"] == 12 and stored["metadata"]["seed"] == 0
