"""What "the same training" means when two ways of computing a step are compared, on any x86-64 CPU.

Two implementations of one recipe (the engine and the notebook-style loop, or K runs batched together and the K
separate runs) round differently: other kernels, summation orders and memory formats. Adam turns such a rounding
difference into a visible change of a weight only where that weight's gradient is about zero (its update is
``lr * m / (sqrt(v) + eps)``: a sign flip of a ~0 gradient moves the weight by up to ``2 * lr``). Those weights
are few and carry a negligible share of how far training moved the model. So the comparison is made on the whole
model, relative to its scale: the norm of the difference over the norm of the displacement from the initial
weights. Measured on an AMD EPYC (AVX2) this ratio is ~6e-5 after 9 steps, while one step whose gradient is lost
or has its sign flipped (the tests below break one step on purpose) gives 5e-2 to 9e-2: the bound 1e-2 sits two
orders of magnitude above rounding and five times below the smallest real divergence measured. Elementwise bounds
("fewer than 0.01% of the elements differ by more than 1e-5") depend on the kernels' rounding and on how many
elements a tensor has, and failed on CPUs they were not tuned on.
"""
from __future__ import annotations

import pytest
import torch

#: Largest ||w_a - w_b|| / ||w_b - w_initial|| that two correct implementations of one recipe may show.
DISPLACEMENT_TOLERANCE = 1e-2


def relative_weight_difference(state: dict, expected: dict, initial: dict) -> float:
    """||state - expected|| / ||expected - initial|| over all floating-point tensors of a model."""
    keys = [key for key, value in expected.items() if value.is_floating_point()]
    if sorted(keys) != sorted(key for key, value in state.items() if value.is_floating_point()):
        raise AssertionError("the two models hold different tensors")

    def flat(tensors: dict) -> torch.Tensor:
        return torch.cat([tensors[key].detach().flatten().double() for key in keys])

    moved = (flat(expected) - flat(initial)).norm()
    assert moved > 0, "training did not move the weights: nothing to compare"
    return float((flat(state) - flat(expected)).norm() / moved)


@pytest.fixture
def assert_same_training():
    """``assert_same_training(state, expected, initial)``: fails when ``state`` is not ``expected`` within what
    rounding can explain (see the module docstring)."""

    def check(state: dict, expected: dict, initial: dict) -> float:
        ratio = relative_weight_difference(state, expected, initial)
        assert ratio < DISPLACEMENT_TOLERANCE, (
            f"the weights differ by {ratio:.2e} of how far training moved them (rounding stays below "
            f"{DISPLACEMENT_TOLERANCE:g})")
        return ratio

    return check


@pytest.fixture
def break_one_step():
    """``with break_one_step(5, "lost"):`` corrupts the gradient seen by the 5th optimiser step taken inside the
    block, whichever optimiser and loop take it (a global step pre-hook): ``"lost"`` zeroes it (a batch that did
    not count), ``"flipped"`` negates it (a sign error in one step)."""
    import contextlib

    from torch.optim.optimizer import register_optimizer_step_pre_hook

    @contextlib.contextmanager
    def broken(step: int, how: str):
        calls = 0

        def hook(optimizer, args, kwargs):
            nonlocal calls
            calls += 1
            if calls == step:
                for group in optimizer.param_groups:
                    for parameter in group["params"]:
                        if parameter.grad is not None:
                            parameter.grad.mul_(0.0 if how == "lost" else -1.0)

        handle = register_optimizer_step_pre_hook(hook)
        try:
            yield
        finally:
            handle.remove()
        assert calls >= step, f"only {calls} optimiser steps were taken: step {step} was never broken"

    return broken
