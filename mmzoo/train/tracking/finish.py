"""What a trainer logs when a run ends: the kept epoch's numbers, its predictions, its weight folder."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from mmzoo.data.tensors import FusionTensors
from mmzoo.pretrained.folder import save_pretrained
from mmzoo.train.recipes import Recipe
from mmzoo.train.tracking.run import RunLogger
from mmzoo.train.tracking.samples import prediction_samples

__all__ = ["WEIGHTS_FOLDER", "log_result"]

#: Where a tracked run with a run folder keeps the weight folder it logs (``mmzoo.create("local-dir:...")``).
WEIGHTS_FOLDER = "weights"


def log_result(logger: RunLogger, model: nn.Module, val: FusionTensors, recipe: Recipe, best_epoch: int,
               best: dict[str, float], run_dir: str | Path | None = None) -> None:
    """Log the end of a run to ``logger``: the kept epoch and its validation metrics as final numbers, the kept
    weights' predictions on ``logger.tracking.samples`` validation frames, and the weights as a folder
    (``save_pretrained``: written to ``run_dir/weights/`` where there is a run folder, else a temporary one) in
    the trackers that keep artifacts. ``model`` holds the kept weights. Does nothing without an active tracker;
    a failure here warns and training's result stands."""
    if not logger.active:
        return
    logger.summary({"best_epoch": best_epoch, **{f"best_val_{key}": value for key, value in best.items()}})
    try:
        samples = prediction_samples(model, val, recipe.task, logger.tracking.samples)
    except Exception as error:  # e.g. a custom module with another forward: the run's result stands
        logger._warn(f"cannot draw prediction samples ({type(error).__name__}: {error}); none are logged")
        samples = []
    if samples:
        logger.samples(samples)
    if logger.has_artifacts():
        pretrained_cfg: dict[str, Any] = {"recipe": recipe.to_dict(), "best_epoch": best_epoch, "metrics": best}
        try:
            folder = Path(run_dir) / WEIGHTS_FOLDER if run_dir is not None else logger.scratch_folder()
            save_pretrained(model, folder, pretrained_cfg=pretrained_cfg)
        except Exception as error:  # a module not built by mmzoo.create cannot be saved as a folder
            logger._warn(f"cannot save the weight folder ({type(error).__name__}: {error}); it is not logged")
            return
        logger.folder(folder, WEIGHTS_FOLDER)
