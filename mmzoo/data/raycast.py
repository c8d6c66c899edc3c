"""Vectorised numpy ray casting against cubes, spheres and tori, for a batch of scenes at once.

Rays are shared by all scenes (one sensor, one set of directions) and are stored tile-major: square tiles of
neighbouring rays, each with a cone (axis + half-angle) that bounds its rays. For every object slot the work is
culled in three stages, so only rays near an object cost anything:

1. tile cones against the object's bounding sphere (a few numbers per tile and frame),
2. the surviving tiles' rays against the bounding sphere (dense ``(tiles, rays per tile)`` arrays),
3. the exact intersection: analytic for spheres, a slab test in the object frame for cubes, and sphere
   tracing of the exact signed distance for tori, run only on the rays that entered the bounding sphere.

Every operation is element-wise per (frame, ray) or a per-frame gather, never a reduction across frames, so a
frame's result does not depend on how many frames are cast together (the generator relies on this for
byte-identical output across batch sizes).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = [
    "CUBE",
    "SPHERE",
    "TORUS",
    "NO_OBJECT",
    "OBJECT_KINDS",
    "RayBundle",
    "make_rays",
    "bounding_radius",
    "cast_rays",
    "surface_normals",
    "dot3",
]

OBJECT_KINDS = ("cube", "sphere", "torus")
CUBE, SPHERE, TORUS = 0, 1, 2
NO_OBJECT = -1  # an empty object slot, or a ray that hit nothing


class _Shapes(Protocol):
    """What ray casting needs from the settings: the object sizes."""

    sphere_radius: float
    cube_side: float
    torus_major_radius: float
    torus_minor_radius: float
    torus_march_steps: int
    torus_hit_epsilon: float


class _Objects(Protocol):
    """What ray casting needs from a scene: ``kinds (N, K)``, ``centers (N, K, 3)``, ``rotations (N, K, 3, 3)``."""

    kinds: np.ndarray
    centers: np.ndarray
    rotations: np.ndarray


@dataclass(frozen=True)
class RayBundle:
    """Rays sharing one origin, grouped tile-major for culling (build with :func:`make_rays`).

    Attributes:
        origin: ``(3,)`` ray origin.
        directions: ``(T, P, 3)`` unit directions, ``T`` tiles of ``P`` rays.
        axes: ``(T, 3)`` unit mean direction of each tile.
        half_angles: ``(T,)`` largest angle between a tile's axis and its rays, radians.
        grid_shape: shape of the original direction grid without its last axis, e.g. ``(H, W, S)``.
        grid_index: ``(T, P)`` index of each ray in the flattened original grid.
        grid_order: ``(T * P,)`` position, in tile-major order, of each ray of the flattened original grid.
        components: ``(3, T, P)`` the directions again, one contiguous array per axis (what the hot loops read).
    """

    origin: np.ndarray
    directions: np.ndarray
    axes: np.ndarray
    half_angles: np.ndarray
    grid_shape: tuple[int, ...]
    grid_index: np.ndarray
    grid_order: np.ndarray
    components: np.ndarray

    def to_grid(self, values: np.ndarray) -> np.ndarray:
        """Reorder per-ray values ``(N, T, P)`` to the original grid ``(N,) + grid_shape``."""
        n = values.shape[0]
        return values.reshape(n, -1)[:, self.grid_order].reshape((n,) + self.grid_shape)


def make_rays(grid: np.ndarray, origin=None, tile: int = 4) -> RayBundle:
    """Tile a ``(H, W, S, 3)`` grid of unit directions (``S`` rays per cell) into ``tile x tile``-cell tiles."""
    height, width, samples, _ = grid.shape
    if height % tile or width % tile:
        raise ValueError(f"the ray grid {height}x{width} must be a multiple of the tile size {tile}")
    index = np.arange(height * width * samples).reshape(height // tile, tile, width // tile, tile, samples)
    tiles = index.transpose(0, 2, 1, 3, 4).reshape(-1, tile * tile * samples)
    directions = np.ascontiguousarray(grid.reshape(-1, 3)[tiles], dtype=np.float64)
    axes = directions.mean(axis=1)
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    cos = np.clip(dot3(directions, axes[:, None, :]), -1.0, 1.0)
    half_angles = np.arccos(cos).max(axis=1) + 1e-9
    grid_order = np.empty(tiles.size, dtype=np.intp)
    grid_order[tiles.reshape(-1)] = np.arange(tiles.size)
    return RayBundle(
        origin=np.zeros(3) if origin is None else np.asarray(origin, dtype=np.float64),
        directions=directions,
        axes=axes,
        half_angles=half_angles,
        grid_shape=grid.shape[:-1],
        grid_index=tiles,
        grid_order=grid_order,
        components=np.ascontiguousarray(np.moveaxis(directions, -1, 0)),
    )


def dot3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dot product over the last axis of broadcastable ``(..., 3)`` arrays, written out to stay element-wise."""
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]


def _to_local(rot: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """``rot^T @ vec`` for ``rot (..., 3, 3)`` and ``vec (..., 3)`` (broadcast), element-wise."""
    return rot[..., 0, :] * vec[..., 0, None] + rot[..., 1, :] * vec[..., 1, None] + rot[..., 2, :] * vec[..., 2, None]


def _to_world(rot: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """``rot @ vec`` for ``rot (..., 3, 3)`` and ``vec (..., 3)``, element-wise."""
    return rot[..., :, 0] * vec[..., 0, None] + rot[..., :, 1] * vec[..., 1, None] + rot[..., :, 2] * vec[..., 2, None]


def bounding_radius(shapes: _Shapes) -> np.ndarray:
    """Radius of each kind's bounding sphere, indexed by kind (``CUBE``, ``SPHERE``, ``TORUS``)."""
    cube = shapes.cube_side * np.sqrt(3.0) / 2.0  # half the space diagonal
    torus = shapes.torus_major_radius + shapes.torus_minor_radius
    return np.array([cube, shapes.sphere_radius, torus])


def _intersect_cube(o: np.ndarray, d: np.ndarray, half: float) -> np.ndarray:
    """Slab test in the cube's frame; ``o (3, M, 1)``, ``d (3, M, P)`` (axis first); entry distance ``(M, P)``."""
    t_near = np.full(d.shape[1:], -np.inf)
    t_far = np.full(d.shape[1:], np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        for axis in range(3):
            inv = 1.0 / d[axis]
            t1 = (-half - o[axis]) * inv
            t2 = (half - o[axis]) * inv
            # fmin/fmax skip the NaN of 0 * inf (a ray exactly on a slab plane), which cannot decide the result.
            t_near = np.fmax(t_near, np.fmin(t1, t2))
            t_far = np.fmin(t_far, np.fmax(t1, t2))
    return np.where((t_near <= t_far) & (t_far > 0), np.maximum(t_near, 0.0), np.inf)


def _torus_sdf(p: np.ndarray, major: float, minor: float) -> np.ndarray:
    """Exact signed distance to a torus around the local z axis; ``p`` is ``(M, 3)``."""
    ring = np.sqrt(p[:, 0] ** 2 + p[:, 1] ** 2) - major
    return np.sqrt(ring**2 + p[:, 2] ** 2) - minor


def _intersect_torus(
    o: np.ndarray, d: np.ndarray, t_enter: np.ndarray, t_exit: np.ndarray, shapes: _Shapes
) -> np.ndarray:
    """Sphere-trace the torus SDF from the bounding-sphere entry; ``o``, ``d`` are ``(M, 3)``; returns ``(M,)``."""
    major, minor, eps = shapes.torus_major_radius, shapes.torus_minor_radius, shapes.torus_hit_epsilon
    t = t_enter.copy()
    active = np.arange(len(t))
    # The SDF is exact, so no step overshoots; rays that converge or leave the bounding sphere drop out.
    for _ in range(shapes.torus_march_steps):
        if active.size == 0:
            break
        ta = t[active]
        dist = _torus_sdf(o[active] + ta[:, None] * d[active], major, minor)
        t[active] = ta + dist
        active = active[(dist > 0.1 * eps) & (t[active] < t_exit[active])]
    dist = _torus_sdf(o + t[:, None] * d, major, minor)
    return np.where((dist < eps) & (t < t_exit), t, np.inf)


def cast_rays(scene: _Objects, rays: RayBundle, shapes: _Shapes) -> tuple[np.ndarray, np.ndarray]:
    """Nearest hit of every ray in every scene.

    Args:
        scene: ``N`` scenes of ``K`` object slots (``kinds``, ``centers``, ``rotations``; see ``render.Scene``).
        rays: the rays, shared by all scenes (:func:`make_rays`).
        shapes: object sizes (``render.SceneSettings``).

    Returns:
        ``t``: ``(N, T, P)`` float64 distance to the nearest hit, ``inf`` = miss (``rays.to_grid`` reorders it);
        ``slot``: ``(N, T, P)`` int8 slot index of the object hit, ``NO_OBJECT`` = miss.
    """
    n = len(scene.kinds)
    num_tiles, per_tile = rays.directions.shape[:2]
    t_best = np.full((n, num_tiles, per_tile), np.inf)
    slot_best = np.full((n, num_tiles, per_tile), NO_OBJECT, dtype=np.int8)
    bound = bounding_radius(shapes)
    for k in range(scene.kinds.shape[1]):
        kinds = scene.kinds[:, k]
        present = kinds != NO_OBJECT
        rb = np.where(present, bound[np.clip(kinds, 0, None)], 0.0)
        oc = scene.centers[:, k] - rays.origin
        dist = np.sqrt(dot3(oc, oc))
        safe = np.maximum(dist, 1e-12)
        # Stage 1: a tile can only hit if the angle to the centre <= tile half-angle + bounding-sphere half-angle.
        sphere_angle = np.arcsin(np.clip(rb / safe, 0.0, 1.0))
        cos_to_centre = dot3(oc[:, None, :], rays.axes[None, :, :]) / safe[:, None]
        limit = np.minimum(rays.half_angles[None, :] + sphere_angle[:, None], np.pi)
        tile_hit = (cos_to_centre >= np.cos(limit)) & present[:, None]
        fi, ti = np.nonzero(tile_hit)
        if fi.size == 0:
            continue
        # Stage 2: the candidate tiles' rays against the bounding sphere, as (tiles, rays per tile) arrays; the
        # direction components are separate contiguous arrays (3, tiles, rays per tile) for speed.
        d = rays.components[:, ti]
        oc_t = oc[fi].T[:, :, None]
        proj = oc_t[0] * d[0] + oc_t[1] * d[1] + oc_t[2] * d[2]
        perp2 = (dist[fi] ** 2)[:, None] - proj**2
        rb2 = (rb[fi] ** 2)[:, None]
        inside = (perp2 < rb2) & (proj > -rb[fi, None])
        half_chord = np.sqrt(np.maximum(rb2 - perp2, 0.0))
        t_enter = np.maximum(proj - half_chord, 0.0)
        t_hit = _exact_hits(scene, rays, shapes, k, fi, d, (proj, half_chord, t_enter, inside))
        current = t_best[fi, ti]
        closer = t_hit < current
        t_best[fi, ti] = np.where(closer, t_hit, current)
        slot_best[fi, ti] = np.where(closer, np.int8(k), slot_best[fi, ti])
    return t_best, slot_best


def _exact_hits(scene: _Objects, rays: RayBundle, shapes: _Shapes, k: int, fi: np.ndarray, d: np.ndarray,
                bounds: tuple[np.ndarray, ...]) -> np.ndarray:
    """Stage 3 of :func:`cast_rays`: exact distances for slot ``k``'s candidate rays (``inf`` = miss).

    ``bounds`` holds each candidate ray's projection on the centre, half chord, entry distance and whether it
    enters the bounding sphere."""
    proj, half_chord, t_enter, inside = bounds
    kinds = scene.kinds[:, k]
    # The bounding sphere of a sphere is the sphere itself.
    kind_t = kinds[fi]
    t_hit = np.where(inside & (kind_t == SPHERE)[:, None], t_enter, np.inf)
    cube = np.nonzero(kind_t == CUBE)[0]
    if cube.size:
        rot = scene.rotations[fi[cube], k]  # (M, 3, 3); local axis j = sum_i rot[i, j] * world axis i
        o_local = _to_local(rot, rays.origin - scene.centers[fi[cube], k]).T[:, :, None]
        dc = d[:, cube]
        d_local = np.stack([sum(rot[:, i, j, None] * dc[i] for i in range(3)) for j in range(3)])
        t_cube = _intersect_cube(o_local, d_local, shapes.cube_side / 2.0)
        t_hit[cube] = np.where(inside[cube], t_cube, np.inf)
    torus_tile = kind_t == TORUS
    if torus_tile.any():
        # Sphere tracing is the expensive part: run it on the rays inside the bounding sphere only.
        mi, pi = np.nonzero(inside & torus_tile[:, None])
        rot = scene.rotations[fi[mi], k]
        o_local = _to_local(rot, rays.origin - scene.centers[fi[mi], k])
        d_local = _to_local(rot, d[:, mi, pi].T)
        t_exit = proj[mi, pi] + half_chord[mi, pi]
        t_hit[mi, pi] = _intersect_torus(o_local, d_local, t_enter[mi, pi], t_exit, shapes)
    return t_hit


def surface_normals(
    scene: _Objects, frame: np.ndarray, slot: np.ndarray, points: np.ndarray, shapes: _Shapes
) -> np.ndarray:
    """Unit normals ``(M, 3)`` in the sensor frame at hit ``points (M, 3)`` on object ``slot`` of scene ``frame``."""
    num_slots = scene.kinds.shape[1]
    obj = frame * num_slots + slot  # one flat index: np.take on it is much faster than 2-D fancy indexing
    rot = np.take(scene.rotations.reshape(-1, 3, 3), obj, axis=0)
    local = _to_local(rot, points - np.take(scene.centers.reshape(-1, 3), obj, axis=0))
    kinds = np.take(scene.kinds.reshape(-1), obj)
    normal = local  # sphere: the radial direction
    cube = np.nonzero(kinds == CUBE)[0]
    if cube.size:
        # The face hit is the axis on which the point lies farthest out: keep that coordinate's sign only.
        lc = np.abs(local[cube])
        farthest = lc >= lc.max(axis=1, keepdims=True)
        normal[cube] = np.where(farthest, np.sign(local[cube]), 0.0)
    torus = np.nonzero(kinds == TORUS)[0]
    if torus.size:
        # Gradient of the torus SDF: from the nearest point of the tube's centre circle to the surface point.
        lt = local[torus]
        rho = np.maximum(np.sqrt(lt[:, 0] ** 2 + lt[:, 1] ** 2), 1e-12)
        scale = 1.0 - shapes.torus_major_radius / rho
        normal[torus] = np.stack([lt[:, 0] * scale, lt[:, 1] * scale, lt[:, 2]], axis=1)
    normal = _to_world(rot, normal)
    return normal / np.maximum(np.sqrt(dot3(normal, normal))[:, None], 1e-12)
