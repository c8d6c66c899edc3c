"""Your own camera + LiDAR data: a folder of files paired by name with a labels file, or arrays in memory.

The folder format (any names for the ids; every id has one file in each of ``rgb/`` and ``lidar/``)::

    my_data/
      rgb/<id>.png        8-bit RGB or RGBA image of any size (every image of the folder in one mode); .jpg too
      lidar/<id>.npy      a float range image (A, Z): rows = azimuth beams, columns = zenith beams, in scene
                          units, 0 or the sensor's no-return value where a beam saw nothing; or (A, Z, 3)
                          organised x, y, z points (each point's range is used)
      labels.csv          a header row: id, then label (a class name) or one or more numeric target columns,
                          and an optional split column (train / val / test)
      labels.jsonl        instead of labels.csv: one JSON object per line with the same keys
      azimuth.npy         optional (A,) angle of each row, radians (default: the course's 0.5-degree grid,
      zenith.npy          which needs A = Z = 64)

A ``label`` column makes a classification task (any number of classes, named by strings); otherwise every
column but ``id`` and ``split`` is a regression target. Without a labels file (``labels=False``) a folder is
read for prediction only. Images are resized (antialiased) and range images shrunk (min-pool or nearest beam,
never interpolated) to the size asked for, see :mod:`mmzoo.data.resize`. Beams at or beyond ``max_range``, or
at exactly 0, become no-return beams holding ``max_range``, as in the course's files. Every bad input is an
error naming the file or the labels file's line (:mod:`mmzoo.errors`).

>>> import numpy as np
>>> frames = frames_from_arrays(np.zeros((2, 32, 32, 3), np.uint8), np.full((2, 64, 64), 9.0, np.float32),
...                             labels=["dog", "cat"], image_size=(64, 64))
>>> frames.rgba.shape, frames.labels.tolist(), frames.class_names
((2, 64, 64, 4), [1, 0], ('cat', 'dog'))
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mmzoo.data.frames import Frames
from mmzoo.data.samples import assemble_frames, frames_from_arrays, prepare_image, prepare_range
from mmzoo.data.sensor import MAX_RANGE
from mmzoo.errors import DataFormatError, LabelsFileError, UnpairedFilesError

__all__ = [
    "IMAGE_SUFFIXES", "LABELS_FILES", "SPLITS", "Labels", "read_labels", "find_labels_file", "pair_files",
    "read_own_folder", "frames_from_arrays", "split_frames",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
LABELS_FILES = ("labels.csv", "labels.jsonl")
SPLITS = ("train", "val", "test")
_RESERVED = ("id", "split")


# ------------------------------------------------------------------------------------------------ labels


@dataclass
class Labels:
    """A labels file's rows: ``ids`` in file order, then class names (``classes``) or ``values`` ``(N, K)`` named
    by ``target_names``, and the ``split`` of each row (None without a split column)."""

    ids: list[str]
    classes: list[str] | None
    values: np.ndarray | None
    target_names: tuple[str, ...]
    split: list[str] | None
    path: Path


def _rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """``(line number, row)`` of a CSV (header first) or JSON-lines file; blank lines are skipped."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix == ".jsonl":
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise LabelsFileError(f"{path} line {number} is not valid JSON ({err.msg}); write one object per "
                                      'line, e.g. {"id": "0001", "label": "cat"}') from None
            if not isinstance(row, dict):
                raise LabelsFileError(f"{path} line {number} is not a JSON object: {line.strip()[:60]}")
            rows.append((number, row))
        return rows
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header:
        raise LabelsFileError(f"{path} is empty; it needs a header row (id,label or id,<target>,...) and one row "
                              "per sample")
    header = [name.strip() for name in header]
    rows = []
    for number, fields in enumerate(reader, 2):
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            raise LabelsFileError(f"{path} line {number} has {len(fields)} fields but the header has {len(header)} "
                                  f"({','.join(header)}); fix the row or the header")
        rows.append((number, dict(zip(header, (f.strip() for f in fields)))))
    return rows


def _columns(path: Path, rows: list[tuple[int, dict[str, Any]]]) -> list[str]:
    if not rows:
        raise LabelsFileError(f"{path} holds no rows; add one row per sample after the header")
    columns = list(rows[0][1])
    if "id" not in columns:
        raise LabelsFileError(f"{path} has no 'id' column (it has {', '.join(columns)}); the id is the file name "
                              "of the sample's rgb/ and lidar/ files without the extension")
    targets = [c for c in columns if c not in _RESERVED]
    if not targets:
        raise LabelsFileError(f"{path} has no target: add a 'label' column (class names) or numeric target columns")
    if "label" in targets and len(targets) > 1:
        raise LabelsFileError(f"{path} has a 'label' column and also {', '.join(c for c in targets if c != 'label')}; "
                              "a labels file is either classes (id,label) or numeric targets (id,<t1>,<t2>,...)")
    return targets


def _number(path: Path, line: int, column: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise LabelsFileError(f"{path} line {line}: {column}={value!r} is not a number; regression targets must "
                              "be numbers (a class name belongs in a 'label' column)") from None
    if not np.isfinite(number):
        raise LabelsFileError(f"{path} line {line}: {column}={value!r} is not finite")
    return number


def read_labels(path: str | Path) -> Labels:
    """Read a labels file (see the module docstring), refusing missing, duplicate and malformed rows by line."""
    path = Path(path)
    rows = _rows(path)
    targets = _columns(path, rows)
    ids: list[str] = []
    seen: dict[str, int] = {}
    classes, values, split = [], [], []
    for line, row in rows:
        if set(row) != set(rows[0][1]):
            raise LabelsFileError(f"{path} line {line} has keys {sorted(row)} but line {rows[0][0]} has "
                                  f"{sorted(rows[0][1])}; every row needs the same keys")
        sample = str(row["id"]).strip() if row["id"] is not None else ""
        if not sample:
            raise LabelsFileError(f"{path} line {line} has an empty id; every row names its sample's files")
        if sample in seen:
            raise LabelsFileError(f"{path} line {line} repeats id {sample!r} of line {seen[sample]}; keep one row "
                                  "per sample")
        seen[sample] = line
        ids.append(sample)
        if targets == ["label"]:
            name = "" if row["label"] is None else str(row["label"]).strip()
            if not name:
                raise LabelsFileError(f"{path} line {line} (id {sample!r}) has no label; give it a class name")
            classes.append(name)
        else:
            values.append([_number(path, line, column, row[column]) for column in targets])
        if "split" in row:
            part = str(row["split"]).strip()
            if part not in SPLITS:
                raise LabelsFileError(f"{path} line {line}: split={part!r}; use one of {', '.join(SPLITS)}")
            split.append(part)
    is_class = targets == ["label"]
    return Labels(ids=ids, classes=classes if is_class else None,
                  values=None if is_class else np.asarray(values, dtype=np.float32),
                  target_names=() if is_class else tuple(targets), split=split if "split" in rows[0][1] else None,
                  path=path)


def find_labels_file(root: str | Path) -> Path | None:
    """``labels.csv`` or ``labels.jsonl`` of ``root`` (None if neither; an error if both)."""
    found = [Path(root) / name for name in LABELS_FILES if (Path(root) / name).is_file()]
    if len(found) > 1:
        raise LabelsFileError(f"{root} holds both {' and '.join(p.name for p in found)}; keep one labels file")
    return found[0] if found else None


# ------------------------------------------------------------------------------------------------- files


def _stems(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    if not folder.is_dir():
        raise UnpairedFilesError(f"missing folder {folder}: an own-data folder holds rgb/<id>.png and "
                                 "lidar/<id>.npy for every sample")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in suffixes or path.name.startswith("."):
            continue
        if path.stem in found:
            raise UnpairedFilesError(f"{found[path.stem]} and {path} are both sample {path.stem!r}; keep one")
        found[path.stem] = path
    return found


def _missing(ids: Sequence[str], where: str) -> str:
    shown = ", ".join(repr(i) for i in list(ids)[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
    return f"{len(ids)} {where}: {shown}"


def pair_files(root: str | Path) -> dict[str, tuple[Path, Path]]:
    """``{id: (image, range image)}`` of ``root/rgb`` and ``root/lidar``, sorted by id; a file without its
    partner is an error naming the ids."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"data folder {root} does not exist")
    images, ranges = _stems(root / "rgb", IMAGE_SUFFIXES), _stems(root / "lidar", (".npy",))
    lonely_images, lonely_ranges = sorted(set(images) - set(ranges)), sorted(set(ranges) - set(images))
    if lonely_images or lonely_ranges:
        parts = [_missing(lonely_images, f"image(s) in {root / 'rgb'} without lidar/<id>.npy")] if lonely_images else []
        if lonely_ranges:
            parts.append(_missing(lonely_ranges, f"range image(s) in {root / 'lidar'} without rgb/<id>.png"))
        raise UnpairedFilesError("; ".join(parts) + "; every sample needs both files under the same name")
    if not images:
        raise UnpairedFilesError(f"{root / 'rgb'} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return {key: (images[key], ranges[key]) for key in sorted(images)}


# ---------------------------------------------------------------------------------------------- reading


def _folder_angles(root: Path) -> tuple[np.ndarray | None, np.ndarray | None]:
    files = [root / "azimuth.npy", root / "zenith.npy"]
    present = [f.is_file() for f in files]
    if present == [False, False]:
        return None, None
    if not all(present):
        raise DataFormatError(f"{root} has {files[present.index(True)].name} but not "
                              f"{files[present.index(False)].name}; give both angle files or neither")
    angles = []
    for path in files:
        try:
            angles.append(np.load(path, allow_pickle=False).astype(np.float32).reshape(-1))
        except (ValueError, OSError) as err:
            raise DataFormatError(f"{path} is not a readable .npy array of angles ({err})") from None
    return angles[0], angles[1]


def read_own_folder(
    path: str | Path,
    *,
    image_size: tuple[int, int] = (64, 64),
    beams: tuple[int, int] | None = None,
    max_range: float = MAX_RANGE,
    class_names: Sequence[str] | None = None,
    labels: bool | None = None,
    azimuth: Any = None,
    zenith: Any = None,
) -> Frames:
    """Read an own-data folder (see the module docstring) into ``Frames`` at ``image_size`` pixels and ``beams``
    (default: ``image_size``) beams.

    Args:
        class_names: the classes in the model's order (unknown names are an error); default: the sorted names.
        labels: True needs the labels file, False ignores it (prediction), None reads it if there is one.
        azimuth, zenith: the beam angles when the folder has no angle files (default: the course's 64x64 grid).

    ``metadata`` holds ``ids`` (the samples' names, labels-file order), ``split`` (per sample or None),
    ``task`` (``classification`` / ``values`` / ``""``), ``target_names``, ``rgb_mode`` and ``alpha_opaque``.
    """
    root = Path(path).expanduser()
    pairs = pair_files(root)
    labels_path = find_labels_file(root) if labels is not False else None
    if labels and labels_path is None:
        raise LabelsFileError(f"{root} has no labels file; add {' or '.join(LABELS_FILES)} (a header row: id,label "
                              "or id,<target>,...; one row per sample)")
    rows = read_labels(labels_path) if labels_path is not None else None
    if rows is not None:
        _check_rows(rows, pairs, root)
    ids = rows.ids if rows is not None else list(pairs)
    found = _folder_angles(root)
    if found[0] is not None:
        azimuth, zenith = found
    size = tuple(beams or image_size)
    images = [prepare_image(pairs[i][0], tuple(image_size), str(pairs[i][0])) for i in ids]
    ranges = [prepare_range(pairs[i][1], size, azimuth, zenith, max_range, str(pairs[i][1])) for i in ids]
    return assemble_frames(
        images, ranges, rows.classes if rows and rows.classes is not None else None,
        rows.values if rows else None, class_names, rows.target_names if rows else None, ids,
        rows.split if rows else None, {"source": str(root.resolve()), "layout": "own"},
        where=str(labels_path))


def _check_rows(rows: Labels, pairs: dict[str, tuple[Path, Path]], root: Path) -> None:
    no_files = [i for i in rows.ids if i not in pairs]
    no_row = sorted(set(pairs) - set(rows.ids))
    if no_files or no_row:
        parts = [_missing(no_files, f"row(s) of {rows.path} without rgb/ and lidar/ files")] if no_files else []
        if no_row:
            parts.append(_missing(no_row, f"sample(s) in {root} without a row in {rows.path.name}"))
        raise UnpairedFilesError("; ".join(parts) + "; every sample needs its two files and one labels row "
                                 "(move unlabelled samples to another folder)")


def split_frames(frames: Frames, val_fraction: float = 0.2, seed: int = 0) -> tuple[Frames, Frames]:
    """``(train, val)``: the labels file's split column if it has one (``test`` rows are in neither), else a
    seeded draw of ``val_fraction`` of the samples (per class for classification, so each class is in both)."""
    split = frames.metadata.get("split")
    ids = np.asarray(frames.metadata.get("ids", [str(i) for i in range(len(frames))]))
    if split is not None:
        split = np.asarray(split)
        train, val = np.flatnonzero(split == "train"), np.flatnonzero(split == "val")
    else:
        rng = np.random.default_rng(seed)
        groups = [np.flatnonzero(frames.labels == c) for c in np.unique(frames.labels)] if frames.labels is not None \
            else [np.arange(len(frames))]
        val = np.sort(np.concatenate([rng.permutation(g)[:max(1, round(len(g) * val_fraction))] for g in groups]))
        train = np.setdiff1d(np.arange(len(frames)), val)
    if not len(train) or not len(val):
        raise LabelsFileError(f"the split gives {len(train)} training and {len(val)} validation samples; both need "
                              "at least one (add rows with split=train / split=val, or more samples)")
    parts = []
    for index in (train, val):
        part = frames.subset(index)
        part.metadata.update(ids=ids[index].tolist(), split=None if split is None else split[index].tolist())
        parts.append(part)
    return parts[0], parts[1]
