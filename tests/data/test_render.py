"""The ray caster and renderer against analytic geometry: hit masks, depths, camera orientation, shading."""
from __future__ import annotations

import numpy as np
import pytest

from mmzoo.data.raycast import make_rays
from mmzoo.data.render import CUBE, NO_OBJECT, SPHERE, TORUS, Scene, SceneSettings, camera_directions, render
from mmzoo.data.sensor import AZIMUTH, MAX_RANGE, ZENITH, beam_directions

SETTINGS = SceneSettings()
BEAMS = beam_directions(AZIMUTH, ZENITH)  # (64, 64, 3)


def make_scene(kinds, centers, rotations=None, colors=None, light=(0.0, -1.0, 0.0)) -> Scene:
    """One scene per row of ``kinds``/``centers`` (lists of K objects each)."""
    kinds = np.asarray(kinds, dtype=np.int8)
    n, k = kinds.shape
    rot = np.broadcast_to(np.eye(3), (n, k, 3, 3)).copy() if rotations is None else np.asarray(rotations, float)
    col = np.ones((n, k, 3)) if colors is None else np.asarray(colors, float)
    light = np.broadcast_to(np.asarray(light, float) / np.linalg.norm(light), (n, 3)).copy()
    return Scene(kinds=kinds, centers=np.asarray(centers, float), rotations=rot, colors=col, light_dirs=light)


def beam_angle_to(center) -> np.ndarray:
    """Angle (radians) between every LiDAR beam and the direction to ``center``."""
    c = np.asarray(center, float)
    return np.arccos(np.clip(BEAMS @ (c / np.linalg.norm(c)), -1.0, 1.0))


def test_outputs_shapes_dtypes_and_no_return_value():
    out = render(make_scene([[SPHERE], [CUBE]], [[[0, 25, 0]], [[2, 22, 1]]]), SETTINGS)
    assert out.rgba.shape == (2, 64, 64, 4) and out.rgba.dtype == np.uint8
    assert out.depth.shape == (2, 64, 64) and out.depth.dtype == np.float32
    assert (out.rgba[..., 3] == 255).all(), "alpha must be 255 everywhere, as in the real PNGs"
    miss = out.beam_object == NO_OBJECT
    assert miss.any() and (~miss).any()
    assert (out.depth[miss] == MAX_RANGE).all(), "no-return beams must hold exactly 50.0"
    assert (out.depth[~miss] < MAX_RANGE).all()
    assert out.mask.shape == (2, 64, 64) and out.mask.any()
    # Off the objects the image is black (edge pixels outside the centre-sample mask may be partly lit).
    assert (out.rgba[..., :3][~out.mask] < 255).all() and out.rgba[..., :3][~out.mask].mean() < 1.0


@pytest.mark.parametrize("center", [(0.0, 25.0, 0.0), (3.0, 21.0, -2.0), (-4.0, 29.0, 4.5)])
def test_sphere_hit_mask_is_the_analytic_disc(center):
    radius = SETTINGS.sphere_radius
    out = render(make_scene([[SPHERE]], [[center]]), SETTINGS)
    hit = out.depth[0] < MAX_RANGE
    angle = beam_angle_to(center)
    alpha = np.arcsin(radius / np.linalg.norm(center))  # angular radius of the sphere
    tol = 1e-4
    assert hit[angle < alpha - tol].all(), "every beam inside the sphere's angular radius must hit"
    assert not hit[angle > alpha + tol].any(), "no beam outside the sphere's angular radius may hit"
    # ... and the count matches the disc's solid angle over the beam grid's cell (0.5 degree squared).
    expected = np.pi * alpha**2 / np.deg2rad(0.5) ** 2
    assert abs(hit.sum() - expected) < 0.1 * expected


def test_sphere_depth_is_range_to_the_surface():
    center = np.array([0.0, 25.0, 0.0])
    out = render(make_scene([[SPHERE]], [[center]]), SETTINGS)
    # Beam (32, 32) is azimuth 0, zenith 0: straight along +y through the centre.
    assert out.depth[0, 32, 32] == pytest.approx(25.0 - SETTINGS.sphere_radius, abs=1e-4)
    # Every hit lies on the sphere's surface.
    hit = out.depth[0] < MAX_RANGE
    points = out.depth[0][hit][:, None] * BEAMS[hit]
    assert np.abs(np.linalg.norm(points - center, axis=1) - SETTINGS.sphere_radius).max() < 1e-3


def test_axis_aligned_cube_shows_its_square_front_face():
    out = render(make_scene([[CUBE]], [[[0.0, 25.0, 0.0]]]), SETTINGS)
    half = SETTINGS.cube_side / 2.0
    assert out.depth[0, 32, 32] == pytest.approx(25.0 - half, abs=1e-4)
    # Facing the sensor, only the front face (y = 25 - half, |x|, |z| <= half) is visible: a square.
    scale = (25.0 - half) / BEAMS[..., 1]
    inside = (np.abs(BEAMS[..., 0] * scale) < half - 1e-3) & (np.abs(BEAMS[..., 2] * scale) < half - 1e-3)
    outside = (np.abs(BEAMS[..., 0] * scale) > half + 1e-3) | (np.abs(BEAMS[..., 2] * scale) > half + 1e-3)
    hit = out.depth[0] < MAX_RANGE
    assert hit[inside].all() and not hit[outside].any()
    assert np.allclose(out.depth[0][inside], scale[inside], atol=1e-4)


def test_cube_mask_is_not_round_but_the_sphere_mask_is():
    # Fill ratio of the hit mask's bounding box: a disc fills about pi/4 of it (a bit more on a coarse grid),
    # an axis-aligned square all of it.
    out = render(make_scene([[SPHERE], [CUBE]], [[[0, 25, 0]], [[0, 25, 0]]]), SETTINGS)
    ratios = []
    for hit in out.depth < MAX_RANGE:
        rows, cols = np.nonzero(hit)
        ratios.append(hit.sum() / ((np.ptp(rows) + 1) * (np.ptp(cols) + 1)))
    assert np.pi / 4 - 0.03 < ratios[0] < 0.88
    assert ratios[1] > 0.97


def test_rotated_cube_hits_lie_on_its_surface():
    rng = np.random.default_rng(0)
    q = rng.standard_normal(4)
    w, x, y, z = q / np.linalg.norm(q)
    rot = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )
    center = np.array([1.0, 24.0, -1.0])
    out = render(make_scene([[CUBE]], [[center]], rotations=rot[None, None]), SETTINGS)
    hit = out.depth[0] < MAX_RANGE
    local = (out.depth[0][hit][:, None] * BEAMS[hit] - center) @ rot  # points in the cube's frame
    half = SETTINGS.cube_side / 2.0
    assert np.abs(np.abs(local).max(axis=1) - half).max() < 1e-3, "every hit must be on a face"
    # A rotated cube of side 3 at ~24 units covers between its face area and its largest silhouette.
    cell = (np.deg2rad(0.5) * 24.0) ** 2
    assert SETTINGS.cube_side**2 / cell * 0.8 < hit.sum() < np.sqrt(3) * SETTINGS.cube_side**2 / cell * 1.3


def test_torus_facing_the_sensor_is_an_annulus_with_a_hole():
    major, minor = SETTINGS.torus_major_radius, SETTINGS.torus_minor_radius
    # Local z (the torus axis) along the sensor's y axis: the ring faces the sensor.
    rot = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])
    out = render(make_scene([[TORUS]], [[[0.0, 25.0, 0.0]]], rotations=rot[None, None]), SETTINGS)
    hit = out.depth[0] < MAX_RANGE
    assert out.depth[0, 32, 32] == MAX_RANGE, "the centre beam goes through the hole"
    lateral = np.tan(beam_angle_to([0, 25, 0])) * 25.0  # distance from the axis at the ring's plane
    assert hit[(lateral > major - minor + 0.1) & (lateral < major + minor - 0.1)].all()
    assert not hit[(lateral < major - minor - 0.1) | (lateral > major + minor + 0.1)].any()
    # Every hit lies on the torus (its signed distance is ~0) and the nearest is the front of the tube.
    local = (out.depth[0][hit][:, None] * BEAMS[hit] - [0.0, 25.0, 0.0]) @ rot
    sdf = np.hypot(np.hypot(local[:, 0], local[:, 1]) - major, local[:, 2]) - minor
    assert np.abs(sdf).max() < 2e-3
    assert out.depth[0].min() == pytest.approx(25.0 - minor, abs=0.05)


def test_nearest_object_wins():
    out = render(make_scene([[SPHERE, CUBE]], [[[0, 28, 0], [0, 22, 0]]]), SETTINGS)
    assert out.beam_object[0, 32, 32] == 1
    assert out.depth[0, 32, 32] == pytest.approx(22.0 - SETTINGS.cube_side / 2.0, abs=1e-4)


def test_orientations_camera_right_is_plus_x_and_up_is_plus_z():
    # A sphere to the right (+x) and above (+z): right half and top half of the image; low azimuth rows
    # (az < 0 is +x) and low zenith columns (ze < 0 is +z) in the depth map.
    out = render(make_scene([[SPHERE]], [[[4.0, 25.0, 4.0]]]), SETTINGS)
    rows, cols = np.nonzero(out.mask[0])
    assert cols.mean() > 32 and rows.mean() < 32
    az_rows, ze_cols = np.nonzero(out.depth[0] < MAX_RANGE)
    assert AZIMUTH[az_rows].mean() < 0 and ZENITH[ze_cols].mean() < 0


def test_camera_mask_size_matches_the_pinhole_projection():
    out = render(make_scene([[SPHERE]], [[[0.0, 25.0, 0.0]]]), SETTINGS)
    focal = 32.0 / np.tan(np.deg2rad(SETTINGS.camera_hfov_deg) / 2.0)  # pixels
    radius_px = focal * np.tan(np.arcsin(SETTINGS.sphere_radius / 25.0))
    assert out.mask[0].sum() == pytest.approx(np.pi * radius_px**2, rel=0.1)


def test_lambert_shading_lights_the_side_facing_the_light():
    # Light from +x: the right half of the sphere (image right = +x) is lit, the left half nearly black.
    out = render(make_scene([[SPHERE]], [[[0.0, 25.0, 0.0]]], light=(1.0, 0.0, 0.0)), SETTINGS)
    rgb = out.rgba[0, ..., :3].astype(float).sum(axis=-1)
    assert rgb[:, 33:].sum() > 20 * rgb[:, :31].sum()
    assert rgb.max() > 200  # strong light: the lit part is bright


def test_empty_slots_and_far_objects_give_no_returns():
    settings = SceneSettings(max_range=20.0)
    out = render(make_scene([[NO_OBJECT], [SPHERE]], [[[0, 25, 0]], [[0, 25, 0]]]), settings)
    assert (out.depth == 20.0).all(), "objects beyond max_range return nothing"
    assert (out.rgba[..., :3][0] == 0).all()


def test_camera_directions_are_unit_and_span_the_field_of_view():
    dirs = camera_directions(SETTINGS)
    assert dirs.shape == (64, 64, 1, 3)
    assert np.allclose(np.linalg.norm(dirs, axis=-1), 1.0)
    hfov = np.arctan2(dirs[32, -1, 0, 0], dirs[32, -1, 0, 1]) - np.arctan2(dirs[32, 0, 0, 0], dirs[32, 0, 0, 1])
    assert np.rad2deg(hfov) == pytest.approx(SETTINGS.camera_hfov_deg * 63 / 64, rel=0.02)


def test_make_rays_round_trips_the_grid_order():
    rays = make_rays(BEAMS[:, :, None, :])
    values = rays.directions[None, ..., 0]  # (1, T, P): x component in tile-major order
    assert np.array_equal(rays.to_grid(values)[0, ..., 0], BEAMS[..., 0])
    with pytest.raises(ValueError, match="multiple of the tile size"):
        make_rays(BEAMS[:62, :, None, :])


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError, match="torus_minor_radius"):
        SceneSettings(torus_minor_radius=2.0)
    with pytest.raises(ValueError, match="supersample"):
        SceneSettings(supersample=0)


def test_threads_and_batches_do_not_change_the_result():
    from mmzoo.data.sets import sample_scene

    scene, _ = sample_scene("parallel", 150, seed=8)  # more than two render batches
    serial, threaded = render(scene, SETTINGS, workers=1), render(scene, SETTINGS, workers=3)
    alone = render(scene.subset(slice(70, 71)), SETTINGS)
    for field in ("rgba", "depth", "pixel_object", "beam_object"):
        assert np.array_equal(getattr(serial, field), getattr(threaded, field)), field
        assert np.array_equal(getattr(serial, field)[70:71], getattr(alone, field)), field
