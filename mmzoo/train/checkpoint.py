"""Per-epoch training checkpoints: written atomically, read back to resume a run exactly where it stopped.

A run folder holds ``checkpoint.pt`` (the latest finished epoch: model, optimiser, schedule, shuffling RNG,
history, and the best epoch's weights so far) and ``history.json`` (the same history, readable). The checkpoint
is replaced with ``os.replace`` after the new file is complete, so killing a run at any moment leaves the
previous epoch's checkpoint intact: an interrupted run loses at most the epoch it was in.

:func:`best_state_dict` reads the weights a run keeps (the recipe's selected epoch, not the last one), e.g. for
``mmzoo.create(name, checkpoint_path=run_dir)``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from mmzoo.utils.files import atomic_write, atomic_write_json

__all__ = ["CHECKPOINT_NAME", "HISTORY_NAME", "save_checkpoint", "load_checkpoint", "best_state_dict"]

CHECKPOINT_NAME = "checkpoint.pt"
HISTORY_NAME = "history.json"
FORMAT_VERSION = 1


def save_checkpoint(run_dir: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists, dicts) as the run's checkpoint, and its history as JSON."""
    run_dir = Path(run_dir)
    path = run_dir / CHECKPOINT_NAME
    atomic_write(path, lambda handle: torch.save({"format": FORMAT_VERSION, **state}, handle))
    atomic_write_json(run_dir / HISTORY_NAME, {key: state[key] for key in ("identity", "history") if key in state})
    return path


def _checkpoint_file(path: str | Path) -> Path:
    """``path`` itself if it is a file, else the checkpoint inside the run folder ``path``."""
    path = Path(path)
    return path if path.is_file() else path / CHECKPOINT_NAME


def load_checkpoint(run_dir: str | Path) -> dict[str, Any] | None:
    """The run's checkpoint (``run_dir`` is a run folder or its ``checkpoint.pt``), or None if it has none yet.
    Refuses files of another format with a clear error."""
    path = _checkpoint_file(run_dir)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated or foreign file: say which, and how to get past it
        raise RuntimeError(f"cannot read the checkpoint {path} ({error}); delete it to start the run afresh") from error
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise RuntimeError(f"{path} is not an mmzoo checkpoint of format {FORMAT_VERSION}; delete it to start afresh")
    return state


def best_state_dict(path: str | Path) -> dict[str, Any]:
    """The state dict of the epoch a training run keeps (its recipe's selection: the lowest validation loss, or
    the last epoch for ``select="last"``), from a run folder or its ``checkpoint.pt``.

    The checkpoint also holds the last epoch's weights (to resume from); those are not what the run selected.

    >>> best_state_dict("runs/cat")["head.0.weight"].shape  # doctest: +SKIP
    """
    state = load_checkpoint(path)
    if state is None:
        raise FileNotFoundError(
            f"{_checkpoint_file(path)} does not exist: pass a training run folder (mmzoo train --run-dir) that has "
            "finished at least one epoch, or its checkpoint.pt"
        )
    if state.get("best_state") is None:
        raise ValueError(f"{_checkpoint_file(path)} records no selected epoch; its run has not finished an epoch")
    return state["best_state"]
