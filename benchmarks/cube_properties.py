"""What the camera sees of each cube in mmzoo's ``cubes`` frames: the measurements behind the course gap.

A camera-only network locates mmzoo's three cubes far better than the course reports for its real frames
(``benchmarks/course_baselines.py``). This script measures, on the CPU course table's frames (1,000 training +
320 validation frames of data seed 0), the properties that decide how much a camera can see:

- RGB mean and standard deviation per colour channel over all pixels, the one statistic known for a real
  three-object set of the course (mean about 0.014, std about 0.094 per colour channel, reported by a student's
  notebook of the course);
- per cube, the pixels of its silhouette (its colour channel at least 2/255 and the other two at most 1/255: the
  2% ambient light marks even the unlit side) and of its lit part (its channel above 0.1);
- the share of cubes whose lit part is empty (the light reaches no visible face) or smaller than 5 pixels.

The cubes are pure red, green and blue, so each pixel's colour names the cube it shows. Writes
``benchmarks/results/cube-properties/results.{json,md}``::

    python benchmarks/cube_properties.py
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from mmzoo.bench.report import write_result
from mmzoo.train.data import recipe_frames
from mmzoo.train.recipes import get_recipe

OUT = Path(__file__).resolve().parent / "results" / "cube-properties"
COLOURS = ("red", "green", "blue")
#: The one RGB statistic known for a real three-object set of the course (per colour channel).
REAL_RGB = {"mean": 0.014, "std": 0.094}


def cube_pixels(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """Per cube colour, ``(frames,)`` counts of its silhouette and lit pixels in ``(N, H, W, 3)`` float RGB."""
    counts = {}
    for channel, colour in enumerate(COLOURS):
        others = np.delete(rgb, channel, axis=-1).max(-1)
        own = rgb[..., channel]
        counts[f"{colour}_silhouette"] = ((own >= 2 / 255) & (others <= 1 / 255)).sum((1, 2))
        counts[f"{colour}_lit"] = ((own > 0.1) & (others <= 1 / 255)).sum((1, 2))
    return counts


def measure(train_frames: int = 1000) -> dict[str, Any]:
    """The camera's view of the course recipe's frames (training and validation together)."""
    frames = recipe_frames(get_recipe("course", train_frames=train_frames))
    rgb = np.concatenate([f.rgba[..., :3] for f in frames]).astype(np.float32) / 255
    counts = cube_pixels(rgb)
    silhouette = np.stack([counts[f"{c}_silhouette"] for c in COLOURS])
    lit = np.stack([counts[f"{c}_lit"] for c in COLOURS])
    return {
        "frames": len(rgb), "rgb_mean": rgb.mean((0, 1, 2)).tolist(), "rgb_std": rgb.std((0, 1, 2)).tolist(),
        "real_rgb": REAL_RGB,
        "silhouette_pixels_mean": float(silhouette.mean()), "silhouette_pixels_range": [int(silhouette.min()),
                                                                                          int(silhouette.max())],
        "lit_pixels_mean": float(lit.mean()), "share_no_lit_pixels": float((lit == 0).mean()),
        "share_under_5_lit_pixels": float((lit < 5).mean()), "share_no_silhouette": float((silhouette == 0).mean()),
    }


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
        f"| cubes not in the image at all | {100 * r['share_no_silhouette']:.1f}% | not known |",
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
