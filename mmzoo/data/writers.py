"""Writing ``Frames`` out in the real data's folder layouts (see :mod:`mmzoo.data.layouts` for the layouts and
the readers), streamed chunk by chunk, under the folder's lock, overwriting only what mmzoo wrote.

>>> import tempfile
>>> from mmzoo.data import generate
>>> root = write_folder(generate("shapes", 4, seed=0), tempfile.mkdtemp() + "/shapes")
>>> sorted(p.name for p in root.iterdir() if not p.name.startswith("."))
['cubes', 'mmzoo.json', 'spheres']
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np

from mmzoo.data import _io
from mmzoo.data.frames import Frames
from mmzoo.data.layouts import CLASS_FOLDERS, CLASS_NAMES, LAYOUTS, POSITION_COLUMNS
from mmzoo.data.manifest import FRAME_FILES, clear_written, write_manifest
from mmzoo.utils.files import folder_lock

__all__ = ["FolderWriter", "default_layout", "write_folder", "write_course_folder", "write_assessment_folder"]


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
