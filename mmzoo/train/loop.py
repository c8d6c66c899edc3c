"""One epoch of the engine: the training steps, validation, and which epoch's weights a run keeps.

:func:`mmzoo.train.engine.fit` sets a :class:`Session` up once; :func:`run_epoch` then trains and validates one
epoch of it, and :func:`keep_best` applies the recipe's checkpoint selection. :func:`train_step` is the engine's
step (the place for anything that changes a batch before the forward); it is :func:`forward_loss` then
:func:`optimizer_step`, the two functions every step loop of mmzoo runs (the engine's, the whole-step graphs', the
seeds-at-once group's and the notebook-style reference loop's), so that they differ only in how they feed them.

The data decide the steps: an epoch is ``len(train) // batch_size`` optimiser steps over a fresh seeded
permutation, the one the notebooks' ``DataLoader`` draws for the same seed (:func:`epoch_order`; the last short
batch is dropped, as the notebooks did). A loss that is not finite stops the run
with :class:`~mmzoo.errors.NonFiniteLossError` before that epoch is recorded or checkpointed.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import torch
from torch import nn

from mmzoo.data.tensors import FusionTensors
from mmzoo.errors import NonFiniteLossError
from mmzoo.train.augment import augment_batch
from mmzoo.train.distributed import DistributedContext, all_reduce_sums, broadcast_buffers
from mmzoo.train.metrics import evaluate
from mmzoo.train.recipes import Recipe
from mmzoo.train.resources import peak_memory, synchronize

__all__ = ["Session", "RunState", "epoch_order", "forward_loss", "optimizer_step", "train_step", "train_epoch",
           "validate", "run_epoch", "keep_best", "samples_per_second", "rows", "cpu_state"]


@dataclass
class Session:
    """What an epoch needs, built once per run by the engine's set-up.

    ``train`` is the whole training split on the device; ``val`` is this rank's share of the validation split
    (all of it outside DDP) and ``val_total`` the split's size. ``share`` is this rank's slice of every global
    batch and ``share_weight`` its loss weight (see the engine's docstring).
    """

    recipe: Recipe
    context: DistributedContext
    device: torch.device
    model: nn.Module
    step_model: nn.Module
    eval_model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generator: torch.Generator
    criterion: nn.Module
    train: FusionTensors
    val: FusionTensors
    val_total: int
    steps: int
    share: tuple[int, int]
    share_weight: float
    memory_format: torch.memory_format
    autocast_dtype: torch.dtype | None
    eval_batch_size: int
    precision: str = "float32"  # the arithmetic (``mmzoo.train.precision.resolve_precision``'s label)
    whole_step: Any = None  # a ``mmzoo.train.whole_step.WholeStep`` (``mmzoo.train.experimental``), or None


@dataclass
class RunState:
    """What a run has produced so far (what its checkpoint holds besides the optimiser and the RNG)."""

    history: list[dict[str, Any]] = field(default_factory=list)
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch: int = -1
    best: dict[str, float] = field(default_factory=dict)


def rows(data: FusionTensors, start: int, stop: int) -> FusionTensors:
    """Frames ``start .. stop - 1`` as views (no copy)."""
    return replace(data, rgb=data.rgb[start:stop], lidar=data.lidar[start:stop], target=data.target[start:stop])


def samples_per_second(history: list[dict[str, Any]], samples_per_epoch: int) -> float:
    """Training throughput of ``history``'s epochs: samples trained over the seconds spent training them
    (validation excluded). The engine's per-epoch figure and the benchmark's per-row figure both come from here.

    >>> samples_per_second([{"train_time_s": 2.0}, {"train_time_s": 2.0}], 100)
    50.0
    """
    seconds = sum(record["train_time_s"] for record in history)
    return samples_per_epoch * len(history) / seconds if seconds > 0 else float("nan")


def epoch_order(size: int, generator: torch.Generator) -> torch.Tensor:
    """The order of one epoch's frames, drawn from ``generator`` exactly as the notebooks'
    ``DataLoader(shuffle=True, drop_last=True, generator=generator)`` draws it, so that the engine and the
    notebooks train on the same batches for the same seed.

    Per epoch, a ``DataLoader`` iterator first draws a base seed for its workers from the generator
    (``_BaseDataLoaderIter.__init__`` in ``torch/utils/data/dataloader.py``); then ``RandomSampler.__iter__``
    draws the permutation it yields, and, because the batch sampler asks for one more index after the last
    batch, a second permutation whose first ``num_samples % size = 0`` entries it yields (``sampler.py``).
    All three draws move the generator, so all three are made here; the first permutation is the order.

    >>> from torch.utils.data import DataLoader
    >>> loader = DataLoader(range(10), batch_size=4, shuffle=True, drop_last=True,
    ...                     generator=torch.Generator().manual_seed(51))
    >>> generator = torch.Generator().manual_seed(51)
    >>> all([int(i) for batch in loader for i in batch] == epoch_order(10, generator)[:8].tolist() for _ in range(3))
    True
    """
    torch.empty((), dtype=torch.int64).random_(generator=generator)  # the iterator's base seed
    order = torch.randperm(size, generator=generator)
    torch.randperm(size, generator=generator)  # the sampler's tail, drawn past the last batch
    return order


def forward_loss(model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], criterion: nn.Module,
                 rgb: torch.Tensor, lidar: torch.Tensor, target: torch.Tensor,
                 autocast_dtype: torch.dtype | None = None) -> torch.Tensor:
    """The loss of ``model`` on one batch: the forward under autocast (None: as the caller runs it, float32 unless
    an enclosing autocast says otherwise), the loss in float32."""
    autocast = contextlib.nullcontext() if autocast_dtype is None else torch.autocast(
        rgb.device.type, dtype=autocast_dtype, cache_enabled=False)
    with autocast:
        output = model(rgb, lidar)
    return criterion(output.float(), target)


def optimizer_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer,
                   scheduler: torch.optim.lr_scheduler.LRScheduler | None = None) -> torch.Tensor:
    """Backward of ``loss``, the optimiser's update and the schedule's step; returns the loss, detached.

    The gradients must be cleared before (``optimizer.zero_grad(set_to_none=True)``): a captured CUDA graph clears
    them outside the graph. ``scheduler`` is None where the learning rate comes from elsewhere (a graph reads it
    from a device tensor).
    """
    loss.backward()
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    return loss.detach()


def train_step(session: Session, rgb: torch.Tensor, lidar: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """One optimiser step on this rank's share of a batch; returns the (weighted) loss, detached."""
    # The scheduler counts the run's steps (restored on resume), so a step's augmentation survives a resume.
    rgb, lidar = augment_batch(rgb, lidar, session.recipe, session.scheduler.last_epoch)
    rgb = rgb.contiguous(memory_format=session.memory_format)
    lidar = lidar.contiguous(memory_format=session.memory_format)
    loss = forward_loss(session.step_model, session.criterion, rgb, lidar, target, session.autocast_dtype)
    if session.share_weight != 1.0:
        loss = loss * session.share_weight
    session.optimizer.zero_grad(set_to_none=True)
    return optimizer_step(loss, session.optimizer, session.scheduler)


def train_epoch(session: Session) -> tuple[float, float]:
    """Train one epoch; returns ``(mean training loss of the whole batches, seconds)``."""
    recipe, device = session.recipe, session.device
    session.model.train()
    synchronize(device)
    start = time.perf_counter()
    # Drawn on the CPU generator (the same order on every device), then moved once per epoch, not per step.
    order = epoch_order(len(session.train), session.generator).to(device)
    if session.whole_step is not None:
        loss_sum = session.whole_step.train_epoch(order)
    else:
        loss_sum = torch.zeros((), device=device)
        first, last = session.share
        for step in range(session.steps):
            batch = order[step * recipe.batch_size : (step + 1) * recipe.batch_size]
            loss_sum += train_step(session, *session.train.batch(batch[first:last]))
    synchronize(device)
    seconds = time.perf_counter() - start
    # The ranks' weighted batch losses add up to world_size x the batch's mean loss.
    world = session.context.world_size
    return all_reduce_sums({"loss": float(loss_sum)}, session.context)["loss"] / world / session.steps, seconds


def validate(session: Session) -> dict[str, float]:
    """Metrics over the whole validation split; under DDP each rank evaluates its share and the frame-weighted
    sums of all shares are added up, so the result is the single-process one."""
    if session.whole_step is not None:
        return session.whole_step.validate()
    broadcast_buffers(session.model, session.context)  # e.g. BatchNorm statistics, per rank after DDP's last step
    metrics = evaluate(
        session.eval_model, session.val, session.recipe.task, session.recipe.loss, session.eval_batch_size,
        session.device, session.memory_format, session.autocast_dtype,
    )
    if not session.context.enabled:
        return metrics
    sums = all_reduce_sums({key: value * len(session.val) for key, value in metrics.items()}, session.context)
    return {key: value / session.val_total for key, value in sums.items()}


def _check_finite(what: str, value: float, epoch: int, session: Session) -> None:
    if not math.isfinite(value):
        raise NonFiniteLossError(
            f"the {what} loss of epoch {epoch} is {value} ({session.model.arch_name}, recipe "
            f"{session.recipe.name!r}, lr={session.recipe.lr}); the run stopped and this epoch was not kept. "
            "Check the data for nan/inf values, or lower --set lr=..."
        )


def run_epoch(session: Session, epoch: int) -> tuple[dict[str, Any], dict[str, float]]:
    """Train and validate epoch ``epoch`` (1-based); returns its history record and its validation metrics."""
    lr = session.optimizer.param_groups[0]["lr"]
    train_loss, train_time = train_epoch(session)
    _check_finite("training", train_loss, epoch, session)
    start = time.perf_counter()
    metrics = validate(session)
    eval_time = time.perf_counter() - start
    _check_finite("validation", metrics["loss"], epoch, session)
    samples = session.steps * session.recipe.batch_size
    record = {
        "epoch": epoch,
        "lr": lr,
        "train_loss": train_loss,
        **{f"val_{key}": value for key, value in metrics.items()},
        "train_time_s": train_time,
        "eval_time_s": eval_time,
        "train_samples": samples,
        "train_samples_per_s": samples_per_second([{"train_time_s": train_time}], samples),
        **peak_memory(session.device),
    }
    return record, metrics


def keep_best(state: RunState, session: Session, record: dict[str, Any], metrics: dict[str, float]) -> None:
    """Append ``record`` and keep this epoch's weights if the recipe selects them (lowest validation loss so
    far, or every epoch for ``select="last"``)."""
    state.history.append(record)
    if session.recipe.select == "last" or state.best_epoch < 0 or metrics["loss"] < state.best["loss"]:
        state.best_state = cpu_state(session.model)
        state.best_epoch, state.best = record["epoch"], metrics


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of ``model``'s state on the CPU (what checkpoints store)."""
    return {key: value.detach().to("cpu", copy=True) for key, value in model.state_dict().items()}
