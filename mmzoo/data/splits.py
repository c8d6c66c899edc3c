"""Train / validation splits of the real data, as frame index arrays.

Two rules, one per source notebook:

- **Course (position regression)**: the last frames are validation. The course's 9,999-frame sets use frames
  0..9678 for training and 9679..9998 (320 frames) for validation. For a folder of ``n`` frames the validation
  part keeps the same proportion: the last ``round(n * 320 / 9999)`` frames, at least 1 and at most ``n - 1``
  (so both parts are non-empty whenever ``n >= 2``); ``val_count`` overrides the count. The split is
  contiguous, like the course's, so a sequence's neighbouring frames do not straddle it.
- **Assessment (cube vs sphere classification)**: per class, a seeded random 80/20 split (1,000 frames per
  class -> 800 train / 200 val), optionally after drawing ``per_class`` frames of each class (the notebook drew
  1,000 of the 9,999 per class). The same seed always gives the same split, and train/val never overlap.

Every function also accepts ``split`` as a user-given index array/list (or boolean mask) into the layout's
frame order, and ``None`` (or ``"all"``) for every frame. Returned indices are int64 arrays, sorted for the
named splits and in the given order for user-given indices.
"""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np

__all__ = [
    "SPLITS",
    "COURSE_FRAMES",
    "COURSE_VAL_FRAMES",
    "ASSESSMENT_VAL_FRACTION",
    "DEFAULT_SEED",
    "Split",
    "course_val_count",
    "course_split",
    "class_split",
    "split_label",
]

SPLITS = ("train", "val")
COURSE_FRAMES = 9999
COURSE_VAL_FRAMES = 320
ASSESSMENT_VAL_FRACTION = 0.2
DEFAULT_SEED = 51  # the assignment notebook's seed

# A split name, None/"all" for every frame, or explicit frame indices (or a boolean mask).
Split = Union[str, None, Sequence[int], np.ndarray]


def course_val_count(num_frames: int) -> int:
    """How many trailing frames are validation in a course folder of ``num_frames`` frames (320 of 9,999)."""
    if num_frames < 2:
        return 0
    count = int(round(num_frames * COURSE_VAL_FRAMES / COURSE_FRAMES))
    return min(max(count, 1), num_frames - 1)


def _explicit(split: Sequence[int] | np.ndarray, num_frames: int) -> np.ndarray:
    index = np.asarray(split)
    if index.dtype == bool:
        if index.shape != (num_frames,):
            raise ValueError(f"a boolean split mask must have one entry per frame ({num_frames}); got {index.shape}")
        return np.flatnonzero(index).astype(np.int64)
    if index.size == 0:
        return np.empty(0, dtype=np.int64)
    if index.ndim != 1 or index.dtype.kind not in "iu":
        raise ValueError(
            f"split must be 'train', 'val', None or a 1-D list of integer frame indices; got {index.dtype} "
            f"array of shape {index.shape}"
        )
    bad = index[(index < 0) | (index >= num_frames)]
    if bad.size:
        raise ValueError(
            f"split index {int(bad[0])} is out of range: the folder has {num_frames} frames (0..{num_frames - 1})"
        )
    return index.astype(np.int64)


def _check_name(split: str) -> None:
    if split not in SPLITS and split != "all":
        raise ValueError(f"unknown split {split!r}; use 'train', 'val', 'all'/None or a list of frame indices")


def course_split(num_frames: int, split: Split = None, val_count: int | None = None) -> np.ndarray:
    """Frame indices of ``split`` in a course folder of ``num_frames`` frames (see the module docstring).

    >>> len(course_split(9999, "train")), course_split(9999, "val")[[0, -1]].tolist()
    (9679, [9679, 9998])
    """
    if split is None or (isinstance(split, str) and split == "all"):
        return np.arange(num_frames, dtype=np.int64)
    if not isinstance(split, str):
        return _explicit(split, num_frames)
    _check_name(split)
    if val_count is None:
        val_count = course_val_count(num_frames)
    elif not 0 <= val_count <= num_frames:
        raise ValueError(f"val_count={val_count} must be between 0 and the number of frames ({num_frames})")
    first_val = num_frames - val_count
    if split == "train":
        return np.arange(first_val, dtype=np.int64)
    return np.arange(first_val, num_frames, dtype=np.int64)


def class_split(
    class_sizes: Sequence[int],
    split: Split = None,
    seed: int = DEFAULT_SEED,
    val_fraction: float = ASSESSMENT_VAL_FRACTION,
    per_class: int | None = None,
) -> np.ndarray:
    """Indices of ``split`` in frames stored class after class (``class_sizes[0]`` frames of class 0 first).

    Per class, one ``np.random.default_rng(seed)`` (shared, classes in order) permutes the class's frames;
    the first ``per_class`` of the permutation are kept (all if None), and of those the first
    ``round(kept * val_fraction)`` are validation, the rest training.

    >>> [len(class_split([1000, 1000], s)) for s in ("train", "val")]
    [1600, 400]
    """
    total = int(sum(class_sizes))
    if split is not None and not isinstance(split, str):
        return _explicit(split, total)
    if split is not None:
        _check_name(split)
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction={val_fraction} must be in [0, 1)")
    if per_class is not None and per_class < 1:
        raise ValueError(f"per_class={per_class} must be a positive number of frames")
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = []
    start = 0
    for size in class_sizes:
        order = rng.permutation(size)
        if per_class is not None:
            if per_class > size:
                raise ValueError(f"per_class={per_class} but a class has only {size} frames")
            order = order[:per_class]
        num_val = int(round(len(order) * val_fraction))
        if split == "val":
            order = order[:num_val]
        elif split == "train":
            order = order[num_val:]
        parts.append(start + np.sort(order))
        start += size
    return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, dtype=np.int64)


def split_label(split: Split) -> str | None:
    """How a split is recorded in ``Frames.metadata["split"]``: its name, None for all frames, or "indices"."""
    if split is None or isinstance(split, str):
        return None if split in (None, "all") else split
    return "indices"
