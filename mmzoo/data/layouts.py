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
mmzoo wrote.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np

from mmzoo.data import _io
from mmzoo.data.frames import Frames
from mmzoo.data.manifest import FRAME_FILES, MANIFEST_NAME, clear_written, read_manifest, write_manifest
from mmzoo.data.splits import DEFAULT_SEED, Split, class_split, course_split, split_label
from mmzoo.utils.files import folder_lock

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
    "default_layout",
    "frame_counts",
    "FolderWriter",
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


# ------------------------------------------------------------------------------------------------- writing


class FolderWriter:
    """Writes frames into a folder in one of the layouts, chunk after chunk, so no more than a chunk is ever in
    memory (``mmzoo data generate`` streams millions of frames this way).

    Used as a context manager: entering locks the folder (a second writer gets :class:`~mmzoo.errors.BusyError`),
    refuses a non-empty folder or, with ``overwrite``, removes what mmzoo wrote there before (see
    :mod:`mmzoo.data.manifest`), and records the manifest; :meth:`add` appends frames, numbered on from the
    frames already added; leaving without an error records the exact counts and marks the folder complete.

    >>> import tempfile                                                       # doctest: +SKIP
    >>> with FolderWriter(tempfile.mkdtemp(), "assessment", 512) as writer:  # doctest: +SKIP
    ...     for start in (0, 256):
    ...         writer.add(generate("shapes", 256, start=start))
    """

    def __init__(self, out: str | Path, layout: str, max_frames: int, *, overwrite: bool = False) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; choose one of {LAYOUTS}")
        self.root = Path(out).expanduser()
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(f"{self.root} is a file; pass a folder to write the frames into")
        self.layout, self.max_frames, self.overwrite = layout, max_frames, overwrite
        self.folders = [""] if layout == "course" else list(CLASS_FOLDERS)
        self.counts = {folder: 0 for folder in self.folders}
        self.metadata: dict[str, Any] = {}
        self._lock = contextlib.ExitStack()

    def __enter__(self) -> "FolderWriter":
        self._lock.enter_context(folder_lock(self.root, "the data folder"))
        try:
            clear_written(self.root, self.overwrite)
            self._manifest(complete=False)  # the files this write may create, recorded before the first one
        except BaseException:
            self._lock.close()
            raise
        return self

    def __exit__(self, kind, error, traceback) -> None:
        try:
            if kind is None:
                self._manifest(complete=True)
        finally:
            self._lock.close()

    def _files(self) -> list[str]:
        files = [f"{folder}/{name}".lstrip("/") for folder in self.folders for name in ("azimuth.npy", "zenith.npy")]
        return files + (["positions.csv"] if self.layout == "course" else [])

    def _manifest(self, complete: bool) -> None:
        counts = self.counts if complete else {folder: self.max_frames for folder in self.folders}
        write_manifest(self.root, self.layout, dict(counts), self._files(), self.metadata, complete)

    def add(self, frames: Frames) -> None:
        """Append ``frames`` (positions for the course layout, labels cube = 0 / sphere = 1 for the assessment)."""
        if sum(self.counts.values()) + len(frames) > self.max_frames:
            raise ValueError(f"this writer was opened for {self.max_frames} frames; {len(frames)} more do not fit")
        if not self.metadata:
            # Provenance of generated sets (generator, seed, version) survives the round trip through the manifest.
            drop = ("source", "layout", "split", "frame_indices")
            self.metadata = {**{k: v for k, v in frames.metadata.items() if k not in drop}, "start": 0}
        if self.layout == "course":
            self._add_course(frames)
        else:
            self._add_assessment(frames)

    def _add_course(self, frames: Frames) -> None:
        positions = _course_positions(frames)
        csv = self.root / "positions.csv"
        with open(csv, "a" if self.counts[""] else "w") as handle:
            np.savetxt(handle, positions, fmt="%.9g", delimiter=",", comments="",
                       header="" if self.counts[""] else ",".join(POSITION_COLUMNS))
        self._add_frames("", frames.rgba, frames.depth, frames)

    def _add_assessment(self, frames: Frames) -> None:
        labels = _assessment_labels(frames)
        for label, folder in enumerate(CLASS_FOLDERS):
            pick = labels == label
            self._add_frames(folder, frames.rgba[pick], frames.depth[pick], frames)

    def _add_frames(self, folder: str, rgba: np.ndarray, depth: np.ndarray, frames: Frames) -> None:
        root, first = self.root / folder, self.counts[folder]
        if first == 0:
            for sub, _ in FRAME_FILES:
                (root / sub).mkdir(parents=True, exist_ok=True)
            np.save(root / "azimuth.npy", np.asarray(frames.azimuth, dtype=np.float32))
            np.save(root / "zenith.npy", np.asarray(frames.zenith, dtype=np.float32))
        for i in range(len(rgba)):
            _io.write_rgba(root / "rgb" / _io.frame_name(first + i, ".png"), rgba[i])
            _io.write_depth(root / "lidar" / _io.frame_name(first + i, ".npy"), depth[i])
        self.counts[folder] = first + len(rgba)


def _course_positions(frames: Frames) -> np.ndarray:
    if frames.positions is None:
        raise ValueError("the course layout needs frames.positions (N, 9); labelled frames go in layout='assessment'")
    positions = np.asarray(frames.positions, dtype=np.float32)
    if positions.ndim != 2 or positions.shape[1] != 9:
        raise ValueError(f"frames.positions must be (N, 9) for positions.csv; got {positions.shape}")
    return positions


def _assessment_labels(frames: Frames) -> np.ndarray:
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
    return labels


def default_layout(frames: Frames) -> str:
    """The layout ``frames`` go in by default: assessment for labelled frames, course for positions."""
    if frames.labels is not None:
        return "assessment"
    if frames.positions is not None:
        return "course"
    raise ValueError("frames have neither labels nor positions; pass layout='course' or 'assessment'")


def write_course_folder(frames: Frames, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``frames`` (which need ``positions``) in the course layout under ``out``; returns ``out``.

    Frame ``i`` becomes ``rgb/NNNN.png``, ``lidar/NNNN.npy`` and data row ``i`` of ``positions.csv`` (written
    with 9 significant digits, so float32 values read back exactly). Raises FileExistsError if ``out`` is not
    empty; ``overwrite`` replaces a dataset mmzoo wrote there (and refuses a folder holding anything else).
    """
    return write_folder(frames, out, "course", overwrite=overwrite)


def write_assessment_folder(frames: Frames, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write labelled ``frames`` (cube = 0, sphere = 1) in the assessment layout under ``out``; returns ``out``.

    Each class's frames are numbered from 0000 in their order within ``frames``. Positions, if any, are not
    part of this layout and are not written.
    """
    return write_folder(frames, out, "assessment", overwrite=overwrite)


def write_folder(frames: Frames, out: str | Path, layout: str | None = None, *, overwrite: bool = False) -> Path:
    """Write ``frames`` under ``out`` in ``layout`` (``"course"`` or ``"assessment"``); returns ``out``.

    By default frames with labels go in the assessment layout and frames with positions in the course layout.
    The folder must be empty; ``overwrite`` replaces a dataset mmzoo wrote there and refuses anything else.
    """
    layout = layout or default_layout(frames)
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose one of {LAYOUTS}")
    if layout == "assessment":
        counts = np.bincount(_assessment_labels(frames), minlength=len(CLASS_FOLDERS))
        if not counts.all():
            # The reader needs frames in every class folder (as in the real data): refuse to write an unreadable one.
            missing = CLASS_NAMES[int(np.argmin(counts))]
            raise ValueError(f"the assessment layout holds both classes but these frames have no {missing!r} frames")
    else:
        _course_positions(frames)  # checked before the folder is touched
    with FolderWriter(out, layout, len(frames), overwrite=overwrite) as writer:
        writer.add(frames)
    return writer.root


def frame_counts(path: str | Path) -> dict[str, int]:
    """How many frames each frame folder of a course / assessment folder holds, without reading any frame:
    ``{"": n}`` for the course layout, ``{"cubes": n, "spheres": m}`` for the assessment layout."""
    root = _existing_dir(path)
    folders = [""] if detect_layout(root) == "course" else list(CLASS_FOLDERS)
    return {folder: len(_paired_files(root / folder)[0]) for folder in folders}
