"""Read the assignment's grouped FiftyOne dataset (the cube-vs-sphere subset on the Hugging Face Hub) into ``Frames``.

FiftyOne is an optional extra (``pip install "mmzoo[fiftyone]"``) and is imported only to load a dataset by
name. A dataset object is used through this small part of the FiftyOne API, so anything providing it works
(the tests use a plain fake):

- ``dataset.select_group_slices(name)`` -> a view of one group slice (``"rgb"`` and ``"lidar"`` here);
- ``view.values(field)`` -> one value per sample, for ``"filepath"``, ``"group.id"``, ``"tags"`` and the label
  field (a ``Classification``, whose ``.label`` is read, or a plain string);
- ``dataset.info`` -> a dict with per-class angle arrays, ``azimuth_cubes``, ``zenith_cubes``,
  ``azimuth_spheres``, ``zenith_spheres`` (``{cube,cubes}_azimuth`` / nested ``info["cubes"]["azimuth"]`` too).

The rgb slice's samples carry the label (``cube``/``sphere``) and the split tags (``train``/``val``); each is
paired with the lidar sample of its group, whose file is the ``.npy`` depth map.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mmzoo.data import _io
from mmzoo.data.frames import Frames
from mmzoo.data.layouts import CLASS_FOLDERS, CLASS_NAMES
from mmzoo.data.splits import Split, split_label

__all__ = ["read_fiftyone_dataset"]

_INSTALL_HINT = 'reading a FiftyOne dataset by name needs FiftyOne: pip install "mmzoo[fiftyone]"'


def _load_by_name(name: str) -> Any:
    try:
        import fiftyone as fo  # optional extra: imported only here
    except ImportError as err:
        raise ImportError(_INSTALL_HINT) from err
    if not fo.dataset_exists(name):
        raise FileNotFoundError(
            f"no FiftyOne dataset named {name!r}; load it first (e.g. fiftyone.utils.huggingface.load_from_hub) "
            "and pass the dataset object"
        )
    return fo.load_dataset(name)


def _label_text(value: Any) -> Any:
    """The class name in a label field value: a Classification's ``.label``, a dict's ``"label"``, or the value."""
    if hasattr(value, "label"):
        return value.label
    if isinstance(value, dict):
        return value.get("label")
    return value


def _class_angles(info: dict, index: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    folder = CLASS_FOLDERS[index]
    found = []
    for kind in ("azimuth", "zenith"):
        candidates = [f"{kind}_{folder}", f"{kind}_{name}", f"{folder}_{kind}", f"{name}_{kind}"]
        value = next((info[k] for k in candidates if k in info), None)
        if value is None:
            nested = info.get(folder, info.get(name))
            value = nested.get(kind) if isinstance(nested, dict) else info.get(kind)
        if value is None:
            raise ValueError(
                f"dataset.info has no {kind} angles for class {name!r}: expected key {candidates[0]!r} "
                f"(or {candidates[2]!r}, or a shared {kind!r}); it has {sorted(info)}"
            )
        array = np.asarray(value, dtype=np.float32).reshape(-1)
        found.append(array)
    return found[0], found[1]


def _select(split: Split, tags: Sequence[Sequence[str]]) -> np.ndarray:
    n = len(tags)
    if split is None or (isinstance(split, str) and split == "all"):
        return np.arange(n, dtype=np.int64)
    if isinstance(split, str):
        if split not in ("train", "val"):
            raise ValueError(f"unknown split {split!r}; use 'train', 'val', 'all'/None or a list of sample indices")
        index = np.array([i for i, t in enumerate(tags) if split in (t or ())], dtype=np.int64)
        if index.size == 0:
            raise ValueError(f"no rgb sample is tagged {split!r}; the dataset's split tags must be 'train' / 'val'")
        return index
    index = np.asarray(split)
    if index.dtype == bool:
        return np.flatnonzero(index).astype(np.int64)
    if index.size and (index.min() < 0 or index.max() >= n):
        raise ValueError(f"split index out of range: the dataset has {n} groups (0..{n - 1})")
    return index.astype(np.int64).reshape(-1)


def read_fiftyone_dataset(
    dataset: Any,
    split: Split = None,
    *,
    rgb_slice: str = "rgb",
    lidar_slice: str = "lidar",
    label_field: str = "label",
) -> Frames:
    """Read a grouped FiftyOne dataset with rgb (``.png``) and lidar (``.npy``) slices into labelled ``Frames``.

    Args:
        dataset: a FiftyOne dataset or view (anything with the surface in the module docstring), or the name of
            a dataset in the local FiftyOne database (needs ``pip install "mmzoo[fiftyone]"``).
        split: ``"train"`` / ``"val"`` (the samples' tags), None/``"all"``, or indices into the rgb slice's order.
        rgb_slice, lidar_slice: the group slice names.
        label_field: the field holding ``cube`` / ``sphere``.

    Labels are cube = 0, sphere = 1. ``metadata`` records ``source`` (the dataset name), ``layout="fiftyone"``,
    ``split`` and ``frame_indices`` (positions in the rgb slice).
    """
    if isinstance(dataset, str):
        dataset = _load_by_name(dataset)
    rgb_view = dataset.select_group_slices(rgb_slice)
    lidar_view = dataset.select_group_slices(lidar_slice)
    rgb_paths = list(rgb_view.values("filepath"))
    groups = list(rgb_view.values("group.id"))
    tags = list(rgb_view.values("tags"))
    labels_text = [_label_text(v) for v in rgb_view.values(label_field)]
    lidar_by_group = dict(zip(lidar_view.values("group.id"), lidar_view.values("filepath"), strict=True))
    if not rgb_paths:
        raise ValueError(f"the dataset's {rgb_slice!r} slice is empty; is it the grouped rgb/lidar dataset?")

    index = _select(split, tags)
    labels, lidar_paths = _labels_and_lidar(index, labels_text, rgb_paths, groups, lidar_by_group,
                                            label_field, lidar_slice)
    azimuth, zenith = _sensor_angles(dataset)
    depth = _io.read_depth_stack(lidar_paths)
    if len(index) and depth.shape[1:] != (len(azimuth), len(zenith)):
        raise ValueError(
            f"{lidar_paths[0]} is {depth.shape[1:]} but dataset.info has {len(azimuth)} azimuth and "
            f"{len(zenith)} zenith angles"
        )
    return Frames(
        rgba=_io.read_rgba_stack([Path(rgb_paths[i]) for i in index]),
        depth=depth.reshape(len(index), len(azimuth), len(zenith)),
        azimuth=azimuth,
        zenith=zenith,
        labels=labels,
        class_names=CLASS_NAMES,
        metadata={
            "source": str(getattr(dataset, "name", "fiftyone dataset")),
            "layout": "fiftyone",
            "split": split_label(split),
            "frame_indices": index,
        },
    )


def _labels_and_lidar(index, labels_text, rgb_paths, groups, lidar_by_group, label_field: str,
                      lidar_slice: str) -> tuple[np.ndarray, list[Path]]:
    """Class labels of the selected rgb samples and the depth file of each one's group, checked."""
    names = {name: i for i, name in enumerate(CLASS_NAMES)}
    names.update({folder: i for i, folder in enumerate(CLASS_FOLDERS)})  # tolerate "cubes" / "spheres"
    labels = np.empty(len(index), dtype=np.int64)
    lidar_paths = []
    for k, i in enumerate(index):
        text = labels_text[i]
        if text not in names:
            raise ValueError(f"{rgb_paths[i]} has {label_field}={text!r}; expected one of {CLASS_NAMES}")
        labels[k] = names[text]
        lidar = lidar_by_group.get(groups[i])
        if lidar is None:
            raise FileNotFoundError(f"{rgb_paths[i]} has no {lidar_slice!r} sample in its group {groups[i]!r}")
        if not str(lidar).lower().endswith(".npy"):
            raise ValueError(f"{lidar} is not a .npy depth map; the {lidar_slice!r} slice must point to .npy files")
        lidar_paths.append(Path(lidar))
    return labels, lidar_paths


def _sensor_angles(dataset: Any) -> tuple[np.ndarray, np.ndarray]:
    """The one sensor geometry (azimuth, zenith) that ``dataset.info`` records for both classes."""
    info = dict(getattr(dataset, "info", None) or {})
    angles = [_class_angles(info, i, name) for i, name in enumerate(CLASS_NAMES)]
    azimuth, zenith = angles[0]
    if not all(a.shape == azimuth.shape and z.shape == zenith.shape and np.allclose(a, azimuth, atol=1e-6)
               and np.allclose(z, zenith, atol=1e-6) for a, z in angles[1:]):
        raise ValueError("dataset.info holds different angles for cubes and spheres; mmzoo needs one sensor geometry")
    return azimuth, zenith
