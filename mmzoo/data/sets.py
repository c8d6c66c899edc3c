"""The named, versioned synthetic datasets: what is in each frame, how it is sampled, and ``generate``.

Each dataset is declared as data (:class:`DatasetSpec`): its object slots, how they are coloured, and its target.
Randomness is a function of ``(seed, dataset name, frame index)`` only: frame parameters are drawn in fixed-size
chunks of :data:`CHUNK_FRAMES` frames, chunk ``c`` from its own generator keyed by ``(seed, name, c)``. So the
same seed gives byte-identical frames however the caller batches the work (``start`` / ``frames``), and
different seeds give different frames.

Versions: a dataset's ``version`` must change whenever the generator's output for it changes (a new default
setting, a different sampling order, a renderer fix). ``tests/data/test_sets.py`` pins :func:`fingerprint` of a
small seeded sample of each dataset together with its version, so a silent change fails with a message saying
to bump the version here and re-pin the fingerprint.
"""
from __future__ import annotations

import dataclasses
import hashlib
import zlib
from dataclasses import dataclass

import numpy as np

from mmzoo.data.frames import Frames
from mmzoo.data.render import OBJECT_KINDS, Scene, SceneSettings, render
from mmzoo.data.sensor import AZIMUTH, ZENITH

__all__ = [
    "CHUNK_FRAMES",
    "DatasetSpec",
    "DATASETS",
    "list_datasets",
    "get_dataset",
    "sample_scene",
    "generate",
    "fingerprint",
]

# Frame parameters are sampled per chunk of this many frames. Changing it changes every dataset's frames
# (bump all versions), so it is a constant, not a setting.
CHUNK_FRAMES = 256

_PURE_RGB = {"red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0)}


@dataclass(frozen=True)
class DatasetSpec:
    """One named dataset.

    Attributes:
        name: the name given to :func:`generate` and ``mmzoo data generate``.
        version: changes whenever the generated frames change (see the module docstring).
        description: one line for listings.
        slots: the objects in every frame, one entry per slot: an object kind (``"cube"``, ``"sphere"``,
            ``"torus"``), or several kinds joined by ``|`` for a slot whose kind is the frame's class label
            (balanced: every pair of consecutive frames holds one of each of two classes).
        colors: per slot a colour name from ``red``/``green``/``blue`` or ``"hue"`` for one random hue per frame.
        target: ``"label"`` (classification, ``Frames.labels``) or ``"positions"`` (``Frames.positions`` = world
            x, y, z of each slot in slot order).
    """

    name: str
    version: str
    description: str
    slots: tuple[str, ...]
    colors: tuple[str, ...]
    target: str

    @property
    def class_names(self) -> tuple[str, ...]:
        """Label names for a ``"label"`` dataset (the kinds of its labelled slot), else ``()``."""
        return tuple(self.slots[0].split("|")) if self.target == "label" else ()


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="shapes",
            version="1.0",
            description="one cube (label 0) or one sphere (label 1) per frame, random hue; balanced",
            slots=("cube|sphere",),
            colors=("hue",),
            target="label",
        ),
        DatasetSpec(
            name="cubes",
            version="1.0",
            description="a red, a green and a blue cube per frame; positions = their world x, y, z in that order",
            slots=("cube", "cube", "cube"),
            colors=("red", "green", "blue"),
            target="positions",
        ),
        DatasetSpec(
            name="parallel",
            version="1.0",
            description="a cube, a sphere and a torus per frame, random hues; positions = their world x, y, z",
            slots=("cube", "sphere", "torus"),
            colors=("hue", "hue", "hue"),
            target="positions",
        ),
    )
}


def list_datasets() -> list[str]:
    """Names of the synthetic datasets, sorted."""
    return sorted(DATASETS)


def get_dataset(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` called ``name``; an unknown name raises ``ValueError`` listing the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(list_datasets())}") from None


def _random_rotations(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Uniformly random rotation matrices ``shape + (3, 3)`` from normalised Gaussian quaternions."""
    q = rng.standard_normal(shape + (4,))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], axis=-1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], axis=-1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1),
        ],
        axis=-2,
    )


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorised HSV -> RGB, all in ``[0, 1]``; returns ``h.shape + (3,)``."""
    k = (np.array([5.0, 3.0, 1.0]) + h[..., None] * 6.0) % 6.0
    return v[..., None] - v[..., None] * s[..., None] * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def _sample_chunk(spec: DatasetSpec, seed: int, chunk: int, settings: SceneSettings) -> tuple[Scene, np.ndarray]:
    """Scene parameters and labels (or ``-1``) of the ``CHUNK_FRAMES`` frames of chunk ``chunk``."""
    key = [seed, zlib.crc32(spec.name.encode()), chunk]
    rng = np.random.default_rng(np.random.SeedSequence(key))
    n, k = CHUNK_FRAMES, len(spec.slots)
    # Draw everything in a fixed order, whatever the dataset uses, so that each quantity's stream is stable.
    flips = rng.integers(0, 2, size=n // 2)
    world = rng.uniform(-1.0, 1.0, size=(n, k, 3)) * np.asarray(settings.spawn_half_extent)
    rotations = _random_rotations(rng, (n, k))
    hue = rng.uniform(0.0, 1.0, size=(n, k))
    sat = rng.uniform(*settings.saturation_range, size=(n, k))
    val = rng.uniform(*settings.value_range, size=(n, k))
    light_az = np.deg2rad(rng.uniform(*settings.light_azimuth_deg_range, size=n))
    light_side = rng.choice([-1.0, 1.0], size=n)
    light_el = np.deg2rad(rng.uniform(*settings.light_elevation_deg_range, size=n))

    # Balanced labels: each consecutive pair of frames holds one of each class, in random order.
    labels = np.stack([flips, 1 - flips], axis=1).reshape(-1).astype(np.int64)
    kinds = np.empty((n, k), dtype=np.int8)
    colors = np.empty((n, k, 3))
    hue_rgb = _hsv_to_rgb(hue, sat, val)
    for i, (slot, color) in enumerate(zip(spec.slots, spec.colors, strict=True)):
        choices = [OBJECT_KINDS.index(kind) for kind in slot.split("|")]
        kinds[:, i] = np.asarray(choices, dtype=np.int8)[labels % len(choices)] if len(choices) > 1 else choices[0]
        colors[:, i] = hue_rgb[:, i] if color == "hue" else np.asarray(_PURE_RGB[color])
    light = np.stack(
        [light_side * np.sin(light_az) * np.cos(light_el), np.cos(light_az) * np.cos(light_el), np.sin(light_el)],
        axis=1,
    )
    scene = Scene(
        kinds=kinds,
        centers=world + np.asarray(settings.spawn_center),
        rotations=rotations,
        colors=colors,
        light_dirs=light,
    )
    return scene, (labels if spec.target == "label" else np.full(n, -1, dtype=np.int64))


def sample_scene(
    name: str, frames: int, seed: int = 0, start: int = 0, settings: SceneSettings | None = None
) -> tuple[Scene, np.ndarray]:
    """Scene parameters and labels of frames ``start .. start + frames - 1`` of dataset ``name``.

    Frame ``i``'s parameters depend only on ``(seed, name, i)`` and the settings.
    """
    spec = get_dataset(name)
    settings = settings or SceneSettings()
    if frames < 0 or start < 0:
        raise ValueError(f"frames and start must be >= 0; got frames={frames}, start={start}")
    # Every chunk that overlaps the requested frames (at least one, so that frames=0 yields empty arrays).
    first, last = start // CHUNK_FRAMES, (start + max(frames, 1) - 1) // CHUNK_FRAMES
    parts = [_sample_chunk(spec, seed, c, settings) for c in range(first, last + 1)]
    offset = start - first * CHUNK_FRAMES
    pick = slice(offset, offset + frames)
    scene = Scene.concatenate([scene for scene, _ in parts]).subset(pick)
    return scene, np.concatenate([labels for _, labels in parts])[pick]


def generate(
    name: str, frames: int, seed: int = 0, settings: SceneSettings | None = None, start: int = 0
) -> Frames:
    """Generate ``frames`` frames of dataset ``name`` (frame indices ``start ..``; see the module docstring).

    Returns :class:`~mmzoo.data.frames.Frames` with ``labels`` (``"label"`` datasets) or ``positions``
    (world-frame x, y, z per slot, ``(N, 3 * slots)`` float32); ``metadata`` records the dataset name and version,
    seed, start and the generator settings.

    >>> f = generate("shapes", 4, seed=0)
    >>> f.rgba.shape, f.depth.shape, f.labels.tolist().count(1), f.class_names
    ((4, 64, 64, 4), (4, 64, 64), 2, ('cube', 'sphere'))
    """
    spec = get_dataset(name)
    settings = settings or SceneSettings()
    scene, labels = sample_scene(name, frames, seed=seed, start=start, settings=settings)
    out = render(scene, settings)
    positions = None
    if spec.target == "positions":
        world = scene.centers - np.asarray(settings.spawn_center)
        positions = world.reshape(len(scene), -1).astype(np.float32)
    return Frames(
        rgba=out.rgba,
        depth=out.depth,
        azimuth=AZIMUTH.copy(),
        zenith=ZENITH.copy(),
        labels=labels if spec.target == "label" else None,
        positions=positions,
        class_names=spec.class_names,
        metadata={
            "source": "mmzoo.data.sets",
            "dataset": spec.name,
            "version": spec.version,
            "seed": int(seed),
            "start": int(start),
            "settings": dataclasses.asdict(settings),
            "world_origin_in_sensor_frame": list(settings.spawn_center),
        },
    )


def fingerprint(frames: Frames) -> str:
    """A short hash of the frames' content, robust to last-bit floating-point differences between machines.

    Depth is rounded to 1e-4 and positions to 1e-5 before hashing; images and labels are hashed as stored.
    """
    h = hashlib.sha256()
    h.update(frames.rgba.tobytes())
    h.update(np.round(frames.depth.astype(np.float64), 4).tobytes())
    if frames.labels is not None:
        h.update(frames.labels.astype(np.int64).tobytes())
    if frames.positions is not None:
        h.update(np.round(frames.positions.astype(np.float64), 5).tobytes())
    return h.hexdigest()[:16]
