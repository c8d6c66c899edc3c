"""Weights & Biases (``pip install 'mmzoo[wandb]'``): offline runs under ``<root>/wandb/``, no account needed.

The mode is ``WANDB_MODE`` (default ``offline``: nothing leaves the machine; ``wandb sync <root>/wandb/offline-run-*``
uploads later, or set ``WANDB_MODE=online`` after ``wandb login``). Runs go to the project ``WANDB_PROJECT``
(default ``mmzoo``), grouped by experiment (a benchmark table's rows form one group): the configuration, the
history per epoch, the final numbers as the summary, the notebook's table of predictions (a ``wandb.Table`` with
the images) and the weight folder as a model artifact.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from mmzoo.train.tracking.base import Backend, RunInfo

__all__ = ["WandbBackend"]


class WandbBackend(Backend):
    """One W&B run (several may be open at once: ``reinit="create_new"``); the run id is W&B's."""

    name = "wandb"

    def __init__(self, run: RunInfo) -> None:
        import wandb  # needs the wandb package

        self.wandb = wandb
        run.root.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "mmzoo"), group=run.experiment, name=run.name,
            id=run.resume_id, resume="allow" if run.resume_id else None, dir=str(run.root),
            mode=os.environ.get("WANDB_MODE", "offline"), reinit="create_new",
            # No system monitor: it samples in a process of its own, which slowed the epochs of a 2-core CPU
            # (studies/tracking_overhead.py); the epoch records hold mmzoo's own throughput and peak memory.
            settings=wandb.Settings(console="off", silent=True, x_disable_stats=True),
        )
        self.run_id = self.run.id
        self.run_name = run.name

    def log_config(self, config: dict[str, Any]) -> None:
        self.run.config.update(config, allow_val_change=True)

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        self.run.log(metrics, step=epoch)

    def log_summary(self, values: dict[str, float]) -> None:
        self.run.summary.update(values)

    def log_samples(self, samples: list) -> None:
        images = [self.wandb.Image(s.image, caption=f"frame {s.index}: {s.target} -> {s.prediction}") for s in samples]
        table = self.wandb.Table(columns=["frame", "camera | lidar", "target", "prediction", "error"])
        for s, image in zip(samples, images):
            table.add_data(s.index, image, s.target, s.prediction, s.error)
        # The images on their own too: the run folder keeps them as PNGs (a table's cells travel in an artifact).
        self.run.log({"predictions": table, "prediction_images": images})

    def log_folder(self, folder: Path, name: str) -> None:
        artifact = self.wandb.Artifact(re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{self.run_name}-{name}"), type="model")
        artifact.add_dir(str(folder))
        self.run.log_artifact(artifact)

    def close(self, ok: bool) -> None:
        self.run.finish(exit_code=0 if ok else 1)
