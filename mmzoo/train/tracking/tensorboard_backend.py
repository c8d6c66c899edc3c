"""TensorBoard (``pip install 'mmzoo[tensorboard]'``): ``torch.utils.tensorboard.SummaryWriter`` event files.

A run is the folder ``<root>/tensorboard/<experiment>/<run>/`` (``tensorboard --logdir <root>/tensorboard``):
scalars per epoch, the configuration as text, the prediction samples as images and a text table, and at the end
the configuration with the final numbers in the HParams tab, which compares the runs of an experiment (the rows
of a benchmark table) side by side. TensorBoard has no artifacts: the weight folder is not logged here.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mmzoo.train.tracking.base import Backend, RunInfo, flatten

__all__ = ["TensorBoardBackend"]


def _fresh_folder(folder: Path) -> Path:
    """``folder``, or ``folder-2``, ``folder-3``... if a run already wrote there (events would mix)."""
    candidate, n = folder, 1
    while candidate.exists() and any(candidate.iterdir()):
        n += 1
        candidate = folder.with_name(f"{folder.name}-{n}")
    return candidate


def _hparam(value: Any) -> Any:
    """A value the HParams plugin accepts (numbers, strings, booleans); anything else as JSON text."""
    return value if isinstance(value, (int, float, str, bool)) else json.dumps(value)


class TensorBoardBackend(Backend):
    """Writes one run's event files with ``SummaryWriter``; the run id is the run's folder."""

    name = "tensorboard"

    def __init__(self, run: RunInfo) -> None:
        from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

        folder = Path(run.resume_id) if run.resume_id else _fresh_folder(run.root / "tensorboard" / run.experiment
                                                                            / run.name)
        self.folder = folder
        self.writer = SummaryWriter(log_dir=str(folder))
        self.run_id = str(folder.resolve())
        self.config: dict[str, Any] = {}
        self.summary: dict[str, float] = {}
        self.step = 0

    def log_config(self, config: dict[str, Any]) -> None:
        self.config = {key: _hparam(value) for key, value in flatten(config).items()}
        self.writer.add_text("config", "```\n" + json.dumps(config, indent=2, default=str) + "\n```")
        self.writer.flush()

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, epoch)
        self.step = epoch
        self.writer.flush()

    def log_summary(self, values: dict[str, float]) -> None:
        self.summary.update(values)  # written with the hparams when the run closes

    def log_samples(self, samples: list) -> None:
        rows = ["| frame | target | prediction |", "| --- | --- | --- |"]
        for sample in samples:
            self.writer.add_image(f"predictions/frame_{sample.index}", sample.image, self.step, dataformats="HWC")
            rows.append(f"| {sample.index} | {sample.target} | {sample.prediction} |")
        self.writer.add_text("predictions", "\n".join(rows), self.step)
        self.writer.flush()

    def close(self, ok: bool) -> None:
        if self.config and self.summary:
            # run_name="." keeps the hparams in this run's folder rather than a timestamped sub-folder.
            self.writer.add_hparams(self.config, {f"final/{k}": v for k, v in self.summary.items()}, run_name=".")
        self.writer.close()
