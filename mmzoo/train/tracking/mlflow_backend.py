"""MLflow (``pip install 'mmzoo[mlflow]'``): runs in a local SQLite store by default, through ``MlflowClient``.

Without ``MLFLOW_TRACKING_URI`` the store is ``sqlite:///<root>/mlflow.db`` with artifacts under
``<root>/mlflow-artifacts/`` (``mlflow ui --backend-store-uri sqlite:///<root>/mlflow.db``); with it, the
server or store it names. The experiment holds one run per training run (per row of a benchmark table):
parameters (the flattened configuration), the metric history per epoch, the final numbers, the prediction
samples (images and a table) and the weight folder as artifacts.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from mmzoo.train.tracking.base import Backend, RunInfo, flatten

__all__ = ["MLflowBackend"]

_BATCH = 100  # MLflow's limit of parameters per log_batch call
_VALUE_CHARS = 6000  # and of characters per parameter value


def _now_ms() -> int:
    return int(time.time() * 1000)


class MLflowBackend(Backend):
    """One MLflow run; the run id is MLflow's."""

    name = "mlflow"

    def __init__(self, run: RunInfo) -> None:
        from mlflow import MlflowClient  # needs the mlflow package

        uri = os.environ.get("MLFLOW_TRACKING_URI")
        local = uri is None
        if local:
            run.root.mkdir(parents=True, exist_ok=True)
            uri = f"sqlite:///{(run.root / 'mlflow.db').resolve()}"
        self.client = MlflowClient(tracking_uri=uri)
        self.resumed = run.resume_id is not None
        if self.resumed:
            self.run_id = run.resume_id
            self.client.update_run(self.run_id, status="RUNNING")
            return
        experiment = self.client.get_experiment_by_name(run.experiment)
        if experiment is not None:
            experiment_id = experiment.experiment_id
        else:
            artifacts = (run.root / "mlflow-artifacts").resolve().as_uri() if local else None
            experiment_id = self.client.create_experiment(run.experiment, artifact_location=artifacts)
        self.run_id = self.client.create_run(experiment_id, run_name=run.name).info.run_id

    def log_config(self, config: dict[str, Any]) -> None:
        from mlflow.entities import Param

        values = {key: str(value)[:_VALUE_CHARS] for key, value in flatten(config).items()}
        if self.resumed:  # parameters cannot change: keep the first session's (a resumed run may move device)
            values = {k: v for k, v in values.items() if k not in self.client.get_run(self.run_id).data.params}
        params = [Param(key, value) for key, value in values.items()]
        for start in range(0, len(params), _BATCH):
            self.client.log_batch(self.run_id, params=params[start : start + _BATCH])

    def _metrics(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        stamp = _now_ms()
        metrics = [Metric(key, value, stamp, step) for key, value in values.items()]
        for start in range(0, len(metrics), _BATCH):
            self.client.log_batch(self.run_id, metrics=metrics[start : start + _BATCH])

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        self._metrics(metrics, epoch)

    def log_summary(self, values: dict[str, float]) -> None:
        self._metrics({f"final.{key}": value for key, value in values.items()}, 0)

    def log_samples(self, samples: list) -> None:
        for sample in samples:
            self.client.log_image(self.run_id, sample.image, f"predictions/frame_{sample.index}.png")
        self.client.log_table(self.run_id, data={
            "frame": [s.index for s in samples], "image": [f"predictions/frame_{s.index}.png" for s in samples],
            "target": [s.target for s in samples], "prediction": [s.prediction for s in samples],
            "error": [s.error for s in samples],
        }, artifact_file="predictions.json")

    def log_folder(self, folder: Path, name: str) -> None:
        self.client.log_artifacts(self.run_id, str(folder), artifact_path=name)

    def close(self, ok: bool) -> None:
        self.client.set_terminated(self.run_id, status="FINISHED" if ok else "FAILED")
