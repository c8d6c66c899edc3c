"""Experiment tracking: every training run (and every benchmark row) in TensorBoard, MLflow or Weights & Biases,
and a per-epoch CSV always.

    >>> from mmzoo.train import fit, get_recipe                                  # doctest: +SKIP
    >>> recipe = get_recipe("assignment", epochs=2)                             # doctest: +SKIP
    >>> fit("late_fusion", recipe, run_dir="runs/lf", log="tensorboard,mlflow")  # doctest: +SKIP

``log=`` (``--log`` on ``mmzoo train`` and ``mmzoo bench``) takes tracker names or a :class:`Tracking`;
:class:`RunLogger` is the one interface the engine, ``fit_many``, the harness and fine-tuning log through, and
each tracker is one small backend (``*_backend.py``) behind :class:`~mmzoo.train.tracking.base.Backend`.
"""
from mmzoo.train.tracking.config import run_config
from mmzoo.train.tracking.finish import WEIGHTS_FOLDER, log_result
from mmzoo.train.tracking.options import BACKENDS, Tracking, tracking_from
from mmzoo.train.tracking.run import CSV_NAME, IDS_NAME, RunLogger, tracked_run
from mmzoo.train.tracking.samples import Sample, prediction_samples

__all__ = ["BACKENDS", "Tracking", "tracking_from", "RunLogger", "tracked_run", "run_config", "log_result",
           "prediction_samples", "Sample", "CSV_NAME", "IDS_NAME", "WEIGHTS_FOLDER"]
