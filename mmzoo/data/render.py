"""Scene description and rendering of the synthetic RGB + LiDAR frames (numpy only, no rendering engine).

Every object is intersected analytically (sphere, cube) or by sphere tracing its exact signed distance (torus),
for a whole batch of frames at once (the ray casting itself is :mod:`mmzoo.data.raycast`). The same scene gives

- a camera image: ``(N, H, W, 4)`` uint8 RGBA, single-coloured objects Lambert-shaded by one strong
  directional light on a black background, alpha 255 everywhere (as in the real PNGs); the per-pixel object
  index (``-1`` = background) is returned separately as the mask;
- a LiDAR depth map: ``(N, 64, 64)`` float32 range along each beam of the course's 0.5-degree grid
  (rows = azimuth, columns = zenith), exactly ``max_range`` (50.0) where the beam returns nothing.

Frames (the course's conventions): sensor at the origin looking along +y, z up; beam direction
``(sin(-az) cos(-ze), cos(-az) cos(-ze), sin(-ze))``. The camera is a pinhole roughly co-located with the LiDAR:
image right = +x, image down = -z. All sizes, ranges, colours and light parameters live in :class:`SceneSettings`
(data, not code); the dataset definitions that sample scenes from them live in :mod:`mmzoo.data.sets`.
"""
from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from mmzoo.data.raycast import (
    CUBE,
    NO_OBJECT,
    OBJECT_KINDS,
    SPHERE,
    TORUS,
    RayBundle,
    bounding_radius,
    cast_rays,
    dot3,
    make_rays,
    surface_normals,
)
from mmzoo.data.sensor import AZIMUTH, MAX_RANGE, ZENITH, beam_directions

__all__ = [
    "OBJECT_KINDS",
    "CUBE",
    "SPHERE",
    "TORUS",
    "NO_OBJECT",
    "SceneSettings",
    "Scene",
    "RenderOutput",
    "camera_directions",
    "render",
]

# Frames are rendered in small internal batches: the (frames x rays) work arrays then stay cache-sized, and
# every operation is element-wise per frame, so the result does not depend on this number.
_RENDER_BATCH = 64


@dataclass(frozen=True)
class SceneSettings:
    """Every number the generator uses, with defaults chosen to match the real course frames.

    Geometry (units are the real data's metres-like scene units, in the sensor frame unless noted):
        spawn_center: the world frame's origin in the sensor frame; object centres are sampled in the world frame.
        spawn_half_extent: centres are uniform in ``[-h, h]`` per world axis (x, y, z); default 5 -> a 10-unit
            cube 20-30 units ahead of the sensor.
        sphere_radius: 1.5, the same in every frame (real frames fit 1.447-1.479).
        cube_side: 3.0, the same in every frame (real 2.85-3.2), uniformly random 3-D orientation.
        torus_major_radius, torus_minor_radius: mmzoo's choice (the real torus size is unknown): 1.125 and
            0.375, i.e. a unit-ish torus scaled by 1.5 like the other shapes; its outer radius (1.5) equals the
            sphere's. Random 3-D orientation.
    Colours (HSV; one random hue per object where the dataset asks for random colours):
        saturation_range, value_range: pastel to vivid, dark (brown) to bright.
    Light (one directional light per frame, its direction toward the light in spherical angles):
        light_azimuth_deg_range: angle between the light direction and the camera's view axis (+y) in the
            horizontal plane; 90 lights the side facing the image edge (half-moon), below 90 the light comes
            from behind the objects (crescent or edge only), above 90 from the camera side (mostly lit).
            The side (left/right) is random.
        light_elevation_deg_range: elevation of the light above the horizontal plane.
        light_intensity, ambient: Lambert term ``colour * (ambient + intensity * max(0, n . l))``, clipped to 1.
            A strong light (2.0) saturates the lit side and, with 2% ambient, leaves the rest nearly black; it
            gives the real PNGs' mean RGB value of about 0.005 per channel.
    Sensors:
        image_size, camera_hfov_deg: square pinhole camera, horizontal field of view 47 degrees.
        camera_offset: camera position in the sensor frame (co-located with the LiDAR by default).
        supersample: camera rays per pixel side (2 -> 4 rays per pixel, anti-aliased edges).
        max_range: LiDAR no-return value (50.0; the hit mask is ``depth < max_range``).
        torus_march_steps, torus_hit_epsilon: sphere-tracing budget and hit tolerance for tori.
    """

    spawn_center: tuple[float, float, float] = (0.0, 25.0, 0.0)
    spawn_half_extent: tuple[float, float, float] = (5.0, 5.0, 5.0)
    sphere_radius: float = 1.5
    cube_side: float = 3.0
    torus_major_radius: float = 1.125
    torus_minor_radius: float = 0.375
    saturation_range: tuple[float, float] = (0.35, 1.0)
    value_range: tuple[float, float] = (0.45, 1.0)
    light_azimuth_deg_range: tuple[float, float] = (40.0, 140.0)
    light_elevation_deg_range: tuple[float, float] = (10.0, 60.0)
    light_intensity: float = 2.0
    ambient: float = 0.02
    image_size: int = 64
    camera_hfov_deg: float = 47.0
    camera_offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    supersample: int = 2
    max_range: float = MAX_RANGE
    torus_march_steps: int = 40
    torus_hit_epsilon: float = 1e-3

    def __post_init__(self) -> None:
        checks = {
            "sphere_radius": self.sphere_radius > 0,
            "cube_side": self.cube_side > 0,
            "torus_minor_radius": 0 < self.torus_minor_radius < self.torus_major_radius,
            "image_size": self.image_size > 0,
            "camera_hfov_deg": 0 < self.camera_hfov_deg < 180,
            "supersample": self.supersample >= 1,
            "max_range": self.max_range > 0,
            "spawn_half_extent": all(h >= 0 for h in self.spawn_half_extent),
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(
                f"invalid SceneSettings field(s) {bad}: sizes, ranges and the field of view must be positive, "
                "the torus tube radius smaller than its major radius, supersample >= 1"
            )

    def bounding_radius(self) -> np.ndarray:
        """Radius of each kind's bounding sphere, indexed by kind (``CUBE``, ``SPHERE``, ``TORUS``)."""
        return bounding_radius(self)


@dataclass
class Scene:
    """A batch of ``N`` scenes with ``K`` object slots each (all arrays share the leading ``N``).

    Attributes:
        kinds: ``(N, K)`` int8 object kind per slot (``CUBE``, ``SPHERE``, ``TORUS`` or ``NO_OBJECT``).
        centers: ``(N, K, 3)`` float64 object centres in the sensor frame.
        rotations: ``(N, K, 3, 3)`` float64 object-to-sensor rotation matrices.
        colors: ``(N, K, 3)`` float64 RGB in ``[0, 1]``.
        light_dirs: ``(N, 3)`` float64 unit vectors pointing toward the light.
    """

    kinds: np.ndarray
    centers: np.ndarray
    rotations: np.ndarray
    colors: np.ndarray
    light_dirs: np.ndarray

    def __len__(self) -> int:
        return len(self.kinds)

    def subset(self, index: slice | np.ndarray) -> "Scene":
        """The scenes selected by ``index``."""
        return Scene(**{f: getattr(self, f)[index] for f in _SCENE_FIELDS})

    @staticmethod
    def concatenate(scenes: list["Scene"]) -> "Scene":
        """One scene batch holding ``scenes`` in order."""
        return Scene(**{f: np.concatenate([getattr(s, f) for s in scenes]) for f in _SCENE_FIELDS})


_SCENE_FIELDS = ("kinds", "centers", "rotations", "colors", "light_dirs")


@dataclass
class RenderOutput:
    """What :func:`render` returns.

    Attributes:
        rgba: ``(N, H, W, 4)`` uint8 camera images, alpha 255 everywhere.
        depth: ``(N, 64, 64)`` float32 LiDAR ranges, rows = azimuth, columns = zenith; ``max_range`` = no return.
        pixel_object: ``(N, H, W)`` int8 slot index of the object seen at each pixel centre, ``-1`` = background.
        beam_object: ``(N, 64, 64)`` int8 slot index of the object each beam hit, ``-1`` = no return.
    """

    rgba: np.ndarray
    depth: np.ndarray
    pixel_object: np.ndarray
    beam_object: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """``(N, H, W)`` bool object mask of the camera image (the alpha channel stays 255, as in the real data)."""
        return self.pixel_object >= 0


def camera_directions(settings: SceneSettings, supersample: int = 1) -> np.ndarray:
    """Unit ray directions of the pinhole camera, ``(H, W, s*s, 3)`` float64 (``s`` sub-pixel rays per side).

    Column ``j`` grows toward +x (image right), row ``i`` toward -z (image down); square pixels, so the vertical
    field of view equals the horizontal one.
    """
    size, s = settings.image_size, supersample
    half_width = np.tan(np.deg2rad(settings.camera_hfov_deg) / 2.0)
    sub = (np.arange(s) + 0.5) / s
    coords = (np.arange(size)[:, None] + sub[None, :]) / size * 2.0 - 1.0  # (size, s) in [-1, 1]
    u = coords * half_width
    x = np.broadcast_to(u[None, :, None, :], (size, size, s, s))  # columns -> x
    z = np.broadcast_to(-u[:, None, :, None], (size, size, s, s))  # rows -> -z
    dirs = np.stack([x, np.ones_like(x), z], axis=-1).reshape(size, size, s * s, 3)
    return dirs / np.linalg.norm(dirs, axis=-1, keepdims=True)


def _render_camera(
    scene: Scene, rays: RayBundle, directions: np.ndarray, settings: SceneSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shade the camera rays' hits; returns the lit pixels and the object index at pixel centres.

    ``directions`` are the camera rays in grid order, ``(H * W * S, 3)``. Returns ``frame (M,)``, ``pixel (M,)``
    (flat ``row * W + column``) and ``rgb (M, 3)`` uint8 for the pixels any sub-ray hit, and the ``(N, H, W)``
    int8 object index map.
    """
    size, samples = settings.image_size, settings.supersample**2
    n = len(scene)
    t, slot = cast_rays(scene, rays, settings)
    fi, ti, pi = np.nonzero(slot >= 0)
    ri = rays.grid_index[ti, pi]
    sk = slot[fi, ti, pi].astype(np.intp)
    points = rays.origin + t[fi, ti, pi, None] * directions[ri]
    normals = surface_normals(scene, fi, sk, points, settings)
    lambert = np.maximum(dot3(normals, scene.light_dirs[fi]), 0.0)
    shade = settings.ambient + settings.light_intensity * lambert
    colour = np.clip(scene.colors[fi, sk] * shade[:, None], 0.0, 1.0)
    # Average the sub-rays of each pixel (background sub-rays count as black). np.unique sorts the pixel ids and
    # bincount adds in input order, so each pixel's sum is the same whatever the batch size.
    pixel_ids, inverse = np.unique(fi * (size * size) + ri // samples, return_inverse=True)
    sums = np.stack([np.bincount(inverse, weights=colour[:, c], minlength=len(pixel_ids)) for c in range(3)], 1)
    rgb = np.round(sums / samples * 255.0).astype(np.uint8)
    # The pixel's object is the one seen by the sub-ray nearest its centre (with s*s sub-rays, the middle one
    # for odd s; for even s the first of the central four, which is equally good for a mask).
    side = settings.supersample
    centre = (samples - 1) // 2 if side % 2 else (side // 2 - 1) * (side + 1)
    centre_rays = rays.grid_order[np.arange(size * size) * samples + centre]
    pixel_object = slot.reshape(n, -1)[:, centre_rays].reshape(n, size, size)
    return pixel_ids // (size * size), pixel_ids % (size * size), rgb, pixel_object


@functools.lru_cache(maxsize=8)
def _rays(settings: SceneSettings) -> tuple[RayBundle, RayBundle, np.ndarray]:
    """The LiDAR and camera ray bundles and the camera directions in grid order (cached: settings are frozen)."""
    lidar_rays = make_rays(beam_directions(AZIMUTH, ZENITH)[:, :, None, :])
    camera_grid = camera_directions(settings, settings.supersample)
    return lidar_rays, make_rays(camera_grid, settings.camera_offset), camera_grid.reshape(-1, 3)


def _render_batch(scene: Scene, settings: SceneSettings, out: RenderOutput, part: slice) -> None:
    """Render ``scene`` (a batch of frames) into ``out[part]``."""
    lidar_rays, camera_rays, camera_dirs = _rays(settings)
    n, size = len(scene), settings.image_size
    num_beams = len(AZIMUTH) * len(ZENITH)
    # LiDAR: every beam holds max_range unless it hit something closer (the real data's no-return value).
    t, slot = cast_rays(scene, lidar_rays, settings)
    fi, ti, pi = np.nonzero(t < settings.max_range)
    beams = lidar_rays.grid_index[ti, pi]
    depth = np.full((n, num_beams), settings.max_range, dtype=np.float32)
    depth[fi, beams] = t[fi, ti, pi]
    beam_object = np.full((n, num_beams), NO_OBJECT, dtype=np.int8)
    beam_object[fi, beams] = slot[fi, ti, pi]
    out.depth[part] = depth.reshape(n, len(AZIMUTH), len(ZENITH))
    out.beam_object[part] = beam_object.reshape(n, len(AZIMUTH), len(ZENITH))
    # Camera: black background, lit pixels written sparsely.
    frame, pixel, rgb, out.pixel_object[part] = _render_camera(scene, camera_rays, camera_dirs, settings)
    image = np.zeros((n, size * size, 3), dtype=np.uint8)
    image[frame, pixel] = rgb
    out.rgba[part, ..., :3] = image.reshape(n, size, size, 3)


def render(scene: Scene, settings: SceneSettings | None = None, workers: int | None = None) -> RenderOutput:
    """Render the camera image and the LiDAR depth map of every scene (batched; see :class:`RenderOutput`).

    Frames are rendered in batches of 64 on ``workers`` threads (default: up to 4, one per CPU core; numpy
    releases the GIL in the array operations). Each frame's result is independent of the batching and threads.

    >>> s = SceneSettings()
    >>> scene = Scene(kinds=np.array([[SPHERE]], np.int8), centers=np.array([[[0.0, 25.0, 0.0]]]),
    ...               rotations=np.eye(3)[None, None], colors=np.ones((1, 1, 3)), light_dirs=np.array([[0, -1.0, 0]]))
    >>> out = render(scene, s)
    >>> round(float(out.depth.min()), 3), float(out.depth.max()), int(out.rgba[..., 3].min())
    (23.5, 50.0, 255)
    """
    settings = settings or SceneSettings()
    n, size = len(scene), settings.image_size
    out = RenderOutput(
        rgba=np.empty((n, size, size, 4), dtype=np.uint8),
        depth=np.empty((n, len(AZIMUTH), len(ZENITH)), dtype=np.float32),
        pixel_object=np.empty((n, size, size), dtype=np.int8),
        beam_object=np.empty((n, len(AZIMUTH), len(ZENITH)), dtype=np.int8),
    )
    out.rgba[..., 3] = 255
    parts = [slice(start, min(start + _RENDER_BATCH, n)) for start in range(0, n, _RENDER_BATCH)]
    workers = min(4, os.cpu_count() or 1) if workers is None else max(1, workers)
    if workers == 1 or len(parts) < 2:
        for part in parts:
            _render_batch(scene.subset(part), settings, out, part)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            # list() re-raises the first worker exception here.
            list(pool.map(lambda part: _render_batch(scene.subset(part), settings, out, part), parts))
    return out
