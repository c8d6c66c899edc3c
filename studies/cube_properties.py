"""What the camera sees of each cube in mmzoo's ``cubes`` frames: the measurements behind the course gap.

A camera-only network locates mmzoo's three cubes far better than the course reports for its real frames
(``benchmarks/course_baselines.py``). This script measures, on the CPU course table's frames (1,000 training +
320 validation frames of data seed 0), the properties that decide how much a camera can see, each next to what
is known of the real frames (see ``docs/data.md``):

- RGB mean and standard deviation per colour channel over all pixels, the one statistic known for a real
  three-object set of the course (mean about 0.014, std about 0.094 per colour channel, reported by a student's
  notebook of the course);
- per cube, the pixels of its silhouette (its colour channel at least 2/255 and the other two at most 1/255: the
  2% ambient light marks even the unlit side) and of its lit part (its channel above 0.1);
- the share of cubes whose lit part is empty (the light reaches no visible face) or smaller than 5 pixels;
- apparent size and distance: the width and height of each cube's silhouette rendered alone (the generator's
  renderer, the other two cubes left out), and its centre's distance from the sensor (the listed world position
  moved by the world origin the frames' metadata records);
- overlap: each cube's footprint (the pixels whose centre ray meets it, the renderer's object index) rendered
  alone against what remains of it in the three-cube frame, and how often two cubes' footprints touch;
- the positions' columns and frame: the order of ``positions.csv``'s header, the range of each axis, and where
  the sensors see each colour: the mean of the LiDAR points whose beam lands on a pixel of that colour (the camera
  sits with the LiDAR) and the centre of its silhouette, against the listed position.

The cubes are pure red, green and blue, so each pixel's colour names the cube it shows. Writes
``studies/results/cube-properties/results.{json,md}``::

    python studies/cube_properties.py
"""
from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

import numpy as np

from mmzoo.bench.report import write_result
from mmzoo.data.frames import Frames
from mmzoo.data.layouts import POSITION_COLUMNS
from mmzoo.data.render import Scene, SceneSettings
from mmzoo.data.render import render as render_scene
from mmzoo.data.sensor import beam_directions
from mmzoo.data.sets import sample_scene
from mmzoo.train.data import recipe_frames
from mmzoo.train.recipes import get_recipe

OUT = Path(__file__).resolve().parent / "results" / "cube-properties"
COLOURS = ("red", "green", "blue")
#: The one RGB statistic known for a real three-object set of the course (per colour channel).
REAL_RGB = {"mean": 0.014, "std": 0.094}
#: What is known of the real frames' geometry: objects about 5-15 pixels across (the cube-vs-sphere set, low to
#: medium confidence), cubes plotted about 19-31 units ahead of the sensor, world positions within [-5, 5] per
#: axis, and one real positions.csv row (red, green, blue x, y, z) printed in the course lab.
REAL_GEOMETRY = {"across_pixels": [5, 15], "ahead": [19, 31], "half_extent": 5.0,
                 "row": [3.432, 2.278, 2.738, -1.593, 3.992, -4.998, 2.453, -1.985, -3.023]}


def silhouettes(rgb: np.ndarray) -> np.ndarray:
    """``(N, 3, H, W)`` silhouettes of the red, green and blue cube in ``(N, H, W, 3)`` float RGB: the cube's
    channel at least 2/255 and the other two at most 1/255."""
    masks = [(rgb[..., c] >= 2 / 255) & (np.delete(rgb, c, axis=-1).max(-1) <= 1 / 255) for c in range(3)]
    return np.stack(masks, axis=1)


def cube_pixels(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """Per cube colour, ``(frames,)`` counts of its silhouette and lit pixels in ``(N, H, W, 3)`` float RGB."""
    counts = {}
    for channel, colour in enumerate(COLOURS):
        others = np.delete(rgb, channel, axis=-1).max(-1)
        own = rgb[..., channel]
        counts[f"{colour}_silhouette"] = ((own >= 2 / 255) & (others <= 1 / 255)).sum((1, 2))
        counts[f"{colour}_lit"] = ((own > 0.1) & (others <= 1 / 255)).sum((1, 2))
    return counts


def extent(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Width and height in pixels of the bounding box of each ``(..., H, W)`` boolean mask (0 for an empty one)."""
    def span(hit: np.ndarray) -> np.ndarray:
        first, last = hit.argmax(-1), hit.shape[-1] - 1 - hit[..., ::-1].argmax(-1)
        return np.where(hit.any(-1), last - first + 1, 0)

    return span(masks.any(-2)), span(masks.any(-1))


def hidden_share(alone: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Share of each object's footprint rendered alone (``alone``, ``(..., H, W)``) that the full frame does not
    show (``visible``); NaN where the object has no footprint at all."""
    own = alone.sum((-2, -1))
    seen = (alone & visible).sum((-2, -1))
    return np.where(own > 0, 1 - seen / np.maximum(own, 1), np.nan)


def touching(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether masks ``a`` and ``b`` (``(..., H, W)``) share a pixel or hold two side-by-side pixels."""
    across = (a[..., :, :-1] & b[..., :, 1:]) | (b[..., :, :-1] & a[..., :, 1:])
    down = (a[..., :-1, :] & b[..., 1:, :]) | (b[..., :-1, :] & a[..., 1:, :])
    return (a & b).any((-2, -1)) | across.any((-2, -1)) | down.any((-2, -1))


def footprints(frames: Frames) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(N, K, H, W)`` masks of generated ``frames``' cubes: footprint rendered alone, footprint in the frame, and
    silhouette rendered alone. The scenes are sampled again from the frames' metadata (dataset, seed, start,
    settings) and checked: rendered whole, they must give the frames' own images."""
    meta = frames.metadata
    settings = SceneSettings(**meta["settings"])
    scene, _ = sample_scene(meta["dataset"], len(frames), seed=meta["seed"], start=meta["start"], settings=settings)
    full = render_scene(scene, settings, workers=1)
    if not np.array_equal(full.rgba, frames.rgba):
        raise RuntimeError("the scenes sampled again from the frames' metadata do not render the frames' images")
    alone, alone_silhouette = [], []
    for k in range(scene.kinds.shape[1]):
        fields = {f: getattr(scene, f)[:, k:k + 1] for f in ("kinds", "centers", "rotations", "colors")}
        out = render_scene(Scene(**fields, light_dirs=scene.light_dirs), settings, workers=1)
        alone.append(out.pixel_object == 0)
        alone_silhouette.append(silhouettes(out.rgba[..., :3].astype(np.float32) / 255)[:, k])
    visible = np.stack([full.pixel_object == k for k in range(scene.kinds.shape[1])], axis=1)
    return np.stack(alone, axis=1), visible, np.stack(alone_silhouette, axis=1)


def sensor_positions(frames: Frames) -> np.ndarray:
    """``(N, K, 3)`` listed positions moved into the sensor frame by the world origin the frames' metadata records."""
    return frames.positions.reshape(len(frames), -1, 3) + np.asarray(frames.metadata["world_origin_in_sensor_frame"])


def to_pixel(points: np.ndarray, settings: SceneSettings) -> tuple[np.ndarray, np.ndarray]:
    """Image (row, column) of sensor-frame ``points`` ``(..., 3)`` in the pinhole camera, pixel centres at whole
    numbers (image right = +x, image down = -z); NaN for points not in front of the camera."""
    rel = points - np.asarray(settings.camera_offset)
    half = np.tan(np.deg2rad(settings.camera_hfov_deg) / 2)
    ahead = np.where(rel[..., 1] > 0, rel[..., 1], np.nan)
    to_index = lambda u: (u / ahead / half + 1) / 2 * settings.image_size - 0.5  # noqa: E731
    return to_index(-rel[..., 2]), to_index(rel[..., 0])


def lidar_centroids(frames: Frames, silhouette: np.ndarray, settings: SceneSettings, least: int = 3) -> np.ndarray:
    """``(N, K, 3)`` per cube the mean sensor-frame point of the LiDAR hits whose beam lands on a pixel of the cube's
    silhouette ``(N, K, H, W)`` (the camera sits with the LiDAR); NaN with fewer than ``least`` such hits."""
    points = frames.depth[..., None].astype(np.float64) * beam_directions(frames.azimuth, frames.zenith)
    row, col = (np.floor(u + 0.5) for u in to_pixel(points, settings))
    size = settings.image_size
    on = (frames.depth < settings.max_range) & (row >= 0) & (row < size) & (col >= 0) & (col < size)
    row, col = np.where(on, row, 0).astype(np.intp), np.where(on, col, 0).astype(np.intp)
    frame = np.arange(len(frames))[:, None, None]
    out = np.full(silhouette.shape[:2] + (3,), np.nan)
    for k in range(silhouette.shape[1]):
        mine = on & silhouette[:, k][frame, row, col]
        count = mine.sum((1, 2))
        mean = (points * mine[..., None]).sum((1, 2)) / np.maximum(count, 1)[:, None]
        out[:, k] = np.where((count >= least)[:, None], mean, np.nan)
    return out


def mask_centroids(masks: np.ndarray) -> np.ndarray:
    """``(..., 2)`` mean (row, column) of each ``(..., H, W)`` mask's pixels; NaN for an empty mask."""
    rows, cols = np.indices(masks.shape[-2:])
    count = masks.sum((-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.stack([(masks * rows).sum((-2, -1)) / count, (masks * cols).sum((-2, -1)) / count], axis=-1)


def nearest_own(found: np.ndarray, listed: np.ndarray) -> np.ndarray:
    """``(N, K)``: 1 where the nearest of a frame's ``K`` listed locations (``(N, K, D)``) to an object found
    (``(N, K, D)``) is its own, 0 where it is another's, NaN where the object was not found (NaN location)."""
    distance = np.linalg.norm(found[:, :, None] - listed[:, None], axis=-1)  # (N, found, listed)
    own = np.where(np.isnan(distance), np.inf, distance).argmin(-1) == np.arange(found.shape[1])
    return np.where(np.isnan(distance).any(-1), np.nan, own.astype(float))


def stats(values: np.ndarray, digits: int = 3) -> dict[str, float]:
    """Mean, minimum, maximum and 95th percentile of the finite ``values``, rounded (NaN where there are none)."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return {k: float("nan") for k in ("mean", "min", "max", "p95")}
    return {k: round(float(f(v)), digits) for k, f in (("mean", np.mean), ("min", np.min), ("max", np.max),
                                                         ("p95", lambda x: np.percentile(x, 95)))}


def size_and_distance(alone_silhouette: np.ndarray, alone: np.ndarray, sensor: np.ndarray) -> dict[str, Any]:
    """Apparent size of each cube rendered alone, and its centre's distance ahead of (y) and from the sensor."""
    width, height = extent(alone_silhouette)
    across = np.maximum(width, height)
    border = alone[..., 0, :].any(-1) | alone[..., -1, :].any(-1) | alone[..., :, 0].any(-1) | alone[..., :, -1].any(-1)
    low, high = REAL_GEOMETRY["across_pixels"]
    return {
        "width_pixels": stats(width.astype(float), 2), "height_pixels": stats(height.astype(float), 2),
        "across_pixels": stats(across.astype(float), 2),
        "share_across_in_real_range": float(((across >= low) & (across <= high)).mean()),
        "share_wholly_inside_image": float((alone.any((-2, -1)) & ~border).mean()),
        "ahead": stats(sensor[..., 1]), "distance": stats(np.linalg.norm(sensor, axis=-1)),
    }


def overlap(alone: np.ndarray, visible: np.ndarray) -> dict[str, Any]:
    """How much of each cube's footprint the other cubes hide, and how often two footprints touch."""
    hidden = hidden_share(alone, visible)
    share = hidden[~np.isnan(hidden)]
    touch = np.zeros(len(alone), dtype=bool)
    for i, j in itertools.combinations(range(alone.shape[1]), 2):
        touch |= touching(visible[:, i], visible[:, j])
    return {
        "hidden_share_mean": float(share.mean()), "share_cubes_partly_hidden": float((share > 0).mean()),
        "share_cubes_over_half_hidden": float((share > 0.5).mean()),
        "share_cubes_wholly_hidden": float((share == 1).mean()),
        "share_frames_hiding": float((hidden > 0).any(1).mean()), "share_frames_touching": float(touch.mean()),
    }


def position_checks(frames: Frames, silhouette: np.ndarray, settings: SceneSettings, hidden: np.ndarray) -> dict:
    """The positions' columns, range and frame, checked against where the LiDAR and the camera see each colour;
    ``hidden`` ``(N, K)`` is each cube's hidden share (:func:`hidden_share`)."""
    listed = frames.positions.reshape(len(frames), -1, 3)
    origin = np.asarray(frames.metadata["world_origin_in_sensor_frame"])
    lidar = lidar_centroids(frames, silhouette, settings)
    lidar_error = np.linalg.norm(lidar - origin - listed, axis=-1)
    lidar_own = nearest_own(lidar - origin, listed)
    projected = np.stack(to_pixel(listed + origin, settings), axis=-1)
    camera_error = np.linalg.norm(mask_centroids(silhouette) - projected, axis=-1)
    return {
        "columns": list(POSITION_COLUMNS), "world_origin_in_sensor_frame": origin.tolist(),
        "axis_min": listed.min((0, 1)).tolist(), "axis_max": listed.max((0, 1)).tolist(),
        "real_row_ahead": (np.asarray(REAL_GEOMETRY["row"]).reshape(3, 3)[:, 1] + origin[1]).round(3).tolist(),
        "share_cubes_with_lidar_hits": float(np.isfinite(lidar_error).mean()),
        "lidar_error": stats(lidar_error), "lidar_error_unhidden": stats(lidar_error[hidden == 0]),
        "lidar_error_without_origin": stats(np.linalg.norm(lidar - listed, axis=-1)),
        "lidar_nearest_own": float(np.nanmean(lidar_own)),
        "lidar_not_nearest_own_least_hidden": float(hidden[lidar_own == 0].min(initial=1.0)),
        "camera_error_pixels": stats(camera_error, 2),
        "camera_error_pixels_unhidden": stats(camera_error[hidden == 0], 2),
        "camera_nearest_own": float(np.nanmean(nearest_own(mask_centroids(silhouette), projected))),
    }


def measure(train_frames: int = 1000) -> dict[str, Any]:
    """The camera's view of the course recipe's frames (training and validation together)."""
    parts = recipe_frames(get_recipe("course", train_frames=train_frames))
    frames = Frames.concat(list(parts))
    rgb = frames.rgba[..., :3].astype(np.float32) / 255
    counts = cube_pixels(rgb)
    silhouette = np.stack([counts[f"{c}_silhouette"] for c in COLOURS])
    lit = np.stack([counts[f"{c}_lit"] for c in COLOURS])
    alone, visible, alone_silhouette = (np.concatenate(m) for m in zip(*(footprints(p) for p in parts)))
    hidden = hidden_share(alone, visible)
    settings = SceneSettings(**frames.metadata["settings"])
    return {
        "frames": len(rgb), "rgb_mean": rgb.mean((0, 1, 2)).tolist(), "rgb_std": rgb.std((0, 1, 2)).tolist(),
        "real_rgb": REAL_RGB,
        "silhouette_pixels_mean": float(silhouette.mean()), "silhouette_pixels_range": [int(silhouette.min()),
                                                                                          int(silhouette.max())],
        "lit_pixels_mean": float(lit.mean()), "share_no_lit_pixels": float((lit == 0).mean()),
        "share_under_5_lit_pixels": float((lit < 5).mean()), "share_no_silhouette": float((silhouette == 0).mean()),
        "real_geometry": REAL_GEOMETRY,
        "size_and_distance": size_and_distance(alone_silhouette, alone, sensor_positions(frames)),
        "overlap": overlap(alone, visible),
        "positions": position_checks(frames, silhouettes(rgb), settings, hidden),
    }


def _spread(s: dict[str, float], digits: int = 1) -> str:
    return f"{s['mean']:.{digits}f} ({s['min']:.{digits}f} to {s['max']:.{digits}f})"


def _mean_max(s: dict[str, float], digits: int) -> str:
    return f"{s['mean']:.{digits}f} (at most {s['max']:.{digits}f})"


def _geometry_rows(r: dict[str, Any]) -> list[str]:
    """The table's rows on apparent size, distance, overlap and the positions' columns and frame."""
    size, hide, pos, real = r["size_and_distance"], r["overlap"], r["positions"], r["real_geometry"]
    pct = lambda v: f"{100 * v:.1f}%"  # noqa: E731
    axes = ", ".join(f"{a} {lo:.2f} to {hi:.2f}" for a, lo, hi in zip("xyz", pos["axis_min"], pos["axis_max"]))
    real_y = ", ".join(f"{v:.1f}" for v in pos["real_row_ahead"])
    lo, hi = real["across_pixels"]
    return [
        f"| cube rendered alone: width x height, pixels, mean (range) | {_spread(size['width_pixels'])} x "
        f"{_spread(size['height_pixels'])} | objects about {lo} to {hi} pixels across (cube-vs-sphere set) |",
        f"| cubes {lo} to {hi} pixels across (larger side) | {pct(size['share_across_in_real_range'])} | not known |",
        f"| cubes wholly inside the image | {pct(size['share_wholly_inside_image'])} | not known |",
        f"| cube centre ahead of the sensor (y), mean (range) | {_spread(size['ahead'])} | "
        f"about {real['ahead'][0]} to {real['ahead'][1]} (the course's plots) |",
        f"| cube centre's distance from the sensor, mean (range) | {_spread(size['distance'])} | not known |",
        f"| cubes partly hidden by another cube | {pct(hide['share_cubes_partly_hidden'])} | not known |",
        f"| cubes more than half hidden (wholly hidden) | {pct(hide['share_cubes_over_half_hidden'])} "
        f"({pct(hide['share_cubes_wholly_hidden'])}) | not known |",
        f"| share of a cube's footprint hidden, mean | {pct(hide['hidden_share_mean'])} | not known |",
        f"| frames where a cube hides part of another | {pct(hide['share_frames_hiding'])} | not known |",
        f"| frames where two cubes' footprints touch | {pct(hide['share_frames_touching'])} | not known |",
        f"| positions.csv columns | {', '.join(pos['columns'])} | red, green, blue x, y, z (a real row) |",
        f"| listed positions per axis (world frame), range | {axes} | within -5 to 5 (the real row) |",
        f"| world origin in the sensor frame | {tuple(pos['world_origin_in_sensor_frame'])} | about 25 ahead: with it "
        f"the real row's cubes are {real_y} ahead |",
        f"| LiDAR points on a cube's pixels: their mean's distance from the listed position | "
        f"{_mean_max(pos['lidar_error'], 2)}; cubes not hidden at all {_mean_max(pos['lidar_error_unhidden'], 2)}; "
        f"without the origin {pos['lidar_error_without_origin']['mean']:.1f} | not known |",
        f"| cubes whose LiDAR points lie nearest their own colour's listed position | {pct(pos['lidar_nearest_own'])} "
        f"(of the {pct(pos['share_cubes_with_lidar_hits'])} with 3 or more points; those that do not are at least "
        f"{pct(pos['lidar_not_nearest_own_least_hidden'])} hidden) | not known |",
        f"| silhouette centre vs listed position projected, pixels, mean (95th percentile) | "
        f"{pos['camera_error_pixels']['mean']:.2f} ({pos['camera_error_pixels']['p95']:.2f}); cubes not hidden at "
        f"all {_mean_max(pos['camera_error_pixels_unhidden'], 2)} | not known |",
        f"| cubes whose silhouette centre lies nearest their own colour's projected position | "
        f"{pct(pos['camera_nearest_own'])} | not known |",
    ]


def render(result: dict[str, Any]) -> str:
    r = result
    mean = ", ".join(f"{v:.4f}" for v in r["rgb_mean"])
    std = ", ".join(f"{v:.4f}" for v in r["rgb_std"])
    return "\n".join([
        "| property | mmzoo `cubes` v1.0 | real frames |",
        "|---|---|---|",
        f"| RGB mean per colour channel | {mean} | about {r['real_rgb']['mean']} (a three-object set) |",
        f"| RGB std per colour channel | {std} | about {r['real_rgb']['std']} (a three-object set) |",
        f"| silhouette pixels per cube, mean (range) | {r['silhouette_pixels_mean']:.1f} "
        f"({r['silhouette_pixels_range'][0]} to {r['silhouette_pixels_range'][1]}) | not known |",
        f"| lit pixels per cube, mean | {r['lit_pixels_mean']:.1f} | not known |",
        f"| cubes with no lit pixel | {100 * r['share_no_lit_pixels']:.1f}% | not known |",
        f"| cubes with fewer than 5 lit pixels | {100 * r['share_under_5_lit_pixels']:.1f}% | not known |",
        f"| cubes with no silhouette pixel | {100 * r['share_no_silhouette']:.1f}% | not known |",
        *_geometry_rows(r),
        "",
        f"{r['frames']:,} frames of data seed 0 (the CPU course table's training and validation frames).",
    ]) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--train-frames", type=int, default=1000)
    args = parser.parse_args(argv)
    result = measure(args.train_frames)
    print(write_result(args.out, result, render(result)))
    return result


if __name__ == "__main__":
    main()
