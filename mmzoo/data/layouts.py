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
writers add one file of their own, ``mmzoo.json`` (the frames' metadata), which the readers merge back into
``Frames.metadata`` and which the real data simply lacks.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from mmzoo.data import _io
from mmzoo.data.frames import Frames
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
    "write_folder",
    "write_course_folder",
    "write_assessment_folder",
]

LAYOUTS = ("course", "assessment")
CLASS_NAMES = ("cube", "sphere")
CLASS_FOLDERS = ("cubes", "spheres")  # folder of label i
POSITION_COLUMNS = tuple(f"{c}_{a}" for c in ("red", "green", "blue") for a in "xyz")
SIDECAR = "mmzoo.json"


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
    sidecar = root / SIDECAR
    if not sidecar.is_file():
        return {}
    try:
        return dict(json.loads(sidecar.read_text()).get("metadata", {}))
    except (ValueError, AttributeError) as err:
        raise ValueError(f"{sidecar} is not valid JSON written by mmzoo ({err}); delete it or fix it") from err


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


# ------------------------------------------------------------------------------------------------- writing


def _prepare(out: str | Path, subfolders: list[str], overwrite: bool) -> Path:
    """Create ``out`` and its frame subfolders; refuse (or with ``overwrite``, clear) existing frame files."""
    root = Path(out).expanduser()
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"{root} is a file; pass a folder to write the frames into")
    for sub in subfolders:
        folder = root / sub
        if folder.is_dir() and any(folder.iterdir()):
            if not overwrite:
                # Writing over older frames could leave stale higher-numbered files that the reader would pick up.
                raise FileExistsError(f"{folder} already holds files; write to an empty folder or pass overwrite=True")
            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
    return root


def _write_frames(folder: Path, rgba: np.ndarray, depth: np.ndarray, azimuth: np.ndarray, zenith: np.ndarray) -> None:
    for i in range(len(rgba)):
        _io.write_rgba(folder / "rgb" / _io.frame_name(i, ".png"), rgba[i])
        _io.write_depth(folder / "lidar" / _io.frame_name(i, ".npy"), depth[i])
    np.save(folder / "azimuth.npy", np.asarray(azimuth, dtype=np.float32))
    np.save(folder / "zenith.npy", np.asarray(zenith, dtype=np.float32))


def _write_sidecar(root: Path, frames: Frames, layout: str) -> None:
    # Provenance of generated sets (generator, seed, version) survives the round trip through this file.
    keep = {k: v for k, v in frames.metadata.items() if k not in ("source", "layout", "split", "frame_indices")}
    (root / SIDECAR).write_text(_io.dumps({"layout": layout, "num_frames": len(frames), "metadata": keep}) + "\n")


def write_course_folder(frames: Frames, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``frames`` (which need ``positions``) in the course layout under ``out``; returns ``out``.

    Frame ``i`` becomes ``rgb/NNNN.png``, ``lidar/NNNN.npy`` and data row ``i`` of ``positions.csv`` (written
    with 9 significant digits, so float32 values read back exactly). Raises FileExistsError if ``out`` already
    holds frames, unless ``overwrite`` (which replaces ``rgb/`` and ``lidar/``).
    """
    if frames.positions is None:
        raise ValueError("the course layout needs frames.positions (N, 9); labelled frames go in layout='assessment'")
    positions = np.asarray(frames.positions, dtype=np.float32)
    if positions.ndim != 2 or positions.shape[1] != 9:
        raise ValueError(f"frames.positions must be (N, 9) for positions.csv; got {positions.shape}")
    root = _prepare(out, ["rgb", "lidar"], overwrite)
    _write_frames(root, frames.rgba, frames.depth, frames.azimuth, frames.zenith)
    header = ",".join(POSITION_COLUMNS)
    np.savetxt(root / "positions.csv", positions, fmt="%.9g", delimiter=",", header=header, comments="")
    _write_sidecar(root, frames, "course")
    return root


def write_assessment_folder(frames: Frames, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write labelled ``frames`` (cube = 0, sphere = 1) in the assessment layout under ``out``; returns ``out``.

    Each class's frames are numbered from 0000 in their order within ``frames``. Positions, if any, are not
    part of this layout and are not written.
    """
    if frames.labels is None:
        raise ValueError(
            "the assessment layout needs frames.labels (cube = 0, sphere = 1); position sets go in layout='course'"
        )
    if frames.class_names and tuple(frames.class_names) != CLASS_NAMES:
        raise ValueError(
            f"the assessment layout stores classes {CLASS_NAMES}; these frames have {tuple(frames.class_names)}"
        )
    labels = np.asarray(frames.labels)
    unknown = np.setdiff1d(labels, np.arange(len(CLASS_FOLDERS)))
    if unknown.size:
        raise ValueError(f"label {unknown[0]} has no assessment folder; labels must be 0 (cube) or 1 (sphere)")
    counts = np.bincount(labels, minlength=len(CLASS_FOLDERS))
    if not counts.all():
        # The reader needs frames in every class folder (as in the real data), so refuse to write an unreadable one.
        missing = CLASS_NAMES[int(np.argmin(counts))]
        raise ValueError(f"the assessment layout holds both classes but these frames have no {missing!r} frames")
    root = _prepare(out, [f"{name}/{kind}" for name in CLASS_FOLDERS for kind in ("rgb", "lidar")], overwrite)
    for label, name in enumerate(CLASS_FOLDERS):
        pick = labels == label
        _write_frames(root / name, frames.rgba[pick], frames.depth[pick], frames.azimuth, frames.zenith)
    _write_sidecar(root, frames, "assessment")
    return root


def write_folder(frames: Frames, out: str | Path, layout: str | None = None, *, overwrite: bool = False) -> Path:
    """Write ``frames`` under ``out`` in ``layout`` (``"course"`` or ``"assessment"``); returns ``out``.

    By default frames with labels go in the assessment layout and frames with positions in the course layout.
    """
    if layout is None:
        if frames.labels is not None:
            layout = "assessment"
        elif frames.positions is not None:
            layout = "course"
        else:
            raise ValueError("frames have neither labels nor positions; pass layout='course' or 'assessment'")
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose one of {LAYOUTS}")
    writer = write_course_folder if layout == "course" else write_assessment_folder
    return writer(frames, out, overwrite=overwrite)
