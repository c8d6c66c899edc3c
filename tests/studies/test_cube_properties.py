"""``studies/cube_properties.py``: its measurement functions on hand-made arrays and a few generated frames,
and the numbers docs/data.md quotes from its committed result.

(The script's table against its committed ``results.md`` and the docs' table lines are checked in
``tests/studies/test_study_scripts.py``.)"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmzoo.data.sets import generate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def script():
    import importlib.util

    path = ROOT / "studies" / "cube_properties.py"
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _squares(gap: int) -> np.ndarray:
    """One 8x8 RGB frame: a lit 3x3 red square and a dim 3x2 green one ``gap`` columns to its right."""
    rgb = np.zeros((1, 8, 8, 3), dtype=np.float32)
    rgb[0, 1:4, 1:4, 0] = 0.8
    rgb[0, 2:5, 4 + gap:6 + gap, 1] = 0.02  # the ambient-only side of a cube still counts
    return rgb


def test_two_coloured_squares_are_measured_by_colour(script):
    touching, apart = script.silhouettes(_squares(0)), script.silhouettes(_squares(1))
    assert touching.shape == (1, 3, 8, 8) and not touching[:, 2].any()
    width, height = script.extent(touching[0])
    assert width.tolist() == [3, 2, 0] and height.tolist() == [3, 3, 0]  # blue: no pixel, no box
    assert script.touching(touching[:, 0], touching[:, 1]).tolist() == [True]
    assert script.touching(apart[:, 0], apart[:, 1]).tolist() == [False]  # one black column between them
    corner = np.zeros((1, 8, 8), dtype=bool), np.zeros((1, 8, 8), dtype=bool)
    corner[0][0, 0, 0] = corner[1][0, 1, 1] = True
    assert script.touching(*corner).tolist() == [False]  # diagonal neighbours do not share a side
    centres = script.mask_centroids(touching[0])
    assert centres[0].tolist() == [2.0, 2.0] and centres[1].tolist() == [3.0, 4.5] and np.isnan(centres[2]).all()


def test_hidden_share_compares_the_footprint_alone_with_what_the_frame_shows(script):
    alone = np.zeros((3, 4, 4), dtype=bool)
    alone[0, :2, :2] = alone[1, :2, :2] = True
    visible = alone.copy()
    visible[1, 0, :] = False  # another object covers the top row: 2 of its 4 pixels
    shares = script.hidden_share(alone, visible)
    assert shares[:2].tolist() == [0.0, 0.5] and np.isnan(shares[2])  # no footprint: nothing to hide


def test_the_camera_projection_and_the_nearest_listed_position(script):
    settings = script.SceneSettings()
    half = np.tan(np.deg2rad(settings.camera_hfov_deg) / 2)
    row, col = script.to_pixel(np.array([[0.0, 25.0, 0.0], [25.0 * half, 25.0, 25.0 * half], [0.0, -1.0, 0.0]]),
                               settings)
    assert row[:2] == pytest.approx([31.5, -0.5]) and col[:2] == pytest.approx([31.5, 63.5])  # centre; top right
    assert np.isnan(row[2]) and np.isnan(col[2])  # behind the camera
    listed = np.array([[[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]])
    found = listed + 1.0
    assert script.nearest_own(found, listed).tolist() == [[1.0, 1.0, 1.0]]
    swapped = found[:, [0, 2, 1]]
    swapped[0, 0] = np.nan
    own = script.nearest_own(swapped, listed)
    assert np.isnan(own[0, 0]) and own[0, 1:].tolist() == [0.0, 0.0]


def test_generated_frames_show_each_cube_where_its_listed_position_says(script):
    frames = generate("cubes", 24, seed=3)
    settings = script.SceneSettings(**frames.metadata["settings"])
    alone, visible, alone_silhouette = script.footprints(frames)
    assert alone.shape == visible.shape == alone_silhouette.shape == (24, 3, 64, 64)
    assert not (visible & ~alone).any()  # the frame shows no more of a cube than the cube alone
    assert alone.sum() > visible.sum() > 0 and alone_silhouette.any((2, 3)).all()  # alone, no cube is hidden
    sil = script.silhouettes(frames.rgba[..., :3].astype(np.float32) / 255)
    hidden = script.hidden_share(alone, visible)
    checks = script.position_checks(frames, sil, settings, hidden)
    assert checks["columns"][:4] == ["red_x", "red_y", "red_z", "green_x"]
    assert checks["lidar_nearest_own"] > 0.9 and checks["lidar_error"]["max"] < settings.cube_side
    assert checks["lidar_error_without_origin"]["mean"] > 15  # the listed numbers are world, not sensor, positions
    assert checks["camera_nearest_own"] > 0.9 and checks["camera_error_pixels_unhidden"]["max"] < 1.5
    swapped = frames.subset(slice(None))
    swapped.positions = frames.positions[:, [0, 1, 2, 6, 7, 8, 3, 4, 5]]  # green and blue columns exchanged
    assert script.position_checks(swapped, sil, settings, hidden)["lidar_nearest_own"] < 0.5
    tampered = frames.subset(slice(None))
    tampered.rgba = frames.rgba.copy()
    tampered.rgba[0, 0, 0, :3] = 255
    with pytest.raises(RuntimeError, match="do not render the frames' images"):
        script.footprints(tampered)


def test_the_docs_quote_the_committed_cube_properties(script):
    path = script.OUT / "results.json"
    if not path.is_file():
        pytest.skip(f"no published result under {script.OUT} in this checkout")
    r = json.loads(path.read_text())
    size, hide, pos = r["size_and_distance"], r["overlap"], r["positions"]
    doc = (ROOT / "docs" / "data.md").read_text()
    section = doc[doc.index("### The course's single-modality baselines"):doc.index("## The real data's layouts")]
    prose = " ".join(line.strip() for line in section.splitlines() if not line.startswith("|"))
    pct = lambda v: f"{100 * v:.1f}%"  # noqa: E731
    quotes = [
        f"{pct(r['share_no_lit_pixels'])} of mmzoo's cubes show no lit pixel",
        f"cube centres lie {size['ahead']['min']:.1f} to {size['ahead']['max']:.1f} units ahead",
        f"spans {size['width_pixels']['mean']:.1f} pixels in width and in height on average "
        f"({size['width_pixels']['min']:.0f} to {size['width_pixels']['max']:.0f} wide, "
        f"{size['height_pixels']['min']:.0f} to {size['height_pixels']['max']:.0f} tall)",
        f"{pct(size['share_across_in_real_range'])} of the cubes are 5 to 15 pixels across",
        f"up to {size['across_pixels']['max']:.0f} pixels",
        f"In {pct(hide['share_frames_hiding'])} of the frames one cube hides part of another",
        f"footprints touch in {pct(hide['share_frames_touching'])}",
        f"{pct(hide['share_cubes_partly_hidden'])} of the cubes are partly hidden, "
        f"{pct(hide['share_cubes_over_half_hidden'])} more than half and {pct(hide['share_cubes_wholly_hidden'])} wholly",
        f"the {pct(r['share_no_silhouette'])} of cubes with no silhouette pixel",
        f"their mean {pos['lidar_error']['mean']:.2f} units from the cube's listed position",
        f"({pos['lidar_error_unhidden']['mean']:.2f} for cubes not hidden at all, at most "
        f"{pos['lidar_error_unhidden']['max']:.2f}",
        f"{pos['lidar_error_without_origin']['mean']:.1f} without the origin",
        f"for {pct(pos['lidar_nearest_own'])} of the cubes the nearest listed position is their own colour's",
        f"at least {pct(pos['lidar_not_nearest_own_least_hidden'])} hidden",
        f"lies {pos['camera_error_pixels']['mean']:.2f} pixels from its listed position projected",
        f"at most {pos['camera_error_pixels_unhidden']['max']:.2f} for cubes not hidden at all",
        "its cubes are {:.1f}, {:.1f} and {:.1f} units ahead".format(*pos["real_row_ahead"]),
    ]
    for quote in quotes:
        assert quote in prose, f"docs/data.md does not say {quote!r} (from {path})"
    assert pos["world_origin_in_sensor_frame"][1] == 25.0 and "world origin about 25 units ahead" in prose
