"""What lets a whole training step be replayed as one CUDA graph: fixed device inputs, a schedule computed ahead,
and the warm-up, restore and capture around it.

Two step kinds share it: the engine's single run (:class:`mmzoo.train.whole_step.WholeStep`) and the K stacked
runs of :func:`mmzoo.train.many.fit_many`. A graph replays the same kernels on the same memory, so nothing a step
reads may come from the host. :class:`GraphedSteps` keeps every such input in a fixed device tensor:

* the epoch's permutation (one row per run for K runs), copied in before the epoch, and the step's position in
  it, a counter the step advances on the device; the step gathers its batch from the two;
* the learning rate, a device tensor Adam reads, copied by the step from the epoch's rates, which
  :func:`schedule_ahead` takes from the recipe's own scheduler before the epoch (the eager engine's values);
* the loss, summed on the device (one sum per run) and read once per epoch.

With ``capture`` the first epoch runs a few warm-up steps on a side stream, puts the trained tensors and the
optimiser's state back in place (the graph holds those very tensors) and captures one step; every step is then a
replay. Without it the same steps run eagerly, which is how the maths is tested on a CPU, and
:class:`HostReads` is how a test proves a step reads nothing back to the host (what no graph can capture).
"""
from __future__ import annotations

import warnings

import torch
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["GraphedSteps", "HostReads", "augmentation_problem", "schedule_ahead"]

_WARMUP_STEPS = 3


def augmentation_problem(recipe) -> str | None:
    """Why ``recipe``'s batches cannot be graphed (its augmentation draws on the host), or None.

    >>> from mmzoo.train.recipes import get_recipe
    >>> augmentation_problem(get_recipe("assignment")) is None
    True
    """
    if recipe.modality_dropout or recipe.corruption_augment:
        return "the recipe augments batches (modality_dropout / corruption_augment draw on the host)"
    return None


def schedule_ahead(optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler,
                   steps: int) -> list[float]:
    """The learning rate of each of the next ``steps`` steps, from the recipe's scheduler, which this advances by
    those steps, as the eager steps advance it.

    >>> weight = torch.zeros(1, requires_grad=True)
    >>> optimizer = torch.optim.Adam([weight], lr=1.0)
    >>> schedule_ahead(optimizer, torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5), 4)
    [1.0, 1.0, 0.5, 0.5]
    """
    group, rates = optimizer.param_groups[0], []
    with warnings.catch_warnings():  # stepping the scheduler ahead of the optimiser is the point here
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(steps):
            rates.append(float(group["lr"]))
            scheduler.step()
    return rates


class HostReads(TorchDispatchMode):
    """Records every operation that copies a tensor's value to the host (``.item()``, ``float(t)``, ``if t:``):
    a CUDA graph cannot capture one.

    >>> with HostReads() as reads:
    ...     _ = torch.ones(2) * 2
    ...     _ = float(torch.ones(()))
    >>> reads.reads
    ['aten._local_scalar_dense.default']
    """

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in (torch.ops.aten._local_scalar_dense.default, torch.ops.aten.is_nonzero.default):
            self.reads.append(str(func))
        return func(*args, **(kwargs or {}))


class GraphedSteps:
    """The training steps of an epoch with every input in fixed device tensors, captured or run eagerly.

    A subclass defines :meth:`_step` (gather the batch at :meth:`_batch_index`, :meth:`_take_lr`, forward,
    backward, ``optimizer.step()``, then :meth:`_end_step`) and :meth:`_state` (the tensors a step changes besides
    the optimiser's state). ``runs`` is None for one run, K for K stacked runs (one permutation row and one loss
    sum per run). The optimiser must have one parameter group.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler,
                 steps: int, batch_size: int, device: torch.device, capture: bool, runs: int | None = None) -> None:
        self.optimizer, self.scheduler, self.steps, self.device, self.capture = (
            optimizer, scheduler, steps, device, capture)
        shape = () if runs is None else (runs,)
        self.order = torch.zeros(*shape, steps * batch_size, dtype=torch.long, device=device)
        self.position = torch.zeros((), dtype=torch.long, device=device)
        self.offsets = torch.arange(batch_size, device=device)
        self.lrs = torch.zeros(steps, dtype=torch.float32, device=device)
        self.lr = torch.zeros((), dtype=torch.float32, device=device)
        self.loss_sum = torch.zeros(shape, device=device)
        self.train_graph: torch.cuda.CUDAGraph | None = None

    def _step(self) -> None:
        raise NotImplementedError

    def _state(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    # -- what a step reads and writes, all on the device ---------------------------------------------------------
    def _batch_index(self) -> torch.Tensor:
        """The frames of the step at ``position``: ``(batch,)``, or ``(runs, batch)`` from each run's row."""
        return self.order.index_select(-1, self.position * len(self.offsets) + self.offsets)

    def _take_lr(self) -> None:
        """Set the learning rate Adam reads to the step's."""
        self.lr.copy_(self.lrs.index_select(0, self.position.view(1)).view(()))

    def _end_step(self, loss: torch.Tensor) -> None:
        self.loss_sum += loss.detach()
        self.position += 1

    # -- the epoch ------------------------------------------------------------------------------------------------
    def train_epoch(self, order: torch.Tensor) -> torch.Tensor:
        """Train one epoch over ``order`` (the epoch's permutation, one row per run for K runs); returns the
        summed loss of its steps (per run for K runs), on the device."""
        group = self.optimizer.param_groups[0]
        self.order.copy_(order[..., : self.order.shape[-1]])
        self.lrs.copy_(torch.tensor(schedule_ahead(self.optimizer, self.scheduler, self.steps), dtype=torch.float32))
        after = group["lr"]  # the scheduler's float, restored for checkpoints and the next schedule
        group["lr"] = self.lr
        try:
            if self.capture and self.train_graph is None:
                self._capture_training()
            self.position.zero_()
            self.loss_sum.zero_()
            for _ in range(self.steps):
                if self.train_graph is not None:
                    self.train_graph.replay()
                else:
                    self.optimizer.zero_grad(set_to_none=True)
                    self._step()
        finally:
            group["lr"] = after
        return self.loss_sum

    def _capture_training(self) -> None:
        """Warm up on a side stream, put the state back, then capture one step (gradients set to None first,
        so the graph's backward writes them afresh on every replay)."""
        group = self.optimizer.param_groups[0]
        saved = {key: value.detach().clone() for key, value in self._state().items()}
        optimizer_state = {id(p): {k: v.clone() for k, v in s.items()} for p, s in self.optimizer.state.items()}
        group["capturable"] = True
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(_WARMUP_STEPS):
                self.position.zero_()  # every warm-up step at the first position: an epoch may be shorter
                self.optimizer.zero_grad(set_to_none=True)
                self._step()
        torch.cuda.current_stream(self.device).wait_stream(side)
        self._restore(saved, optimizer_state)
        self.optimizer.zero_grad(set_to_none=True)
        self.train_graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.train_graph):
            self._step()
        group["capturable"] = False  # what checkpoints record; the captured kernels keep their device-side steps
        self._restore(saved, optimizer_state)

    def _restore(self, saved: dict[str, torch.Tensor], optimizer_state: dict[int, dict]) -> None:
        """Copy the saved tensors and optimiser state back in place (the graph holds these tensors); state the
        warm-up created from nothing is zeroed, which is Adam's fresh state."""
        with torch.no_grad():
            for key, tensor in self._state().items():
                tensor.copy_(saved[key])
            for param, state in self.optimizer.state.items():
                before = optimizer_state.get(id(param), {})
                for key, value in state.items():
                    if torch.is_tensor(value):
                        value.copy_(before[key]) if key in before else value.zero_()
        self.position.zero_()
        self.loss_sum.zero_()
