"""The real data's on-disk folder layouts: read them into ``Frames`` and write ``Frames`` out in them.

Course layout (position regression, 9 targets per frame)::

    root/rgb/NNNN.png        8-bit RGBA camera image
    root/lidar/NNNN.npy      float32 (64, 64) depth map, rows = azimuth beam, columns = zenith beam
    root/azimuth.npy         (64,) angles in radians, shared by every frame
    root/zenith.npy          (64,)
    root/positions.csv       one header row, then 9 numbers per frame (frame i on data row i)
    root/distance/NNNN.npy   present in the three-shape set; unused and ignored

Assessment layout (cube vs sphere classification; label cube = 0, sphere = 1)::

    root/cubes/{rgb,lidar}/NNNN.{png,npy}    root/cubes/{azimuth,zenith}.npy
    root/spheres/{rgb,lidar}/NNNN.{png,npy}  root/spheres/{azimuth,zenith}.npy

``NNNN`` is the frame number zero-padded to 4 digits, from 0000 without gaps. The readers select a split
before touching any frame file (see :mod:`mmzoo.data.splits`), so reading the validation part is cheap. The
writers add one file of their own, ``mmzoo.json`` (the frames' metadata and a manifest of what was written, see
:mod:`mmzoo.data.manifest`), which the readers merge back into ``Frames.metadata`` and which the real data
simply lacks. Writers stream (:class:`FolderWriter`), lock the folder while they write, and overwrite only what
mmzoo wrote. The writers live in :mod:`mmzoo.data.writers`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mmzoo.data import _io
from mmzoo.data.frames import Frames
from mmzoo.data.manifest import MANIFEST_NAME, read_manifest
from mmzoo.data.splits import DEFAULT_SEED, Split, class_split, course_split, split_label

__all__ = [
    "LAYOUTS",
    "CLASS_NAMES",
    "CLASS_FOLDERS",
    "POSITION_COLUMNS",
    "detect_layout",
    "read_folder",
    "read_course_folder",
    "read_assessment_folder",
    "frame_counts",
]

LAYOUTS = ("course", "assessment")
CLASS_NAMES = ("cube", "sphere")
CLASS_FOLDERS = ("cubes", "spheres")  # folder of label i
POSITION_COLUMNS = tuple(f"{c}_{a}" for c in ("red", "green", "blue") for a in "xyz")
SIDECAR = MANIFEST_NAME  # the folder's manifest: metadata and what mmzoo wrote (see mmzoo.data.manifest)


# ----------------------------------------------------------------------------------------------- detection


def _existing_dir(path: str | Path) -> Path:
    root = Path(path).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"data folder {root} does not exist")
    if not root.is_dir():
        raise NotADirectoryError(
            f"{root} is a file; pass the data folder that holds rgb/ and lidar/ (or cubes/ and spheres/)"
        )
    return root


def detect_layout(path: str | Path) -> str:
    """``"course"`` if ``path`` holds ``rgb/`` and ``lidar/``, ``"assessment"`` if it holds ``cubes/`` and ``spheres/``.

    Raises FileNotFoundError for a missing or empty folder and ValueError for a folder that is neither.
    """
    root = _existing_dir(path)
    has = lambda name: (root / name).is_dir()  # noqa: E731
    course = has("rgb") and has("lidar")
    assessment = all(has(name) for name in CLASS_FOLDERS)
    if course and not assessment:
        return "course"
    if assessment and not course:
        return "assessment"
    expected = "expected rgb/ + lidar/ (course layout) or cubes/ + spheres/ (assessment layout)"
    if course and assessment:
        raise ValueError(f"{root} holds both rgb/+lidar/ and cubes/+spheres/; {expected}, not both")
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())
    if not entries:
        raise FileNotFoundError(f"data folder {root} is empty; {expected}")
    shown = ", ".join(entries[:8]) + (", ..." if len(entries) > 8 else "")
    raise ValueError(f"{root} is neither data layout: it holds {shown}; {expected}")


# ------------------------------------------------------------------------------------------------- reading


def _paired_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """rgb and lidar frame files of ``folder``, checked to be the same frames."""
    rgb = _io.frame_files(folder / "rgb", ".png")
    lidar = _io.frame_files(folder / "lidar", ".npy")
    if len(rgb) != len(lidar):  # both are gap-free from 0, so the shorter one lacks the longer one's tail
        if len(rgb) > len(lidar):
            longer, shorter, ext = rgb, folder / "lidar", ".npy"
        else:
            longer, shorter, ext = lidar, folder / "rgb", ".png"
        raise FileNotFoundError(
            f"{shorter / _io.frame_name(min(len(rgb), len(lidar)), ext)} is missing: {folder} has {len(rgb)} rgb "
            f"and {len(lidar)} lidar frames, but every {longer[-1].parent.name}/ frame needs its partner"
        )
    return rgb, lidar


def _angles(folder: Path, first_lidar: Path) -> tuple[np.ndarray, np.ndarray]:
    """azimuth.npy / zenith.npy of ``folder``, checked against the depth map shape of ``first_lidar``."""
    shape = _io.read_depth_stack([first_lidar]).shape[1:]
    azimuth = _io.read_angles(folder / "azimuth.npy", shape[0], f"azimuth row of {first_lidar} {shape}")
    zenith = _io.read_angles(folder / "zenith.npy", shape[1], f"zenith column of {first_lidar} {shape}")
    return azimuth, zenith


def _read_positions(path: Path, num_frames: int) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"missing {path}: the course layout needs a header row and 9 numbers per frame")
    try:
        values = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    except ValueError as err:
        raise ValueError(f"{path} must be comma-separated numbers after one header row: {err}") from err
    if values.shape[1] == 10 and np.array_equal(values[:, 0], np.arange(len(values))):
        values = values[:, 1:]  # a pandas-style index column: tolerate it
    if values.shape[1] != 9:
        raise ValueError(f"{path} has {values.shape[1]} columns; expected 9 (x, y, z of the red, green and blue cube)")
    if len(values) != num_frames:
        raise ValueError(
            f"{path} has {len(values)} rows but there are {num_frames} frames; it needs one row per frame "
            "(after the header), in frame order"
        )
    return values.astype(np.float32)


def _stored_metadata(root: Path) -> dict[str, Any]:
    manifest = read_manifest(root)
    if manifest is None:
        return {}
    if manifest.get("complete") is False:
        raise ValueError(f"{root} was not finished writing (its {MANIFEST_NAME} says so: the write was interrupted "
                         "or is still running); generate it again with --overwrite")
    return dict(manifest.get("metadata", {}))


def _metadata(root: Path, layout: str, split: Split, index: np.ndarray) -> dict[str, Any]:
    meta = _stored_metadata(root)
    meta.update(source=str(root.resolve()), layout=layout, split=split_label(split), frame_indices=index)
    return meta


def _read_stacks(
    rgb: list[Path], lidar: list[Path], index: np.ndarray, azimuth: np.ndarray, zenith: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The selected frames' images and depth maps; only the files of ``index`` are opened."""
    rgba = _io.read_rgba_stack([rgb[i] for i in index])
    depth = _io.read_depth_stack([lidar[i] for i in index]).reshape(len(index), len(azimuth), len(zenith))
    return rgba, depth


def read_course_folder(path: str | Path, split: Split = None, *, val_count: int | None = None) -> Frames:
    """Read a course-layout folder (see the module docstring) into ``Frames`` with ``positions``.

    Args:
        path: the folder holding ``rgb/``, ``lidar/``, ``azimuth.npy``, ``zenith.npy`` and ``positions.csv``.
        split: ``"train"``, ``"val"``, None/``"all"``, or frame indices (see :func:`mmzoo.data.splits.course_split`;
            by default the last 320 of 9,999 frames, or the same proportion of other sizes, are validation).
        val_count: number of trailing validation frames, overriding the proportional default.

    ``metadata`` records ``source``, ``layout="course"``, ``split`` and ``frame_indices`` (frame numbers read).
    """
    root = _existing_dir(path)
    rgb, lidar = _paired_files(root)
    positions = _read_positions(root / "positions.csv", len(rgb))
    azimuth, zenith = _angles(root, lidar[0])
    index = course_split(len(rgb), split, val_count)
    rgba, depth = _read_stacks(rgb, lidar, index, azimuth, zenith)
    return Frames(
        rgba=rgba,
        depth=depth,
        azimuth=azimuth,
        zenith=zenith,
        positions=positions[index],
        metadata=_metadata(root, "course", split, index),
    )


def read_assessment_folder(
    path: str | Path,
    split: Split = None,
    *,
    seed: int = DEFAULT_SEED,
    val_fraction: float = 0.2,
    per_class: int | None = None,
) -> Frames:
    """Read an assessment-layout folder into ``Frames`` with ``labels`` (cube = 0, sphere = 1).

    Frames are ordered cubes first, then spheres, each by frame number; index-array splits refer to that order.

    Args:
        path: the folder holding ``cubes/`` and ``spheres/``.
        split: ``"train"``, ``"val"``, None/``"all"`` or frame indices; the named splits are a seeded 80/20
            split per class (see :func:`mmzoo.data.splits.class_split`).
        seed: seed of the split (and of the ``per_class`` draw); the same seed gives the same frames.
        val_fraction: validation share of each class.
        per_class: draw this many frames per class before splitting (the notebook used 1,000 of 9,999).
    """
    root = _existing_dir(path)
    files = [_paired_files(root / name) for name in CLASS_FOLDERS]
    angles = [_angles(root / name, lidar[0]) for name, (_, lidar) in zip(CLASS_FOLDERS, files)]
    for (az, ze), name in zip(angles[1:], CLASS_FOLDERS[1:]):
        if az.shape != angles[0][0].shape or ze.shape != angles[0][1].shape or not (
            np.allclose(az, angles[0][0], atol=1e-6) and np.allclose(ze, angles[0][1], atol=1e-6)
        ):
            raise ValueError(
                f"{root / name} has different azimuth/zenith angles from {root / CLASS_FOLDERS[0]}; mmzoo needs one "
                "sensor geometry per dataset (read the classes separately if they truly differ)"
            )
    sizes = [len(rgb) for rgb, _ in files]
    index = class_split(sizes, split, seed=seed, val_fraction=val_fraction, per_class=per_class)
    all_rgb = [p for rgb, _ in files for p in rgb]
    all_lidar = [p for _, lidar in files for p in lidar]
    labels = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    azimuth, zenith = angles[0]
    meta = _metadata(root, "assessment", split, index)
    if isinstance(split, str) and split != "all":
        meta.update(seed=seed, val_fraction=val_fraction, per_class=per_class)
    rgba, depth = _read_stacks(all_rgb, all_lidar, index, azimuth, zenith)
    return Frames(
        rgba=rgba,
        depth=depth,
        azimuth=azimuth,
        zenith=zenith,
        labels=labels[index],
        class_names=CLASS_NAMES,
        metadata=meta,
    )


def read_folder(path: str | Path, split: Split = None, **kwargs: Any) -> Frames:
    """Read a course or assessment folder, detecting which (:func:`detect_layout`); ``kwargs`` go to its reader."""
    layout = detect_layout(path)
    reader = read_course_folder if layout == "course" else read_assessment_folder
    return reader(path, split, **kwargs)


def frame_counts(path: str | Path) -> dict[str, int]:
    """How many frames each frame folder of a course / assessment folder holds, without reading any frame:
    ``{"": n}`` for the course layout, ``{"cubes": n, "spheres": m}`` for the assessment layout."""
    root = _existing_dir(path)
    folders = [""] if detect_layout(root) == "course" else list(CLASS_FOLDERS)
    return {folder: len(_paired_files(root / folder)[0]) for folder in folders}
