"""Corruptions of camera and LiDAR frames as the sensors would produce them, chosen by name and severity.

Each corruption is registered with the modality it hits and five severity levels whose parameters are data (the
``levels`` of its :class:`CorruptionSpec`), following ImageNet-C (Hendrycks & Dietterich, ICLR 2019): severity
0 is the clean frame, 1..5 grow worse, results are reported per corruption and severity and as their mean.
The ``misalign_*`` corruptions are calibration errors between the sensors (the camera shifted or rotated against
the LiDAR, as thu-ml/3D_Corruptions_AD's spatial misalignment): each sensor's own frame stays clean.
Camera corruptions act on the RGB channels of a ``[0, 1]`` image and keep alpha; LiDAR corruptions act on the
depth map *before* the xyza conversion, so a lost beam becomes a no-return beam (``depth = max_range``, hit mask
0) exactly as the sensor model reports one (:mod:`mmzoo.data.sensor`). Combinations (``both_*``) apply one camera
and one LiDAR corruption at the same severity.

Randomness comes from a ``torch.Generator``: :func:`corrupt_frames` seeds it from ``(seed, name, severity)``, so
the same frames, seed, name and severity always give the same corrupted frames. Adding a corruption is one
function and one decorator:

>>> @register_corruption("camera_invert", "camera", levels=(0.2, 0.4, 0.6, 0.8, 1.0), parameter="mix")
... def _invert(rgb, mix, generator):
...     return rgb * (1 - mix) + (1 - rgb) * mix
>>> "camera_invert" in list_corruptions("camera")
True
>>> _ = _CORRUPTIONS.pop("camera_invert")  # keep the doctest from leaking into the registry
"""
from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

from mmzoo.data.frames import Frames
from mmzoo.data.sensor import MAX_RANGE

__all__ = [
    "MODALITIES",
    "SEVERITIES",
    "CorruptionSpec",
    "register_corruption",
    "register_combination",
    "get_corruption",
    "list_corruptions",
    "corruption_generator",
    "corrupt",
    "corrupt_frames",
    "corruption_table",
]

MODALITIES = ("camera", "lidar", "both")
#: The corrupted severities; 0 (clean) is accepted everywhere and changes nothing.
SEVERITIES = (1, 2, 3, 4, 5)

Level = float | tuple[float, ...]


@dataclass(frozen=True)
class CorruptionSpec:
    """One registered corruption.

    Attributes:
        name: the name given to :func:`corrupt` (``camera_noise``, ``lidar_sector``, ...).
        modality: ``camera``, ``lidar`` or ``both``.
        levels: the parameter of severities 1..5, in order (for ``both``: the parts' own levels apply).
        parameter: what a level sets, with its unit.
        description: one line for tables and docs.
        fn: ``fn(rgb, level, generator)`` for the camera (``rgb`` float ``(B, C, H, W)`` in [0, 1], C = 3 or 4),
            ``fn(depth, level, generator, max_range)`` for the LiDAR (``depth`` float ``(B, A, Z)``); None for
            a combination.
        parts: the camera and LiDAR corruptions a ``both`` corruption applies.
    """

    name: str
    modality: str
    levels: tuple[Level, ...]
    parameter: str
    description: str = ""
    fn: Callable[..., torch.Tensor] | None = None
    parts: tuple[str, ...] = ()

    def level(self, severity: int) -> Level:
        """The parameter of ``severity`` (1..5)."""
        return self.levels[severity - 1]


_CORRUPTIONS: dict[str, CorruptionSpec] = {}


def _add(spec: CorruptionSpec) -> None:
    if spec.name in _CORRUPTIONS:
        raise ValueError(f"corruption {spec.name!r} is already registered; pick another name")
    if spec.modality not in MODALITIES:
        raise ValueError(f"corruption {spec.name!r}: modality {spec.modality!r}; choose one of {MODALITIES}")
    if len(spec.levels) != len(SEVERITIES):
        raise ValueError(f"corruption {spec.name!r} needs {len(SEVERITIES)} levels; got {len(spec.levels)}")
    _CORRUPTIONS[spec.name] = spec


def register_corruption(
    name: str, modality: str, levels: tuple[Level, ...], parameter: str, description: str = ""
) -> Callable[[Callable[..., torch.Tensor]], Callable[..., torch.Tensor]]:
    """Function decorator registering a ``camera`` or ``lidar`` corruption (see :class:`CorruptionSpec`)."""
    if modality not in ("camera", "lidar"):
        raise ValueError(f"register_corruption takes modality 'camera' or 'lidar'; got {modality!r}")

    def decorator(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        doc = " ".join((fn.__doc__ or "").split())  # one line, for tables
        _add(CorruptionSpec(name, modality, tuple(levels), parameter, description or doc, fn))
        return fn

    return decorator


def register_combination(name: str, camera: str, lidar: str, description: str = "") -> CorruptionSpec:
    """Register ``name`` as ``camera`` and ``lidar`` corruptions applied together at the same severity."""
    parts = (get_corruption(camera), get_corruption(lidar))
    if [p.modality for p in parts] != ["camera", "lidar"]:
        raise ValueError(f"combination {name!r} needs a camera and a LiDAR corruption; got {camera!r}, {lidar!r}")
    levels = tuple(zip(parts[0].levels, parts[1].levels, strict=True))
    spec = CorruptionSpec(name, "both", levels, f"{parts[0].parameter}; {parts[1].parameter}",
                          description or f"{camera} and {lidar} at the same severity", None, (camera, lidar))
    _add(spec)
    return spec


def get_corruption(name: str) -> CorruptionSpec:
    """The :class:`CorruptionSpec` called ``name``; an unknown name raises ``ValueError`` listing the known ones."""
    if name not in _CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; registered: {', '.join(list_corruptions())}")
    return _CORRUPTIONS[name]


def list_corruptions(modality: str | None = None) -> list[str]:
    """Names of the registered corruptions (of one ``modality`` if given), camera first, then LiDAR, then both."""
    if modality is not None and modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}; choose one of {MODALITIES}")
    order = {m: i for i, m in enumerate(MODALITIES)}
    specs = sorted(_CORRUPTIONS.values(), key=lambda s: order[s.modality])  # stable: registration order within
    return [s.name for s in specs if modality is None or s.modality == modality]


def corruption_generator(seed: int, name: str, severity: int, device: torch.device | str = "cpu") -> torch.Generator:
    """The generator :func:`corrupt_frames` uses: one independent stream per ``(seed, name, severity)``."""
    key = np.random.SeedSequence([int(seed), zlib.crc32(name.encode()), int(severity)]).generate_state(1)[0]
    return torch.Generator(device=device).manual_seed(int(key))


def _check_severity(severity: int) -> None:
    if severity not in (0, *SEVERITIES) or isinstance(severity, bool):
        raise ValueError(f"severity must be an integer from 0 (clean) to {SEVERITIES[-1]}; got {severity!r}")


def corrupt(
    name: str,
    severity: int,
    rgb: torch.Tensor | None = None,
    depth: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    max_range: float = MAX_RANGE,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Apply corruption ``name`` at ``severity`` to a batch; returns new ``(rgb, depth)`` (inputs untouched).

    Args:
        rgb: float ``(B, C, H, W)`` camera images in [0, 1] (C = 3, or 4 with alpha, which is kept).
        depth: float ``(B, A, Z)`` LiDAR range maps (no-return beams hold ``max_range``).
        generator: the random stream (on the tensors' device); default: a fresh one seeded 0.
    A modality the corruption does not touch is returned as given; one it touches must be given.

    >>> rgb, depth = corrupt("lidar_missing", 5, depth=torch.full((2, 64, 64), 20.0))
    >>> rgb is None, bool((depth == MAX_RANGE).all())
    (True, True)
    """
    spec = get_corruption(name)
    _check_severity(severity)
    if severity == 0:
        return rgb, depth
    device = (rgb if rgb is not None else depth).device if (rgb is not None or depth is not None) else "cpu"
    generator = generator if generator is not None else torch.Generator(device=device).manual_seed(0)
    for part in [get_corruption(p) for p in spec.parts] or [spec]:
        if part.modality == "camera":
            if rgb is None:
                raise ValueError(f"corruption {name!r} changes the camera image; pass rgb")
            rgb = torch.cat([part.fn(rgb[:, :3], part.level(severity), generator), rgb[:, 3:]], dim=1)
        else:
            if depth is None:
                raise ValueError(f"corruption {name!r} changes the LiDAR depth map; pass depth")
            depth = part.fn(depth, part.level(severity), generator, max_range)
    return rgb, depth


def corrupt_frames(frames: Frames, name: str, severity: int, seed: int = 0, max_range: float = MAX_RANGE) -> Frames:
    """``frames`` with corruption ``name`` at ``severity`` (0: the same object), deterministic for ``seed``.

    The camera is corrupted in float and stored back as uint8 (rounded), as a camera would record it; the depth
    stays float32. ``metadata["corruption"]`` records the name, severity and seed.
    """
    spec = get_corruption(name)
    _check_severity(severity)
    if severity == 0:
        return frames
    touches = {spec.modality} if spec.modality != "both" else {"camera", "lidar"}
    rgb = torch.from_numpy(frames.rgba).permute(0, 3, 1, 2).float().div_(255.0) if "camera" in touches else None
    depth = torch.from_numpy(np.array(frames.depth)) if "lidar" in touches else None
    rgb, depth = corrupt(name, severity, rgb, depth, corruption_generator(seed, name, severity), max_range)
    rgba = frames.rgba
    if rgb is not None:
        rgba = rgb.mul(255.0).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
    metadata = {**frames.metadata, "corruption": {"name": name, "severity": int(severity), "seed": int(seed)}}
    return replace(frames, rgba=rgba, depth=frames.depth if depth is None else depth.numpy(), metadata=metadata)


def corruption_table() -> list[dict[str, Any]]:
    """One row per corruption: name, modality, parameter, the five levels and the description (for docs)."""
    return [
        {"name": s.name, "modality": s.modality, "parameter": s.parameter, "levels": list(s.levels),
         "description": s.description}
        for s in (get_corruption(n) for n in list_corruptions())
    ]


# ---------------------------------------------------------------------------------------------------------------
# Helpers shared by the corruptions below.


def _pick(count: int, fraction: float, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """A boolean mask of exactly ``round(fraction * count)`` randomly chosen entries (an exact rate, not a coin
    per entry, so that severity 5 of a 'missing' corruption loses every frame and severity 1 exactly a fifth)."""
    chosen = torch.randperm(count, generator=generator, device=device)[: round(fraction * count)]
    mask = torch.zeros(count, dtype=torch.bool, device=device)
    mask[chosen] = True
    return mask


def _band(batch: int, size: int, width: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """``(batch, size)`` mask: per frame one run of ``width`` consecutive indices at a random start."""
    start = torch.randint(0, size - width + 1, (batch, 1), generator=generator, device=device)
    index = torch.arange(size, device=device)[None, :]
    return (index >= start) & (index < start + width)


# ---------------------------------------------------------------------------------------------------------------
# Camera: ``fn(rgb (B, 3, H, W) in [0, 1], level, generator) -> rgb``. Alpha is split off and kept by ``corrupt``.


@register_corruption("camera_missing", "camera", (0.2, 0.4, 0.6, 0.8, 1.0), "fraction of frames without a camera")
def _camera_missing(rgb: torch.Tensor, fraction: float, generator: torch.Generator) -> torch.Tensor:
    """The camera delivers black frames (alpha kept) in a fraction of the frames; severity 5: in all of them."""
    lost = _pick(len(rgb), fraction, generator, rgb.device)
    return rgb.masked_fill(lost[:, None, None, None], 0.0)


@register_corruption("camera_dark", "camera", (0.5, 0.3, 0.2, 0.1, 0.05), "brightness gain")
def _camera_dark(rgb: torch.Tensor, gain: float, generator: torch.Generator) -> torch.Tensor:
    """Low light: every pixel scaled by a gain below 1 (dim objects vanish when stored as uint8)."""
    return rgb * gain


@register_corruption(
    "camera_overexposure", "camera", ((1.5, 0.1), (2.0, 0.2), (3.0, 0.3), (4.0, 0.4), (6.0, 0.5)),
    "gain, offset (clipped to 1)",
)
def _camera_overexposure(rgb: torch.Tensor, level: tuple[float, float], generator: torch.Generator) -> torch.Tensor:
    """Glare: gain and a flare offset, then clipping, so bright objects saturate and the background greys."""
    gain, offset = level
    return (rgb * gain + offset).clamp(0.0, 1.0)


@register_corruption("camera_noise", "camera", (0.08, 0.12, 0.18, 0.26, 0.38), "noise sigma (of full scale)")
def _camera_noise(rgb: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """Additive Gaussian noise per pixel and channel, clipped to [0, 1] (ImageNet-C's sigmas)."""
    noise = torch.randn(rgb.shape, generator=generator, device=rgb.device, dtype=rgb.dtype)
    return (rgb + sigma * noise).clamp(0.0, 1.0)


@register_corruption("camera_blur", "camera", (0.5, 1.0, 1.5, 2.0, 3.0), "Gaussian sigma (pixels)")
def _camera_blur(rgb: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """Defocus or a smeared lens: Gaussian blur with a kernel of 2 * ceil(3 sigma) + 1 pixels."""
    size = 2 * int(np.ceil(3 * sigma)) + 1
    return TF.gaussian_blur(rgb, kernel_size=[size, size], sigma=[sigma, sigma])


@register_corruption("camera_occlusion", "camera", (0.1, 0.2, 0.3, 0.4, 0.5), "patch side (of image side)")
def _camera_occlusion(rgb: torch.Tensor, side: float, generator: torch.Generator) -> torch.Tensor:
    """Dirt on the lens: a black square patch at a random place per frame."""
    batch, _, height, width = rgb.shape
    rows = _band(batch, height, max(1, round(side * height)), generator, rgb.device)
    cols = _band(batch, width, max(1, round(side * width)), generator, rgb.device)
    patch = rows[:, :, None] & cols[:, None, :]
    return rgb.masked_fill(patch[:, None], 0.0)


def _move_camera(rgb: torch.Tensor, degrees: torch.Tensor, shift_px: torch.Tensor) -> torch.Tensor:
    """Each frame's image rotated by ``degrees`` about its centre and moved by ``shift_px`` (B, 2: x, y) pixels,
    resampled bilinearly; what enters from outside the view repeats the border (the scene goes on there)."""
    batch, _, height, width = rgb.shape
    angle = torch.deg2rad(degrees.to(rgb.dtype))
    theta = torch.zeros(batch, 2, 3, dtype=rgb.dtype, device=rgb.device)
    theta[:, 0, 0], theta[:, 0, 1] = torch.cos(angle), -torch.sin(angle)
    theta[:, 1, 0], theta[:, 1, 1] = torch.sin(angle), torch.cos(angle)
    theta[:, 0, 2] = -2 * shift_px[:, 0].to(rgb.dtype) / width  # the grid samples where the content came from
    theta[:, 1, 2] = -2 * shift_px[:, 1].to(rgb.dtype) / height
    grid = torch.nn.functional.affine_grid(theta, list(rgb.shape), align_corners=False)
    return torch.nn.functional.grid_sample(rgb, grid, mode="bilinear", padding_mode="border", align_corners=False)


@register_corruption("misalign_shift", "camera", (1.0, 2.0, 4.0, 6.0, 8.0), "camera shift against the LiDAR (pixels)")
def _misalign_shift(rgb: torch.Tensor, pixels: float, generator: torch.Generator) -> torch.Tensor:
    """Calibration error: the camera image moved against the LiDAR by a fixed distance in a random direction per
    frame (a translation error of the extrinsics), the LiDAR untouched."""
    direction = torch.rand(len(rgb), generator=generator, device=rgb.device) * 2 * torch.pi
    shift = pixels * torch.stack([torch.cos(direction), torch.sin(direction)], dim=1)
    return _move_camera(rgb, torch.zeros(len(rgb), device=rgb.device), shift)


@register_corruption(
    "misalign_rotation", "camera", (1.0, 2.0, 4.0, 6.0, 8.0), "camera roll against the LiDAR (degrees)"
)
def _misalign_rotation(rgb: torch.Tensor, degrees: float, generator: torch.Generator) -> torch.Tensor:
    """Calibration error: the camera image rotated against the LiDAR about the image centre, clockwise or
    counter-clockwise at random per frame (a rotation error of the extrinsics), the LiDAR untouched."""
    sign = torch.randint(0, 2, (len(rgb),), generator=generator, device=rgb.device) * 2 - 1
    return _move_camera(rgb, sign * degrees, torch.zeros(len(rgb), 2, device=rgb.device))


# ---------------------------------------------------------------------------------------------------------------
# LiDAR: ``fn(depth (B, A, Z), level, generator, max_range) -> depth``; a lost beam holds ``max_range``.


@register_corruption("lidar_missing", "lidar", (0.2, 0.4, 0.6, 0.8, 1.0), "fraction of frames without a LiDAR")
def _lidar_missing(depth: torch.Tensor, fraction: float, generator: torch.Generator, max_range: float) -> torch.Tensor:
    """Every beam returns nothing (depth = max range, no hits) in a fraction of the frames; severity 5: all."""
    lost = _pick(len(depth), fraction, generator, depth.device)
    return depth.masked_fill(lost[:, None, None], max_range)


@register_corruption("lidar_dropout", "lidar", (0.1, 0.25, 0.4, 0.6, 0.8), "probability a beam is lost")
def _lidar_dropout(depth: torch.Tensor, p: float, generator: torch.Generator, max_range: float) -> torch.Tensor:
    """Random beam dropout (rain, absorbing surfaces): each beam independently returns nothing."""
    lost = torch.rand(depth.shape, generator=generator, device=depth.device) < p
    return depth.masked_fill(lost, max_range)


@register_corruption("lidar_range_noise", "lidar", (0.05, 0.1, 0.2, 0.4, 0.8), "range noise sigma (scene units)")
def _lidar_range_noise(depth: torch.Tensor, sigma: float, generator: torch.Generator, max_range: float) -> torch.Tensor:
    """Gaussian noise on the range of the beams that hit; a hit stays a hit and a no-return stays one."""
    noise = torch.randn(depth.shape, generator=generator, device=depth.device, dtype=depth.dtype)
    below = torch.nextafter(torch.tensor(max_range, dtype=depth.dtype), torch.tensor(0.0, dtype=depth.dtype))
    noisy = (depth + sigma * noise).clamp(0.0, float(below))
    return torch.where(depth < max_range, noisy, depth)


@register_corruption("lidar_sector", "lidar", (0.1, 0.2, 0.3, 0.4, 0.5), "fraction of azimuth rows blocked")
def _lidar_sector(depth: torch.Tensor, fraction: float, generator: torch.Generator, max_range: float) -> torch.Tensor:
    """A blocked azimuth sector: round(fraction x rows) consecutive azimuth rows at a random place return nothing."""
    batch, rows, _ = depth.shape
    lost = _band(batch, rows, max(1, round(fraction * rows)), generator, depth.device)
    return depth.masked_fill(lost[:, :, None], max_range)


@register_corruption("lidar_lasers", "lidar", (0.1, 0.2, 0.3, 0.4, 0.5), "fraction of zenith columns lost")
def _lidar_lasers(depth: torch.Tensor, fraction: float, generator: torch.Generator, max_range: float) -> torch.Tensor:
    """Dead lasers: round(fraction x columns) consecutive zenith columns at a random place return nothing."""
    batch, _, cols = depth.shape
    lost = _band(batch, cols, max(1, round(fraction * cols)), generator, depth.device)
    return depth.masked_fill(lost[:, None, :], max_range)


@register_corruption("lidar_spurious", "lidar", (0.01, 0.02, 0.05, 0.1, 0.2), "fraction of beams with a ghost return")
def _lidar_spurious(depth: torch.Tensor, fraction: float, generator: torch.Generator, max_range: float) -> torch.Tensor:
    """Spurious returns (dust, rain, cross-talk): chosen beams see a ghost at a uniform range in
    [0.02, 0.9] x max range; the first return wins, so a ghost behind an object leaves the object's range."""
    chosen = torch.rand(depth.shape, generator=generator, device=depth.device) < fraction
    ghost = torch.empty_like(depth).uniform_(0.02 * max_range, 0.9 * max_range, generator=generator)
    return torch.where(chosen, torch.minimum(depth, ghost), depth)


# ---------------------------------------------------------------------------------------------------------------
# Both sensors at once.

register_combination("both_noise", "camera_noise", "lidar_range_noise", "sensor noise on both: camera noise and range noise")
register_combination("both_night_rain", "camera_dark", "lidar_dropout", "night in rain: low light and beam dropout")
