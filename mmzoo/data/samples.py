"""One camera image and one range image, checked and brought to a model's size; many of them as ``Frames``.

The own-data folder reader (:mod:`mmzoo.data.own`), arrays in memory (:func:`frames_from_arrays`) and a single
sample at predict time all go through :func:`prepare_image` and :func:`prepare_range`, so the three give the same
values for the same input.

>>> import numpy as np
>>> image, mode = prepare_image(np.zeros((48, 80, 3), np.uint8), (64, 64))
>>> image.shape, mode, int(image[0, 0, 3])
((64, 64, 4), 'RGB', 255)
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from mmzoo.data.frames import Frames
from mmzoo.data.resize import resize_image, resize_range
from mmzoo.data.sensor import AZIMUTH, MAX_RANGE, ZENITH
from mmzoo.errors import DataFormatError, UnknownClassError

__all__ = ["prepare_image", "prepare_range", "default_angles", "class_indices", "frames_from_arrays", "assemble_frames"]

# Pillow 9 opens a 16-bit PNG as mode "I", later releases as "I;16": "I" names both depths.
_MODES = {"L": "greyscale", "LA": "greyscale with alpha", "1": "1-bit", "P": "palette", "I;16": "16-bit",
          "I;16B": "16-bit", "I;16L": "16-bit", "I;16N": "16-bit", "I": "16- or 32-bit integer",
          "F": "32-bit float", "CMYK": "CMYK", "YCbCr": "YCbCr"}
_CONVERT = "convert it to 8-bit RGB or RGBA first, e.g. Image.open(p).convert('RGB').save(p)"


def _as_array(image: Any, what: str) -> tuple[np.ndarray, str]:
    """``(H, W, C)`` uint8 and its mode (``"RGB"`` / ``"RGBA"``) of a path, a PIL image or an array."""
    if isinstance(image, (str, Path)):
        try:
            with Image.open(image) as opened:
                opened.load()
                return _as_array(opened, what)
        except (UnidentifiedImageError, OSError) as err:
            if isinstance(err, FileNotFoundError):
                raise
            raise DataFormatError(f"{what} is not a readable image ({err})") from None
    if isinstance(image, Image.Image):
        if image.mode not in ("RGB", "RGBA"):
            kind = _MODES.get(image.mode, f"mode {image.mode!r}")
            raise DataFormatError(f"{what} is a {kind} image; mmzoo's models read 8-bit RGB or RGBA: {_CONVERT}")
        return np.asarray(image), image.mode
    array = image.numpy() if hasattr(image, "numpy") and not isinstance(image, np.ndarray) else np.asarray(image)
    if array.dtype != np.uint8:
        raise DataFormatError(f"{what} is a {array.dtype} array; images must be 8-bit (uint8, 0..255) with channels "
                              "last (H, W, 3 or 4); convert, e.g. (x * 255).round().astype(np.uint8)")
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise DataFormatError(f"{what} has shape {array.shape}; images are (H, W, 3) RGB or (H, W, 4) RGBA, "
                              "channels last (greyscale images are not accepted: the models read colour)")
    return array, "RGBA" if array.shape[-1] == 4 else "RGB"


def prepare_image(image: Any, size: tuple[int, int], what: str = "image") -> tuple[np.ndarray, str]:
    """``(H, W, 4)`` uint8 RGBA at ``size`` and the source's mode from a path, PIL image or ``(H, W, C)`` array.

    8-bit RGB gets an opaque alpha (255), as the course's PNGs have everywhere. Greyscale, palette, 16-bit and
    other modes are refused with how to convert them. Resizing is antialiased (:func:`resize_image`).
    """
    array, mode = _as_array(image, what)
    array = resize_image(array, size)
    if mode == "RGB":
        array = np.concatenate([array, np.full((*array.shape[:2], 1), 255, np.uint8)], axis=-1)
    return np.ascontiguousarray(array), mode


def default_angles(shape: tuple[int, int], what: str) -> tuple[np.ndarray, np.ndarray]:
    """The course's 0.5-degree beam grid for a 64x64 range image; other shapes need their own angle files."""
    if tuple(shape) != (len(AZIMUTH), len(ZENITH)):
        raise DataFormatError(f"{what} has {shape[0]}x{shape[1]} beams, so the course's 64x64 beam grid does not "
                              "apply; give the angles of its rows and columns (azimuth.npy and zenith.npy in the "
                              "folder, or azimuth= / zenith=), in radians")
    return AZIMUTH.copy(), ZENITH.copy()


def _range_values(lidar: Any, what: str) -> np.ndarray:
    if isinstance(lidar, (str, Path)):
        try:
            lidar = np.load(lidar, allow_pickle=False)
        except (ValueError, OSError) as err:
            if isinstance(err, FileNotFoundError):
                raise
            raise DataFormatError(f"{what} is not a readable .npy array ({err}); save range images with "
                                  "np.save") from None
    array = lidar.numpy() if hasattr(lidar, "numpy") and not isinstance(lidar, np.ndarray) else np.asarray(lidar)
    if array.dtype.kind not in "fiu":
        raise DataFormatError(f"{what} holds {array.dtype} values; a range image holds numbers (distances)")
    if array.ndim == 3 and array.shape[-1] == 3:  # organised x, y, z points: the sensor sits at the origin
        array = np.linalg.norm(array.astype(np.float64), axis=-1)
    if array.ndim != 2:
        raise DataFormatError(f"{what} has shape {array.shape}; a range image is (azimuth beams, zenith beams), or "
                              "(A, Z, 3) organised x, y, z points")
    bad = ~np.isfinite(array)
    if bad.any():
        raise DataFormatError(f"{what} has {int(bad.sum())} nan or infinite beams; write beams that saw nothing as 0 "
                              "(or the no-return value), e.g. np.nan_to_num(d, nan=0.0, posinf=0.0)")
    if (array < 0).any():
        raise DataFormatError(f"{what} has negative distances (min {array.min():g}); ranges are >= 0")
    return array.astype(np.float32)


def prepare_range(
    lidar: Any, size: tuple[int, int], azimuth: Any = None, zenith: Any = None, max_range: float = MAX_RANGE,
    what: str = "range image",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(depth, azimuth, zenith)`` at ``size`` from a path, an ``(A, Z)`` range image or ``(A, Z, 3)`` points.

    Beams at exactly 0 or at / beyond ``max_range`` become no-return beams holding ``max_range`` (what the
    course's files and mmzoo's generator write). Refuses nan / inf, negative ranges, other shapes, angle arrays
    of the wrong length and sizes it would have to enlarge (:func:`mmzoo.data.resize.resize_range`).
    """
    depth = _range_values(lidar, what)
    if azimuth is None or zenith is None:
        azimuth, zenith = default_angles(depth.shape, what)
    azimuth, zenith = np.asarray(azimuth, np.float32).reshape(-1), np.asarray(zenith, np.float32).reshape(-1)
    if (len(azimuth), len(zenith)) != depth.shape:
        raise DataFormatError(f"{what} has {depth.shape[0]}x{depth.shape[1]} beams but there are {len(azimuth)} "
                              f"azimuth and {len(zenith)} zenith angles; give one angle per row and per column")
    depth = np.where((depth == 0) | (depth >= max_range), np.float32(max_range), depth)
    return resize_range(depth, azimuth, zenith, size, what)


def class_indices(names: Sequence[str], class_names: Sequence[str] | None, where: str) -> tuple[np.ndarray, tuple]:
    """``(labels, class_names)``: each name's index in ``class_names`` (default: the sorted distinct names)."""
    known = tuple(class_names) if class_names is not None else tuple(sorted(set(names)))
    lookup = {name: i for i, name in enumerate(known)}
    unknown = sorted(set(names) - set(lookup))
    if unknown:
        raise UnknownClassError(f"{where} has class(es) {', '.join(map(repr, unknown))} that the model does not know; "
                                f"it was trained on {', '.join(map(repr, known))}: fix the labels, or fine-tune a "
                                "model on these classes")
    return np.asarray([lookup[n] for n in names], dtype=np.int64), known


def frames_from_arrays(
    rgb: Any, lidar: Any, *, labels: Sequence[Any] | None = None, values: Any = None,
    class_names: Sequence[str] | None = None, target_names: Sequence[str] | None = None,
    azimuth: Any = None, zenith: Any = None, ids: Sequence[str] | None = None, split: Sequence[str] | None = None,
    image_size: tuple[int, int] = (64, 64), beams: tuple[int, int] | None = None, max_range: float = MAX_RANGE,
) -> Frames:
    """``Frames`` from in-memory samples (numpy or torch): ``rgb`` ``(N, H, W, 3|4)`` uint8 and ``lidar``
    ``(N, A, Z)`` ranges or ``(N, A, Z, 3)`` points, with class ``labels`` (names, or indices into
    ``class_names``) or regression ``values`` ``(N, K)``. Sizes, modes and ranges are handled as for a folder."""
    beams = beams or image_size
    images = [prepare_image(image, image_size, f"rgb[{i}]") for i, image in enumerate(rgb)]
    ranges = [prepare_range(x, beams, azimuth, zenith, max_range, f"lidar[{i}]") for i, x in enumerate(lidar)]
    return assemble_frames(images, ranges, labels, values, class_names, target_names, ids, split,
                   {"source": "arrays", "layout": "arrays"})


def assemble_frames(images: list, ranges: list, labels, values, class_names, target_names, ids, split,
                    metadata: dict[str, Any], where: str = "labels") -> Frames:
    """``Frames`` from prepared ``(image, mode)`` and ``(depth, azimuth, zenith)`` samples and their targets."""
    if len(images) != len(ranges) or not images:
        raise DataFormatError(f"{len(images)} images and {len(ranges)} range images; give one of each per sample")
    modes = sorted({mode for _, mode in images})
    if len(modes) > 1:
        first = next(i for i, (_, m) in enumerate(images) if m != images[0][1])
        raise DataFormatError(f"the images mix modes {' and '.join(modes)} (sample {first} is {images[first][1]}, "
                              f"sample 0 {images[0][1]}); convert them all to one mode")
    rgba = np.stack([image for image, _ in images])
    meta = {**metadata, "rgb_mode": modes[0], "alpha_opaque": bool((rgba[..., 3] == 255).all()),
            "ids": list(ids) if ids is not None else [str(i) for i in range(len(images))],
            "split": list(split) if split is not None else None}
    label_array, names = None, ()
    if labels is not None:
        labels = list(labels)
        if all(isinstance(v, (int, np.integer)) for v in labels) and class_names is not None:
            labels = [class_names[int(v)] for v in labels]
        label_array, names = class_indices([str(v) for v in labels], class_names, where)
    positions = None
    if values is not None:
        values = values.numpy() if hasattr(values, "numpy") else values
        positions = np.asarray(values, np.float32).reshape(len(images), -1)
        meta["target_names"] = tuple(target_names or (f"value_{i}" for i in range(positions.shape[1])))
    meta["task"] = "classification" if label_array is not None else ("values" if positions is not None else "")
    return Frames(rgba=rgba, depth=np.stack([d for d, _, _ in ranges]), azimuth=ranges[0][1], zenith=ranges[0][2],
                  labels=label_array, positions=positions, class_names=names, metadata=meta)
