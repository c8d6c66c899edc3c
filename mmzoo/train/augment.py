"""Training that survives a lost sensor: modality dropout and corruption augmentation of a training batch.

Two recipe fields switch them on (both off by default, which leaves every batch untouched):

- ``modality_dropout`` (probability per step): with this probability a step sees one modality, chosen with equal
  odds, missing for the whole batch, as BEVFusion's ``AddFuser`` zeroes one modality's features with a
  probability per training forward pass (Liu et al., BEVFusion, ICRA 2023; ``mmdet3d/models/fusers/add.py`` of
  mit-han-lab/bevfusion). Here the input is dropped, not a feature map, and "missing" means what the sensor reports, the severity-5 values of the ``camera_missing`` and ``lidar_missing`` corruptions: a black
  image with alpha kept, and a LiDAR whose every beam returns nothing (``depth = max range``, so xyza holds the
  max-range points with ``a = 0``), not plain zeros.
- ``corruption_augment``: comma-separated corruptions of :mod:`mmzoo.data.corruptions`, each ``name:severity``
  or a bare ``name`` (severity drawn from 0..5 per step, 0 = clean); each step applies one of them, chosen with
  equal odds, to the whole batch.

LiDAR corruptions act on the depth map: the batch's xyza is turned back into depth (exact: ``xyz`` is the range
times a fixed per-beam vector), corrupted, and converted again, so hit masks stay consistent. Randomness comes
from a generator seeded by ``(recipe.seed, step)``, so a step's augmentation is the same in a resumed run and
needs no state in the checkpoint.

>>> from mmzoo.train.recipes import get_recipe
>>> recipe = get_recipe("assignment", modality_dropout=1.0)
>>> rgb, lidar = augment_batch(torch.rand(2, 4, 64, 64), torch.rand(2, 4, 64, 64), recipe, step=0)
>>> bool((rgb[:, :3] == 0).all()) or bool((lidar[:, 3] == 0).all())
True
"""
from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from mmzoo.data.corruptions import SEVERITIES, corrupt, get_corruption
from mmzoo.data.sensor import AZIMUTH, MAX_RANGE, ZENITH, depth_to_xyza

__all__ = ["DROPPED", "AugmentFields", "parse_corruption_augment", "xyza_to_depth", "step_generator", "augment_batch"]

#: Which corruption (at severity 5) stands for a dropped modality.
DROPPED = {"camera": "camera_missing", "lidar": "lidar_missing"}
# Distinct streams for the two decisions of a step, so adding corruption augmentation to a recipe does not change
# which steps drop a modality.
_DROPOUT_STREAM, _CORRUPTION_STREAM = 0, 1


class AugmentFields(Protocol):
    """The fields of a :class:`~mmzoo.train.recipes.Recipe` the augmentation reads (a protocol, not an import:
    the recipe module imports this one to validate its fields)."""

    seed: int
    lidar_formula: str
    modality_dropout: float
    corruption_augment: str


def parse_corruption_augment(text: str) -> tuple[tuple[str, int | None], ...]:
    """``"camera_noise:3,lidar_dropout"`` -> ``(("camera_noise", 3), ("lidar_dropout", None))``; None = drawn.

    >>> parse_corruption_augment("camera_noise:3, lidar_dropout")
    (('camera_noise', 3), ('lidar_dropout', None))
    """
    entries = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, severity = item.partition(":")
        get_corruption(name.strip())  # unknown names fail with the list of known ones
        if not sep:
            entries.append((name.strip(), None))
            continue
        if not severity.strip().isdigit() or int(severity) not in (0, *SEVERITIES):
            raise ValueError(f"corruption_augment entry {item!r}: the severity after ':' must be 0..5")
        entries.append((name.strip(), int(severity)))
    return tuple(entries)


def _beam_norms(formula: str, device: torch.device) -> torch.Tensor:
    """``|xyz|`` of a unit range per beam: 1 for the assignment formula, not for the course one."""
    return depth_to_xyza(torch.ones(len(AZIMUTH), len(ZENITH), device=device), formula=formula)[:3].norm(dim=0)


def xyza_to_depth(lidar: torch.Tensor, formula: str, max_range: float = MAX_RANGE) -> torch.Tensor:
    """The depth maps ``(B, A, Z)`` behind xyza ``(B, 4, A, Z)`` (made with ``formula``); no-return beams
    (``a = 0``) get exactly ``max_range``. A 1-channel input is already depth."""
    if lidar.shape[1] == 1:
        return lidar[:, 0]
    depth = lidar[:, :3].norm(dim=1) / _beam_norms(formula, lidar.device)
    return torch.where(lidar[:, 3] > 0.5, depth.clamp(max=max_range), torch.full_like(depth, max_range))


def _to_lidar(depth: torch.Tensor, like: torch.Tensor, formula: str) -> torch.Tensor:
    if like.shape[1] == 1:
        return depth[:, None]
    return depth_to_xyza(depth, formula=formula).to(like.dtype)


def step_generator(seed: int, step: int, stream: int, device: torch.device) -> torch.Generator:
    """The generator of one training step's augmentation: a function of ``(seed, step, stream)`` only."""
    key = np.random.SeedSequence([int(seed), int(step), int(stream)]).generate_state(1)[0]
    return torch.Generator(device=device).manual_seed(int(key))


def _apply(rgb: torch.Tensor, lidar: torch.Tensor, name: str, severity: int, formula: str,
           generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    modality = get_corruption(name).modality
    depth = xyza_to_depth(lidar, formula) if modality in ("lidar", "both") else None
    new_rgb, new_depth = corrupt(name, severity, rgb=rgb, depth=depth, generator=generator)
    return new_rgb, (lidar if new_depth is None else _to_lidar(new_depth, lidar, formula))


def augment_batch(
    rgb: torch.Tensor, lidar: torch.Tensor, recipe: AugmentFields, step: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The training batch of global step ``step`` after ``recipe``'s corruption augmentation and modality
    dropout (in that order); the inputs themselves when the recipe asks for neither.

    ``rgb`` is float ``(B, C, H, W)`` in [0, 1]; ``lidar`` is xyza ``(B, 4, A, Z)`` made with
    ``recipe.lidar_formula``, or depth ``(B, 1, A, Z)``.
    """
    if not recipe.modality_dropout and not recipe.corruption_augment:
        return rgb, lidar
    formula = recipe.lidar_formula
    entries = parse_corruption_augment(recipe.corruption_augment)
    if entries:
        generator = step_generator(recipe.seed, step, _CORRUPTION_STREAM, rgb.device)
        pick = int(torch.randint(len(entries), (1,), generator=generator, device=rgb.device))
        name, severity = entries[pick]
        if severity is None:
            severity = int(torch.randint(len(SEVERITIES) + 1, (1,), generator=generator, device=rgb.device))
        rgb, lidar = _apply(rgb, lidar, name, severity, formula, generator)
    if recipe.modality_dropout:
        generator = step_generator(recipe.seed, step, _DROPOUT_STREAM, rgb.device)
        draws = torch.rand(2, generator=generator, device=rgb.device).tolist()
        if draws[0] < recipe.modality_dropout:
            dropped = DROPPED["camera" if draws[1] < 0.5 else "lidar"]
            rgb, lidar = _apply(rgb, lidar, dropped, SEVERITIES[-1], formula, generator)
    return rgb, lidar
