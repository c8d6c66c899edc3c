"""The course's LiDAR: its angle grid, beam directions, and depth -> xyza conversion.

Conventions (the course's): the sensor sits at the origin looking along +y, z up, left-handed.
A depth map is (64, 64) float32 with rows = azimuth beam and columns = zenith beam; both angle arrays are
``(k - 32) * 0.5`` degrees for ``k = 0..63``. No-return beams hold exactly ``MAX_RANGE`` so ``depth < MAX_RANGE``
is the exact hit mask.

Two xyza formulas appear in the sources and both are kept, selectable by name:

- ``"assignment"``: ``x = d sin(-az) cos(-ze)`` (the true beam direction; the assignment notebook),
- ``"course"``:     ``x = d sin(-az)``           (the course lab, without the ``cos(-ze)`` factor on x);

in both ``y = d cos(-az) cos(-ze)``, ``z = d sin(-ze)``, ``a = 1 if d < MAX_RANGE else 0``.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "NUM_BEAMS",
    "BEAM_STEP_RAD",
    "MAX_RANGE",
    "XYZA_FORMULAS",
    "AZIMUTH",
    "ZENITH",
    "beam_angles",
    "beam_directions",
    "hit_mask",
    "depth_to_xyza",
]

NUM_BEAMS = 64
BEAM_STEP_RAD = float(np.deg2rad(0.5))
MAX_RANGE = 50.0
XYZA_FORMULAS = ("assignment", "course")


def beam_angles(num_beams: int = NUM_BEAMS, step_rad: float = BEAM_STEP_RAD) -> np.ndarray:
    """The course's angle array: ``(k - num_beams // 2) * step_rad`` for ``k = 0..num_beams-1`` (float32).

    >>> a = beam_angles(); a.shape, round(float(a[0]), 5), round(float(a[-1]), 5)
    ((64,), -0.27925, 0.27053)
    """
    return ((np.arange(num_beams) - num_beams // 2) * step_rad).astype(np.float32)


AZIMUTH = beam_angles()
ZENITH = beam_angles()
AZIMUTH.setflags(write=False)
ZENITH.setflags(write=False)


def beam_directions(azimuth: np.ndarray = AZIMUTH, zenith: np.ndarray = ZENITH) -> np.ndarray:
    """Unit beam directions, shape ``(len(azimuth), len(zenith), 3)`` float64, rows = azimuth, columns = zenith."""
    az = np.asarray(azimuth, dtype=np.float64)[:, None]
    ze = np.asarray(zenith, dtype=np.float64)[None, :]
    x = np.sin(-az) * np.cos(-ze)
    y = np.cos(-az) * np.cos(-ze)
    z = np.broadcast_to(np.sin(-ze), x.shape)
    return np.stack([x, y, z], axis=-1)


def hit_mask(depth: np.ndarray | torch.Tensor, max_range: float = MAX_RANGE):
    """Boolean mask of the beams that returned (``depth < max_range``)."""
    return depth < max_range


def depth_to_xyza(
    depth: torch.Tensor | np.ndarray,
    azimuth: torch.Tensor | np.ndarray = AZIMUTH,
    zenith: torch.Tensor | np.ndarray = ZENITH,
    formula: str = "assignment",
    max_range: float = MAX_RANGE,
) -> torch.Tensor:
    """Convert depth maps ``(..., A, Z)`` into xyza channels ``(..., 4, A, Z)`` float32.

    ``formula`` is ``"assignment"`` or ``"course"`` (see the module docstring). No-return beams keep the
    xyz of their max-range depth; only ``a = 0`` marks them, as in both notebooks.

    >>> d = torch.full((64, 64), 50.0); d[32, 32] = 10.0
    >>> [abs(v) for v in depth_to_xyza(d)[:, 32, 32].tolist()]
    [0.0, 10.0, 0.0, 1.0]
    """
    if formula not in XYZA_FORMULAS:
        raise ValueError(f"unknown xyza formula {formula!r}; choose one of {XYZA_FORMULAS}")
    d = torch.as_tensor(depth, dtype=torch.float32)
    # np.array copies: the module-level angle arrays are read-only, which torch warns about.
    az = torch.as_tensor(np.array(azimuth, dtype=np.float32), device=d.device)
    ze = torch.as_tensor(np.array(zenith, dtype=np.float32), device=d.device)
    if d.ndim < 2 or d.shape[-2:] != (az.numel(), ze.numel()):
        raise ValueError(
            f"depth must end in (azimuth, zenith) = ({az.numel()}, {ze.numel()}); got shape {tuple(d.shape)}"
        )
    az = az[:, None]
    ze = ze[None, :]
    cos_ze = torch.cos(-ze)
    x = d * torch.sin(-az) * (cos_ze if formula == "assignment" else 1.0)
    y = d * torch.cos(-az) * cos_ze
    z = d * torch.sin(-ze)
    a = (d < max_range).to(torch.float32)
    return torch.stack([x, y, z, a], dim=-3)
