"""What a model that ignores its inputs scores on the published tables' validation frames: the yardstick that
says whether a network learned anything.

For the position tables (three cubes) the best input-blind prediction under MSE is the training set's mean of
each of the 9 numbers; for cube vs sphere it is the majority class of the training frames (the set is
balanced, so 0.5). Written to ``benchmarks/results/baselines/results.json``::

    python benchmarks/baselines.py
"""
from __future__ import annotations

from pathlib import Path

import torch

from mmzoo.bench.tables import TABLES
from mmzoo.train.data import recipe_tensors
from mmzoo.train.metrics import batch_metrics, loss_function
from mmzoo.train.recipes import get_recipe
from mmzoo.utils.files import atomic_write_json

RESULTS = Path(__file__).resolve().parent / "results" / "baselines" / "results.json"


def input_blind(table: str) -> dict[str, float]:
    """The input-blind prediction's validation metrics for ``table``'s recipe (its frames, as the harness makes them)."""
    spec = TABLES[table]
    recipe = get_recipe(spec.recipe).override(list(spec.overrides))
    train, val = recipe_tensors(recipe)
    if recipe.task == "regression":
        prediction = train.target.mean(0, keepdim=True).expand_as(val.target)
    else:  # a constant logit for the majority class; the loss is that of the class frequency as a probability
        share = float(train.target.mean())
        prediction = torch.full_like(val.target, torch.logit(torch.tensor(share)).item() if 0 < share < 1 else 0.0)
    metrics = {key: float(value) / len(val) for key, value in batch_metrics(prediction, val.target, recipe.task).items()}
    metrics["loss"] = float(loss_function(recipe.loss)(prediction, val.target))
    return {**metrics, "train_frames": recipe.train_frames, "val_frames": recipe.val_frames}


def main() -> dict:
    result = {table: input_blind(table) for table in ("zoo-shapes", "zoo-cubes", "course")}
    atomic_write_json(RESULTS, result)
    print(result)
    return result


if __name__ == "__main__":
    main()
