"""The named datasets: determinism, targets that agree with the scene, ranges, versions pinned by fingerprint."""
from __future__ import annotations

import numpy as np
import pytest

from mmzoo.data.render import CUBE, SPHERE, TORUS, SceneSettings, render
from mmzoo.data.sets import CHUNK_FRAMES, DATASETS, fingerprint, generate, get_dataset, list_datasets, sample_scene
from mmzoo.data.sensor import MAX_RANGE, beam_directions

# Fingerprints of generate(name, 6, seed=123). If a test below fails, the generator's output changed:
# bump that dataset's ``version`` in mmzoo/data/sets.py (users' saved datasets no longer match it), then
# update the version and fingerprint here.
PINNED = {
    "shapes": ("1.0", "7a802e8f00465fb1"),
    "cubes": ("1.0", "3a6d54419911f537"),
    "parallel": ("1.0", "fa4896f2cacd7359"),
}


def same(x, y) -> bool:
    """Both None, or equal arrays."""
    return (x is None and y is None) or (x is not None and y is not None and np.array_equal(x, y))


def frames_equal(a, b) -> bool:
    return all(same(getattr(a, f), getattr(b, f)) for f in ("rgba", "depth", "labels", "positions"))


def test_list_and_unknown_name():
    assert list_datasets() == ["cubes", "parallel", "shapes"]
    with pytest.raises(ValueError, match="unknown dataset 'spheres'.*cubes, parallel, shapes"):
        generate("spheres", 2)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_version_pinned_by_fingerprint(name):
    version, pinned = PINNED[name]
    assert get_dataset(name).version == version, (
        f"dataset {name!r} is now version {get_dataset(name).version}; update PINNED in this test"
    )
    got = fingerprint(generate(name, 6, seed=123))
    assert got == pinned, (
        f"the generator's output for {name!r} changed (fingerprint {got}, pinned {pinned}). Bump DATASETS[{name!r}]"
        f".version in mmzoo/data/sets.py, then pin the new version and fingerprint in PINNED."
    )


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_same_seed_same_bytes_whatever_the_chunking(name):
    n = CHUNK_FRAMES + 44  # crosses a sampling chunk and several render batches
    whole = generate(name, n, seed=7)
    again = generate(name, n, seed=7)
    assert frames_equal(whole, again)
    cuts = [0, 5, 70, CHUNK_FRAMES + 1, n]
    parts = [generate(name, b - a, seed=7, start=a) for a, b in zip(cuts[:-1], cuts[1:])]
    for field in ("rgba", "depth", "labels", "positions"):
        pieces = [getattr(p, field) for p in parts]
        joined = None if pieces[0] is None else np.concatenate(pieces)
        assert same(getattr(whole, field), joined), field


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_different_seeds_differ(name):
    a, b = generate(name, 4, seed=0), generate(name, 4, seed=1)
    assert not np.array_equal(a.depth, b.depth)
    assert not np.array_equal(a.rgba, b.rgba)


def test_metadata_records_provenance():
    settings = SceneSettings(light_intensity=0.8)
    frames = generate("cubes", 2, seed=5, settings=settings)
    meta = frames.metadata
    assert meta["dataset"] == "cubes" and meta["version"] == DATASETS["cubes"].version and meta["seed"] == 5
    assert meta["settings"]["light_intensity"] == 0.8 and meta["settings"]["cube_side"] == 3.0


def test_shapes_labels_are_balanced_and_match_the_objects():
    n = 200
    frames = generate("shapes", n, seed=3)
    scene, labels = sample_scene("shapes", n, seed=3)
    assert frames.class_names == ("cube", "sphere") and frames.positions is None
    assert np.array_equal(frames.labels, labels) and frames.labels.dtype == np.int64
    assert (frames.labels == 1).sum() == n // 2, "every pair of frames holds one cube and one sphere"
    assert np.array_equal(scene.kinds[:, 0], np.where(labels == 0, CUBE, SPHERE))
    # The depth maps agree: a sphere's nearest hit is centre distance minus radius, a cube's lies between
    # centre distance minus half its diagonal and minus half its side.
    dist = np.linalg.norm(scene.centers[:, 0], axis=1)
    nearest = frames.depth.min(axis=(1, 2))
    seen = nearest < MAX_RANGE
    sphere, cube = seen & (labels == 1), seen & (labels == 0)
    assert sphere.sum() > 50 and cube.sum() > 50
    assert np.allclose(nearest[sphere], dist[sphere] - 1.5, atol=0.03)
    assert (nearest[cube] > dist[cube] - 1.5 * np.sqrt(3) - 0.01).all()
    assert (nearest[cube] < dist[cube] - 1.5 + 0.1).all()


def test_shapes_frames_look_like_the_real_ones():
    # seeds.md section 4: 100-300 hit beams per frame (about 5%), alpha 1, dark images (mean RGB ~0.005).
    frames = generate("shapes", 200, seed=4)
    hits = (frames.depth < MAX_RANGE).sum(axis=(1, 2))
    assert 120 < np.median(hits) < 300
    assert (frames.rgba[..., 3] == 255).all()
    assert 0.0025 < frames.rgba[..., :3].mean() / 255.0 < 0.01
    assert set(np.unique(frames.depth[frames.depth >= MAX_RANGE])) == {MAX_RANGE}


@pytest.mark.parametrize("name, kinds", [("cubes", (CUBE, CUBE, CUBE)), ("parallel", (CUBE, SPHERE, TORUS))])
def test_positions_are_world_centres_in_slot_order(name, kinds):
    n = 64
    frames = generate(name, n, seed=11)
    scene, _ = sample_scene(name, n, seed=11)
    assert frames.labels is None and frames.positions.shape == (n, 9) and frames.positions.dtype == np.float32
    assert (np.abs(frames.positions) <= 5.0).all(), "world positions lie in the [-5, 5] spawn box"
    assert np.abs(frames.positions).max() > 4.0, "... and fill it"
    assert (scene.kinds == np.array(kinds)).all()
    sensor = frames.positions.reshape(n, 3, 3) + np.array(SceneSettings().spawn_center)
    assert np.allclose(sensor, scene.centers, atol=1e-5)
    assert (sensor[..., 1] >= 20.0).all() and (sensor[..., 1] <= 30.0).all()
    # Each slot's LiDAR hits cluster around its target position (within the object's bounding radius).
    out = render(scene)
    bound = SceneSettings().bounding_radius()
    beams = beam_directions()
    checked = 0
    for i in range(n):
        for k in range(3):
            hit = out.beam_object[i] == k
            if hit.sum() < 5:
                continue
            points = frames.depth[i][hit][:, None] * beams[hit]
            assert np.linalg.norm(points - sensor[i, k], axis=1).max() <= bound[kinds[k]] + 1e-3
            checked += 1
    assert checked > n


def test_cubes_colours_follow_the_target_order():
    # Slot 0 is red, 1 green, 2 blue: in each slot's mask that channel dominates (all but a few edge pixels,
    # where anti-aliasing mixes in a neighbouring cube).
    scene, _ = sample_scene("cubes", 32, seed=2)
    out = render(scene)
    for k, channel in enumerate((0, 1, 2)):
        pixels = out.rgba[..., :3][out.pixel_object == k].astype(int)
        lit = pixels.max(axis=1) > 30
        assert lit.sum() > 50
        others = [c for c in range(3) if c != channel]
        dominant = pixels[lit][:, channel] > pixels[lit][:, others].max(axis=1)
        assert dominant.mean() > 0.98


def test_parallel_hues_vary():
    scene, _ = sample_scene("parallel", 64, seed=0)
    colors = scene.colors.reshape(-1, 3)
    assert np.unique(np.round(colors, 2), axis=0).shape[0] > 150


def test_settings_change_the_geometry():
    small = generate("shapes", 40, seed=1, settings=SceneSettings(sphere_radius=1.0, cube_side=2.0))
    default = generate("shapes", 40, seed=1)
    assert (small.depth < MAX_RANGE).sum() < 0.6 * (default.depth < MAX_RANGE).sum()


def test_zero_frames_and_bad_arguments():
    empty = generate("shapes", 0)
    assert len(empty) == 0 and empty.depth.shape == (0, 64, 64)
    with pytest.raises(ValueError, match="frames and start must be >= 0"):
        generate("shapes", -1)
