"""What to log and where: :class:`Tracking`, and the trackers mmzoo can log to (declared as data).

``Tracking(backends=("mlflow",))`` (or ``--log mlflow`` on ``mmzoo train`` and ``mmzoo bench``) sends a run to
MLflow; any subset of :data:`BACKENDS` can be combined. Every tracker keeps its store under ``root``, so nothing
leaves the machine unless the tracker's own environment variables say so (``MLFLOW_TRACKING_URI``,
``WANDB_MODE=online``).

>>> Tracking.parse("tensorboard,mlflow").backends
('tensorboard', 'mlflow')
>>> Tracking.parse("neptune")
Traceback (most recent call last):
...
ValueError: unknown tracker 'neptune' in --log / log=...; choose from tensorboard, mlflow, wandb (comma-separated)
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

__all__ = ["BACKENDS", "Tracking", "tracking_from"]


@dataclass(frozen=True)
class BackendSpec:
    """A tracker: the class that logs to it (``module:Class``, imported only when chosen) and the pip extra
    that installs its package."""

    target: str
    extra: str


#: The trackers, by the name ``--log`` takes.
BACKENDS: dict[str, BackendSpec] = {
    "tensorboard": BackendSpec("mmzoo.train.tracking.tensorboard_backend:TensorBoardBackend", "tensorboard"),
    "mlflow": BackendSpec("mmzoo.train.tracking.mlflow_backend:MLflowBackend", "mlflow"),
    "wandb": BackendSpec("mmzoo.train.tracking.wandb_backend:WandbBackend", "wandb"),
}


@dataclass(frozen=True)
class Tracking:
    """Which trackers a run is logged to, and where their local stores live.

    Attributes:
        backends: any of ``"tensorboard"``, ``"mlflow"``, ``"wandb"`` (none: only the per-epoch CSV).
        root: the folder of the local stores: ``tensorboard/<experiment>/<run>/``, ``mlflow.db`` with
            ``mlflow-artifacts/``, ``wandb/`` (offline runs), and ``<experiment>/<run>/epochs.csv`` for runs
            without a run folder.
        experiment: the group runs are compared in: the MLflow experiment, the W&B group, the TensorBoard folder.
        run_name: the run's name in the trackers (default: the run folder's name, or ``<model>-seed<seed>``).
        samples: validation frames whose predictions by the kept weights are logged at the end (0: none).
    """

    backends: tuple[str, ...] = ()
    root: str | Path = "mmzoo-logs"
    experiment: str = "mmzoo"
    run_name: str | None = None
    samples: int = 5

    def __post_init__(self) -> None:
        backends = tuple(dict.fromkeys(self.backends))
        unknown = [name for name in backends if name not in BACKENDS]
        if unknown:
            raise ValueError(f"unknown tracker {unknown[0]!r} in --log / log=...; choose from "
                             f"{', '.join(BACKENDS)} (comma-separated)")
        if self.samples < 0:
            raise ValueError(f"samples={self.samples}; give 0 (no prediction samples) or more")
        object.__setattr__(self, "backends", backends)

    @classmethod
    def parse(cls, text: str, **fields) -> "Tracking":
        """``"tensorboard,mlflow"`` (what ``--log`` takes) as a :class:`Tracking`; ``fields`` set the rest."""
        return cls(backends=tuple(name.strip().lower() for name in text.split(",") if name.strip()), **fields)

    def replace(self, **fields) -> "Tracking":
        """A copy with ``fields`` changed."""
        return replace(self, **fields)


def tracking_from(log: str | Sequence[str] | Tracking | None, **fields) -> Tracking | None:
    """``log`` as a :class:`Tracking` (None stays None): a comma-separated string, a list of names, or a
    :class:`Tracking`; ``fields`` fill in what a string or list does not say (``root``, ``experiment``...).

    >>> tracking_from(["wandb"], experiment="bench-quick").experiment
    'bench-quick'
    """
    if log is None or isinstance(log, Tracking):
        return log
    if isinstance(log, str):
        return Tracking.parse(log, **fields)
    return Tracking(backends=tuple(log), **fields)
