"""Per-epoch training checkpoints: written atomically, read back to resume a run exactly where it stopped.

A run folder holds ``checkpoint.pt`` (the latest finished epoch: model, optimiser, schedule, shuffling RNG,
history, and the best epoch's weights so far) and ``history.json`` (the same history, readable). The checkpoint
is replaced with ``os.replace`` after the new file is complete, so killing a run at any moment leaves the
previous epoch's checkpoint intact: an interrupted run loses at most the epoch it was in.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from mmzoo.utils.files import atomic_write, atomic_write_json

__all__ = ["CHECKPOINT_NAME", "HISTORY_NAME", "save_checkpoint", "load_checkpoint"]

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


def load_checkpoint(run_dir: str | Path) -> dict[str, Any] | None:
    """The run's checkpoint, or None if it has none yet. Refuses files of another format with a clear error."""
    path = Path(run_dir) / CHECKPOINT_NAME
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated or foreign file: say which, and how to get past it
        raise RuntimeError(f"cannot read the checkpoint {path} ({error}); delete it to start the run afresh") from error
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise RuntimeError(f"{path} is not an mmzoo checkpoint of format {FORMAT_VERSION}; delete it to start afresh")
    return state
