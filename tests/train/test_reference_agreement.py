"""The engine and the notebook-style loop run the same recipe: same initial weights, same batches in the same
order, same optimiser, loss and schedule. Only how a step is computed differs (memory format, fused Adam), so
over the first steps their losses and weights agree within float rounding."""
from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from mmzoo.train.data import recipe_frames, recipe_tensors
from mmzoo.train.engine import EngineOptions, fit
from mmzoo.train.loop import epoch_order
from mmzoo.train.optim import build_model
from mmzoo.train.recipes import get_recipe
from mmzoo.train.reference import reference_fit

RECIPE = get_recipe("assignment", train_frames=96, val_frames=32, epochs=3, seed=51)


def test_epoch_order_is_the_notebook_dataloaders_over_several_epochs():
    size = 1600
    loader = DataLoader(range(size), batch_size=32, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(51))
    generator = torch.Generator().manual_seed(51)
    for _ in range(4):
        expected = [int(index) for batch in loader for index in batch]
        assert epoch_order(size, generator).tolist() == expected
    # the published record of seed 51's first batch in the notebook's loop
    assert epoch_order(size, torch.Generator().manual_seed(51))[:3].tolist() == [549, 149, 231]


def _engine(recipe):
    return fit("intermediate_add_strided", recipe, data=recipe_tensors(recipe),
               options=EngineOptions(device="cpu", progress=False, amp=None))


def test_engine_and_notebook_loop_agree_over_the_first_steps(assert_same_training):
    """9 optimiser steps of the assignment recipe, keeping the last epoch: every epoch's mean training loss and
    the final weights agree (before the engine drew the notebook's batch order, the first loss already differed)."""
    recipe = RECIPE.replace(select="last")
    engine = _engine(recipe)
    reference = reference_fit("intermediate_add_strided", recipe, *recipe_frames(recipe))
    engine_losses = [record["train_loss"] for record in engine.history]
    reference_losses = [record["train_loss"] for record in reference["history"]]
    # Rounding moves a mean loss by ~1e-7 relative; one lost step moves the next epoch's by ~3e-3.
    assert engine_losses == pytest.approx(reference_losses, rel=1e-4)
    initial = build_model("intermediate_add_strided", recipe, 1).state_dict()
    assert_same_training(engine.model.state_dict(), reference["model"].state_dict(), initial)


@pytest.mark.parametrize("how", ["lost", "flipped"])
def test_one_broken_step_is_caught(how, assert_same_training, break_one_step):
    """The comparison above fails for a real divergence: the notebook loop with one of its 9 steps broken."""
    recipe = RECIPE.replace(select="last")
    engine = _engine(recipe)
    with break_one_step(5, how):
        broken = reference_fit("intermediate_add_strided", recipe, *recipe_frames(recipe))
    initial = build_model("intermediate_add_strided", recipe, 1).state_dict()
    with pytest.raises(AssertionError, match="of how far training moved them"):
        assert_same_training(engine.model.state_dict(), broken["model"].state_dict(), initial)
    assert [r["train_loss"] for r in engine.history] != pytest.approx(
        [r["train_loss"] for r in broken["history"]], rel=1e-4)
