"""A quick look at a dataset: a PNG grid of camera frames beside their LiDAR depth and point views.

One row per frame, three panels: the RGB image, the depth map colour-mapped (near = bright yellow, far = dark
purple, no return = black; drawn with image right = +x and image down = -z like the camera, so the panels line
up), and a top view of the LiDAR hit points (x to the right, y = distance ahead upward, coloured by height z).
Pillow and numpy only, so previews work without matplotlib.
"""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from mmzoo.data.frames import Frames
from mmzoo.data.sensor import MAX_RANGE, beam_directions

__all__ = ["colormap", "depth_panel", "top_view_panel", "preview_image", "write_preview"]

# A perceptually ordered ramp (dark purple -> blue -> green -> yellow), interpolated linearly.
_RAMP = np.array(
    [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=np.float64
)
_PANEL = 128  # panel side in pixels
_CAPTION = 14  # caption strip height in pixels


def colormap(values: np.ndarray) -> np.ndarray:
    """Map values in ``[0, 1]`` to uint8 RGB ``values.shape + (3,)`` along a viridis-like ramp."""
    v = np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0) * (len(_RAMP) - 1)
    low = np.minimum(v.astype(np.intp), len(_RAMP) - 2)
    frac = (v - low)[..., None]
    return np.round(_RAMP[low] * (1 - frac) + _RAMP[low + 1] * frac).astype(np.uint8)


def _upscale(image: np.ndarray, size: int = _PANEL) -> np.ndarray:
    """Nearest-neighbour resize of an ``(H, W, 3)`` uint8 image to ``(size, size, 3)`` (keeps pixels crisp)."""
    rows = np.arange(size) * image.shape[0] // size
    cols = np.arange(size) * image.shape[1] // size
    return image[rows][:, cols]


def depth_panel(depth: np.ndarray, near: float = 15.0, far: float = 35.0, max_range: float = MAX_RANGE) -> np.ndarray:
    """Colour-mapped ``(A, Z)`` depth map as an image oriented like the camera (``(Z, A, 3)`` uint8).

    Rows of the depth map are azimuth beams (increasing azimuth = toward -x) and columns zenith beams
    (increasing zenith = toward -z), so the image is the transpose with columns reversed.
    """
    image = colormap(1.0 - (depth - near) / (far - near))
    image[depth >= max_range] = 0
    return np.ascontiguousarray(image.transpose(1, 0, 2)[:, ::-1])


def top_view_panel(
    depth: np.ndarray,
    azimuth: np.ndarray,
    zenith: np.ndarray,
    size: int = _PANEL,
    x_range: tuple[float, float] = (-12.0, 12.0),
    y_range: tuple[float, float] = (15.0, 39.0),
    max_range: float = MAX_RANGE,
) -> np.ndarray:
    """The hit points seen from above: x to the right, y (distance ahead) upward, colour = height z."""
    points = depth[..., None] * beam_directions(azimuth, zenith)
    points = points[depth < max_range]
    image = np.zeros((size, size, 3), dtype=np.uint8)
    if len(points):
        col = ((points[:, 0] - x_range[0]) / (x_range[1] - x_range[0]) * size).astype(np.intp)
        row = ((y_range[1] - points[:, 1]) / (y_range[1] - y_range[0]) * size).astype(np.intp)
        ok = (col >= 0) & (col < size) & (row >= 0) & (row < size)
        # Draw low points first so the highest point of each cell wins, as when looking down.
        order = np.argsort(points[ok, 2])
        colours = colormap((points[ok, 2] + 7.0) / 14.0)
        image[row[ok][order], col[ok][order]] = colours[order]
    return image


def _caption(frames: Frames, i: int) -> str:
    parts = [f"#{i}"]
    if frames.labels is not None:
        label = int(frames.labels[i])
        names = frames.class_names
        parts.append(names[label] if 0 <= label < len(names) else f"label {label}")
    hits = int((frames.depth[i] < MAX_RANGE).sum())
    parts.append(f"{hits} hits")
    return "  ".join(parts)


def preview_indices(frames: Frames, n: int) -> list[int]:
    """The frames to show: the first ``n``, or for labelled frames the first of each class in turn, so that a
    folder stored class by class (all cubes, then all spheres) still shows every class."""
    if frames.labels is None:
        return list(range(min(n, len(frames))))
    per_class = [np.flatnonzero(frames.labels == label).tolist() for label in np.unique(frames.labels)]
    interleaved = [i for group in itertools.zip_longest(*per_class) for i in group if i is not None]
    return interleaved[:n]


def preview_image(frames: Frames, n: int = 8) -> Image.Image:
    """A grid of ``n`` frames (see ``preview_indices``): RGB | depth | top view per row, with a caption per row."""
    if len(frames) == 0:
        raise ValueError("cannot preview an empty set of frames; generate or read at least one frame")
    rows = preview_indices(frames, max(1, n))
    row_h = _PANEL + _CAPTION
    canvas = Image.new("RGB", (3 * _PANEL + 4 * 2, len(rows) * row_h + 2), (40, 40, 40))
    draw = ImageDraw.Draw(canvas)
    for row, i in enumerate(rows):
        top = row * row_h + _CAPTION
        panels = (
            _upscale(frames.rgba[i, ..., :3]),
            _upscale(depth_panel(frames.depth[i])),
            top_view_panel(frames.depth[i], frames.azimuth, frames.zenith),
        )
        for j, panel in enumerate(panels):
            canvas.paste(Image.fromarray(panel), (2 + j * (_PANEL + 2), top))
        draw.text((4, row * row_h + 1), _caption(frames, i), fill=(230, 230, 230))
    return canvas


def write_preview(frames_or_dir: Frames | str | Path, out_png: str | Path, n: int = 8) -> Path:
    """Write a preview grid of ``n`` frames to ``out_png``.

    Args:
        frames_or_dir: in-memory :class:`Frames`, or a dataset folder in one of the real data's layouts
            (read with :func:`mmzoo.data.layouts.read_folder`).
        out_png: the PNG file to write (parent folders are created).
        n: number of frames (rows) to show.

    Returns:
        The path written.
    """
    if isinstance(frames_or_dir, Frames):
        frames = frames_or_dir
    else:
        from mmzoo.data.layouts import read_folder  # imported here: only folder previews need the readers

        frames = read_folder(frames_or_dir)
    out = Path(out_png).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    preview_image(frames, n).save(out, format="PNG")
    return out
