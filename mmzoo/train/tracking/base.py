"""The interface every tracker implements, and what a tracker is told about the run it opens.

A backend does one thing: turn mmzoo's records into its tracker's own API calls. It may raise anything (a
missing package, a full disk, a server that does not answer): :class:`~mmzoo.train.tracking.run.RunLogger`
catches it, warns once and stops calling that backend, so a tracker never stops training.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

__all__ = ["RunInfo", "Backend", "scalars", "flatten"]


@dataclass(frozen=True)
class RunInfo:
    """The run a backend opens: its name, its group (``experiment``), the folder of the local stores (``root``)
    and, when a checkpointed run resumes, the tracker's id of the run to continue (``resume_id``)."""

    name: str
    experiment: str
    root: Path
    resume_id: str | None = None


class Backend:
    """One tracker's side of a run. Subclasses open the run in ``__init__`` and set :attr:`run_id` (what a
    resumed run passes back as ``RunInfo.resume_id``)."""

    name: ClassVar[str] = ""
    run_id: str = ""

    def log_config(self, config: dict[str, Any]) -> None:
        """The run's configuration (nested dicts; see :func:`~mmzoo.train.tracking.config.run_config`)."""

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        """One epoch's numbers (losses, metrics, learning rate, times, throughput), at step ``epoch``."""

    def log_summary(self, values: dict[str, float]) -> None:
        """Final numbers of the run (the kept epoch's metrics; a benchmark row's columns)."""

    def log_samples(self, samples: list) -> None:
        """Predictions on a few validation frames (:class:`~mmzoo.train.tracking.samples.Sample`)."""

    def log_folder(self, folder: Path, name: str) -> None:
        """A folder (the kept weights) as an artifact, where the tracker has artifacts."""

    def close(self, ok: bool) -> None:
        """End the run (``ok`` False: training stopped with an error or was interrupted)."""


def scalars(record: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of ``record`` (booleans, None, strings and nan dropped), as floats.

    >>> scalars({"epoch": 1, "lr": 0.001, "cuda_peak_allocated_mib": None, "note": "x", "bad": float("nan")})
    {'epoch': 1.0, 'lr': 0.001}
    """
    out = {}
    for key, value in record.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out[key] = float(value)
    return out


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one level with dotted keys (what MLflow parameters and TensorBoard hparams take).

    >>> flatten({"recipe": {"lr": 0.001, "epochs": 2}, "params": 10})
    {'recipe.lr': 0.001, 'recipe.epochs': 2, 'params': 10}
    """
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
