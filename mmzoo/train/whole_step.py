"""The whole training step as one CUDA graph, and the whole validation pass as another.

``EngineOptions(cuda_graphs="whole-step")`` captures, on one CUDA device, everything a training step does
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
its maths is tested where no GPU is lent.
"""
from __future__ import annotations

import warnings

import torch

from mmzoo.train.loop import Session
from mmzoo.train.metrics import evaluation_sums

__all__ = ["WholeStep", "whole_step_problems"]

_WARMUP_STEPS = 3


def whole_step_problems(session: Session) -> list[str]:
    """Why ``session`` cannot run as whole-step graphs (empty when it can)."""
    recipe, problems = session.recipe, []
    if session.context.enabled:
        problems.append("it trains under DDP (one process per GPU is needed)")
    if recipe.modality_dropout or recipe.corruption_augment:
        problems.append("the recipe augments batches (modality_dropout / corruption_augment draw on the host)")
    if len(session.optimizer.param_groups) != 1:
        problems.append("the optimiser has more than one parameter group")
    return problems


class WholeStep:
    """The training steps and validation of ``session`` with every input in fixed device tensors.

    >>> whole = WholeStep(session)                     # doctest: +SKIP
    >>> loss_sum = whole.train_epoch(order)            # doctest: +SKIP
    >>> metrics = whole.validate()                     # doctest: +SKIP
    """

    def __init__(self, session: Session, capture: bool | None = None) -> None:
        problems = whole_step_problems(session)
        if problems:
            raise ValueError(f"cuda_graphs='whole-step' cannot apply: {'; '.join(problems)}; use cuda_graphs=True")
        self.session = session
        self.capture = session.device.type == "cuda" if capture is None else capture
        device, batch = session.device, session.recipe.batch_size
        self.order = torch.zeros(session.steps * batch, dtype=torch.long, device=device)
        self.position = torch.zeros((), dtype=torch.long, device=device)
        self.offsets = torch.arange(batch, device=device)
        self.lrs = torch.zeros(session.steps, dtype=torch.float32, device=device)
        self.lr = torch.zeros((), dtype=torch.float32, device=device)
        self.loss_sum = torch.zeros((), device=device)
        self.train_graph: torch.cuda.CUDAGraph | None = None
        self.val_graph: torch.cuda.CUDAGraph | None = None
        self.val_sums: dict[str, torch.Tensor] = {}

    # -- the step -------------------------------------------------------------------------------------------------
    def _step(self) -> None:
        """Gather the batch at ``position``, forward, backward, Adam; advance ``position`` (no host reads)."""
        session = self.session
        index = self.order.index_select(0, self.position * len(self.offsets) + self.offsets)
        rgb, lidar, target = session.train.batch(index)
        rgb = rgb.contiguous(memory_format=session.memory_format)
        lidar = lidar.contiguous(memory_format=session.memory_format)
        self.lr.copy_(self.lrs.index_select(0, self.position.view(1)).view(()))
        dtype = session.autocast_dtype
        with torch.autocast(session.device.type, dtype=dtype, enabled=dtype is not None, cache_enabled=False):
            output = session.model(rgb, lidar)
        loss = session.criterion(output.float(), target)
        loss.backward()
        session.optimizer.step()
        self.loss_sum += loss.detach()
        self.position += 1

    def _schedule(self) -> list[float]:
        """The learning rate of each step of the coming epoch, from the recipe's scheduler (which it advances
        by the epoch, as the eager engine's steps do)."""
        group, scheduler = self.session.optimizer.param_groups[0], self.session.scheduler
        rates = []
        with warnings.catch_warnings():  # stepping the scheduler ahead of the optimiser is the point here
            warnings.simplefilter("ignore", UserWarning)
            for _ in range(self.session.steps):
                rates.append(float(group["lr"]))
                scheduler.step()
        return rates

    def train_epoch(self, order: torch.Tensor) -> torch.Tensor:
        """Train one epoch over ``order`` (the epoch's permutation); returns the summed loss of its steps."""
        session = self.session
        group = session.optimizer.param_groups[0]
        self.order.copy_(order[: len(self.order)])
        self.lrs.copy_(torch.tensor(self._schedule(), dtype=torch.float32))
        after = group["lr"]  # the scheduler's float, restored for checkpoints and the next schedule
        group["lr"] = self.lr
        try:
            if self.capture and self.train_graph is None:
                self._capture_training()
            self.position.zero_()
            self.loss_sum.zero_()
            for _ in range(session.steps):
                if self.train_graph is not None:
                    self.train_graph.replay()
                else:
                    session.optimizer.zero_grad(set_to_none=True)
                    self._step()
        finally:
            group["lr"] = after
        return self.loss_sum

    def _capture_training(self) -> None:
        """Warm up on a side stream, put the state back, then capture one step (gradients set to None first,
        so the graph's backward writes them afresh on every replay)."""
        session = self.session
        group = session.optimizer.param_groups[0]
        model_state = {key: value.detach().clone() for key, value in session.model.state_dict().items()}
        optimizer_state = {id(p): {k: v.clone() for k, v in s.items()} for p, s in session.optimizer.state.items()}
        group["capturable"] = True
        side = torch.cuda.Stream(session.device)
        side.wait_stream(torch.cuda.current_stream(session.device))
        with torch.cuda.stream(side):
            for _ in range(_WARMUP_STEPS):
                session.optimizer.zero_grad(set_to_none=True)
                self._step()
        torch.cuda.current_stream(session.device).wait_stream(side)
        self._restore(model_state, optimizer_state)
        session.optimizer.zero_grad(set_to_none=True)
        self.train_graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.train_graph):
            self._step()
        group["capturable"] = False  # what checkpoints record; the captured kernels keep their device-side steps
        self._restore(model_state, optimizer_state)

    def _restore(self, model_state: dict[str, torch.Tensor], optimizer_state: dict[int, dict]) -> None:
        """Copy the saved weights and optimiser state back in place (the graph holds these tensors); state the
        warm-up created from nothing is zeroed, which is Adam's fresh state."""
        with torch.no_grad():
            self.session.model.load_state_dict(model_state)
            for param, state in self.session.optimizer.state.items():
                saved = optimizer_state.get(id(param), {})
                for key, value in state.items():
                    if torch.is_tensor(value):
                        value.copy_(saved[key]) if key in saved else value.zero_()
        self.position.zero_()
        self.loss_sum.zero_()

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
