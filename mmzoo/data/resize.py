"""Resizing each input the way its values allow: camera images antialiased, range images never interpolated.

A camera pixel is an average of light, so an image is resized by averaging (Pillow's bilinear filter, which
widens its support when shrinking: antialiased, as torchvision's ``resize(antialias=True)``). A range-image
beam is one measured distance: averaging two beams across an object's edge invents a point floating between
the object and the background, so range images are never interpolated. Shrinking by a whole factor keeps the
*nearest return* of each block (a min-pool: a beam that hit something wins over the no-return beams around
it, and the object keeps its outline); any other shrink takes the nearest beam. The angle grids follow: a
block's angle is the mean of its beams' angles, a picked beam keeps its own. Enlarging a range image would
invent beams the sensor never fired, so it is refused.

>>> import numpy as np
>>> depth = np.full((4, 4), 50.0, dtype=np.float32); depth[0, 1] = 7.0
>>> small, az, ze = resize_range(depth, np.arange(4.0), np.arange(4.0), (2, 2))
>>> small.tolist(), az.tolist()
([[7.0, 50.0], [50.0, 50.0]], [0.5, 2.5])
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from mmzoo.errors import InputSizeError

__all__ = ["resize_image", "resize_range"]


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An ``(H, W, C)`` uint8 image (C = 3 or 4) resized to ``size = (height, width)``, antialiased.

    Pillow resizes RGBA with premultiplied alpha, so transparent pixels do not bleed their colour.
    """
    height, width = size
    if image.shape[:2] == (height, width):
        return image
    resized = Image.fromarray(np.ascontiguousarray(image)).resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(resized)


def _nearest(count: int, target: int) -> np.ndarray:
    """The source index nearest to the centre of each of ``target`` cells over ``count`` beams."""
    return np.minimum(((np.arange(target) + 0.5) * count / target).astype(np.int64), count - 1)


def resize_range(
    depth: np.ndarray, azimuth: np.ndarray, zenith: np.ndarray, size: tuple[int, int], what: str = "range image"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(depth, azimuth, zenith)`` of an ``(A, Z)`` range image shrunk to ``size = (beams, beams)``.

    Whole factors min-pool (the nearest return of each block); other shrinks take the nearest beam; see the
    module docstring. Raises :class:`~mmzoo.errors.InputSizeError` when ``size`` is larger than the image in
    either direction (``what`` names the image in the message).
    """
    rows, cols = depth.shape
    target_rows, target_cols = size
    if (rows, cols) == (target_rows, target_cols):
        return depth, azimuth, zenith
    if target_rows > rows or target_cols > cols:
        raise InputSizeError(
            f"{what} has {rows}x{cols} beams but the model needs {target_rows}x{target_cols}: range images are "
            "never enlarged (that would invent beams the sensor never fired); give range images with at least "
            f"{target_rows}x{target_cols} beams, or train an architecture that accepts other sizes at "
            f"input_size={min(rows, cols) // 8 * 8}"
        )
    out, az = _shrink_axis(depth, np.asarray(azimuth, dtype=np.float32), 0, target_rows)
    out, ze = _shrink_axis(out, np.asarray(zenith, dtype=np.float32), 1, target_cols)
    return np.ascontiguousarray(out, dtype=np.float32), az.astype(np.float32), ze.astype(np.float32)


def _shrink_axis(depth: np.ndarray, angles: np.ndarray, axis: int, target: int) -> tuple[np.ndarray, np.ndarray]:
    """``depth`` shrunk to ``target`` beams along ``axis`` with those beams' ``angles``: a whole factor takes
    each block's nearest return and mean angle, another the nearest beam."""
    count = depth.shape[axis]
    if count % target == 0:
        blocks = np.moveaxis(depth, axis, 0).reshape(target, count // target, -1)
        shrunk = np.moveaxis(blocks.min(axis=1).reshape(target, *np.delete(depth.shape, axis)), 0, axis)
        return shrunk, angles.reshape(target, count // target).mean(axis=1)
    pick = _nearest(count, target)
    return np.take(depth, pick, axis=axis), angles[pick]
