"""The whole training step as one CUDA graph, and the whole validation pass as another.

``mmzoo.train.experimental.fit(..., experimental=ExperimentalOptions(whole_step_graphs=True))`` captures, on one
CUDA device, everything a training step does
(the batch gathered from the permutation on the device, forward, loss, backward, the fused Adam update with the
step's learning rate) as one graph, replayed once per step, and validation over the whole split as a second
graph replayed once per epoch. The assignment's networks at batch 32 are bound by kernel launches on a GPU, so a
replay that launches the whole step at once removes what the forward-and-backward graphs of
:mod:`mmzoo.train.acceleration` leave: the optimiser, the schedule and the batch slicing.

What makes a step capturable is that every input lives in a fixed device tensor the graph reads:

* the epoch's permutation (copied in before the epoch) and the step's position in it (a counter the graph
  advances), from which the step gathers its batch;
* the learning rate, a device tensor Adam reads, which the graph copies from the epoch's schedule (computed
  before the epoch by the recipe's own scheduler, so the values are exactly the eager engine's);
* the loss, summed on the device and read once per epoch.

The recipe is unchanged: the same batches, schedule and initialisation as the eager engine, the same losses
within float tolerance (the learning rate is a float32 tensor instead of a Python float). Capture runs a few
warm-up steps on a side stream first; the weights, the optimiser's state and the BatchNorm statistics are put
back afterwards, so the first real step starts where eager training would.

Without capture (``capture=False``, e.g. on a CPU) :class:`WholeStep` runs the same steps eagerly: that is how
its maths is tested where no GPU is lent. The device-side inputs, the schedule computed ahead and the
warm-up-restore-capture routine are :mod:`mmzoo.train.graphed`'s, shared with :func:`mmzoo.train.many.fit_many`.
"""
from __future__ import annotations

import torch

from mmzoo.train.graphed import GraphedSteps, augmentation_problem
from mmzoo.train.loop import Session, forward_loss, optimizer_step
from mmzoo.train.metrics import evaluation_sums

__all__ = ["WholeStep", "whole_step_problems"]


def whole_step_problems(session: Session) -> list[str]:
    """Why ``session`` cannot run as whole-step graphs (empty when it can)."""
    problems = []
    if session.context.enabled:
        problems.append("it trains under DDP (one process per GPU is needed)")
    augmentation = augmentation_problem(session.recipe)
    if augmentation:
        problems.append(augmentation)
    if len(session.optimizer.param_groups) != 1:
        problems.append("the optimiser has more than one parameter group")
    return problems


class WholeStep(GraphedSteps):
    """The training steps and validation of ``session`` with every input in fixed device tensors
    (:class:`~mmzoo.train.graphed.GraphedSteps` holds them, and captures and replays the step).

    >>> whole = WholeStep(session)                     # doctest: +SKIP
    >>> loss_sum = whole.train_epoch(order)            # doctest: +SKIP
    >>> metrics = whole.validate()                     # doctest: +SKIP
    """

    def __init__(self, session: Session, capture: bool | None = None) -> None:
        problems = whole_step_problems(session)
        if problems:
            raise ValueError(f"whole-step graphs cannot apply: {'; '.join(problems)}; use mmzoo.train.fit (per-part "
                             "CUDA graphs)")
        self.session = session
        device = session.device
        super().__init__(session.optimizer, session.scheduler, session.steps, session.recipe.batch_size, device,
                         device.type == "cuda" if capture is None else capture)
        self.val_graph: torch.cuda.CUDAGraph | None = None
        self.val_sums: dict[str, torch.Tensor] = {}

    # -- the step -------------------------------------------------------------------------------------------------
    def _step(self) -> None:
        """Gather the batch at ``position``, forward, backward, Adam; advance ``position`` (no host reads)."""
        session = self.session
        rgb, lidar, target = session.train.batch(self._batch_index())
        rgb = rgb.contiguous(memory_format=session.memory_format)
        lidar = lidar.contiguous(memory_format=session.memory_format)
        self._take_lr()
        loss = forward_loss(session.model, session.criterion, rgb, lidar, target, session.autocast_dtype)
        self._end_step(optimizer_step(loss, session.optimizer))  # the rate is the device tensor _take_lr set

    def _state(self) -> dict[str, torch.Tensor]:
        """The model's weights and buffers (e.g. BatchNorm statistics), which a warm-up step changes."""
        return self.session.model.state_dict()

    # -- validation -----------------------------------------------------------------------------------------------
    def validate(self) -> dict[str, float]:
        """Metrics over the whole validation split (means per frame), from one replay of the validation graph."""
        session = self.session
        session.model.eval()
        try:
            if self.capture and self.val_graph is None:
                self.val_sums = self._sums()  # warm-up: allocations and kernel selection happen outside capture
                torch.cuda.current_stream(session.device).synchronize()
                self.val_graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(self.val_graph):
                    self.val_sums = self._sums()
            if self.val_graph is not None:
                self.val_graph.replay()
            else:
                self.val_sums = self._sums()
        finally:
            session.model.train()
        return {key: float(value) / len(session.val) for key, value in self.val_sums.items()}

    @torch.inference_mode()
    def _sums(self) -> dict[str, torch.Tensor]:
        session = self.session
        return evaluation_sums(
            session.model, session.val, session.recipe.task, session.recipe.loss, session.eval_batch_size,
            session.memory_format, session.autocast_dtype,
        )
