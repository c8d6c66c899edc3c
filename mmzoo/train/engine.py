"""The training engine: a recipe, a model and the frames as tensors in, a trained model and its history out.

Why it is fast: the whole split lives as tensors on the training device (no per-sample Python, no DataLoader
workers competing for the cores), batches are index slices, activations run channels_last (oneDNN / cuDNN's
preferred layout; 1.3-1.5x on this project's 2-core CPU), Adam runs fused where torch offers it, validation runs
under inference mode in large batches, and on CUDA bf16 autocast and ``torch.compile`` can be switched on.
None of this changes the recipe: the epochs, batch size, shuffling, schedule and checkpoint selection are the
notebook's.

Under ``torchrun`` (see :mod:`mmzoo.train.distributed`) the same call trains with DistributedDataParallel, and the
recipe still holds: ``batch_size`` is the global batch. Every rank draws the same permutation from the shared
seeded generator and takes its contiguous share of each global batch (``batch_size / world_size`` frames, shares
differing by at most one); each rank's loss is weighted by its share, so DDP's gradient average is the gradient
of the whole batch's mean loss, and each epoch runs the recipe's ``train_frames // batch_size`` optimiser steps
with the recipe's schedule: N ranks compute the single-process run, up to floating-point summation order, and a
run may resume with another number of ranks. Validation is sharded the same way and its sums are all-reduced, so
every rank sees the metrics of the whole split and selects the same epoch. Only rank 0 writes the run folder and
calls ``on_epoch``; rank 0 reads the checkpoint and sends it to every rank, so nodes need no shared disk. Times,
throughput (samples of all ranks per second of rank 0's clock) and memory in the history are rank 0's.

>>> from mmzoo.train import fit, get_recipe
>>> result = fit("intermediate_cat_strided", get_recipe("assignment", train_frames=64, val_frames=32, epochs=1),
...              options=EngineOptions(progress=False))
>>> len(result.history), sorted(result.best)
(1, ['accuracy', 'loss'])
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from mmzoo.data.tensors import FusionTensors
from mmzoo.train.acceleration import compile_mode, graph_training_step
from mmzoo.train.checkpoint import load_checkpoint, save_checkpoint
from mmzoo.train.data import recipe_tensors
from mmzoo.train.distributed import (
    DistributedContext,
    all_reduce_sums,
    barrier,
    broadcast_buffers,
    broadcast_object,
    setup,
    wrap_model,
)
from mmzoo.train.metrics import evaluate, loss_function
from mmzoo.train.optim import build_model, make_optimizer, make_scheduler
from mmzoo.train.recipes import Recipe, get_recipe
from mmzoo.train.resources import peak_memory, reset_peak_memory, synchronize

__all__ = ["EngineOptions", "FitResult", "fit"]


@dataclass(frozen=True)
class EngineOptions:
    """How the engine runs a recipe (never what it trains: that is the recipe's).

    Attributes:
        device: ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        channels_last: run convolutions in NHWC (faster on CPU and GPU; the same maths).
        amp: ``"bf16"`` for bfloat16 autocast (CUDA only), None for float32.
        compile: wrap the model in ``torch.compile``: True for its default mode, or a mode name such as
            ``"reduce-overhead"`` (CUDA graphs through Inductor). Compiling costs tens of seconds per model, so it
            pays only on long runs; it is slower to train on the 2-core CPU.
        cuda_graphs: capture the training forward and backward as CUDA graphs
            (``torch.cuda.make_graphed_callables``, no compiler): small models at batch 32 are bound by kernel
            launches, which a graph replay removes (2.6x the eager rate for intermediate_cat on an H100, with
            identical losses). None (default) turns them on wherever they apply: a CUDA device, one process,
            no ``compile``. True insists (an error elsewhere), False turns them off.
        eval_batch_size: validation batch size (evaluation needs no gradients, so large batches are safe).
        deterministic: ask torch for deterministic kernels (CPU training is deterministic regardless).
        progress: show a progress bar per epoch.
        threads: CPU threads for torch (None: torch's default, one per core; torchrun sets 1 per rank).
        distributed: under ``torchrun`` (RANK / WORLD_SIZE set) join the job and train with DDP; False trains
            alone in this process even then (e.g. the independent runs of a sweep).
    """

    device: str = "auto"
    channels_last: bool = True
    amp: str | None = None
    compile: bool | str = False
    cuda_graphs: bool | None = None
    eval_batch_size: int = 512
    deterministic: bool = False
    progress: bool = True
    threads: int | None = None
    distributed: bool = True

    def __post_init__(self) -> None:
        if self.compile is not False:
            compile_mode(self.compile)  # an unknown mode fails here, not minutes into a run

    def uses_cuda_graphs(self, device: torch.device, distributed: bool = False) -> bool:
        """Whether training on ``device`` replays CUDA graphs (``cuda_graphs=None`` decides by where they apply;
        ``cuda_graphs=True`` where they cannot apply is an error)."""
        applies = device.type == "cuda" and not distributed and not self.compile
        if self.cuda_graphs and not applies:
            if self.compile:
                raise ValueError(
                    "cuda_graphs and compile are alternatives; for compiled graphs use compile='reduce-overhead'"
                )
            raise ValueError("cuda_graphs needs a CUDA device and a single process (not DDP); turn it off")
        return applies if self.cuda_graphs is None else self.cuda_graphs

    def autocast_dtype(self, device: torch.device) -> torch.dtype | None:
        if self.amp is None:
            return None
        if self.amp != "bf16":
            raise ValueError(f"amp={self.amp!r}; the engine supports 'bf16' or None")
        if device.type != "cuda":
            raise ValueError("amp='bf16' needs a CUDA device; on CPU train in float32 (amp=None)")
        return torch.bfloat16


@dataclass
class FitResult:
    """What a run produced: the model (with the selected epoch's weights loaded), its history and summary.

    Under torchrun every rank returns the same model, metrics and selected epoch; ``rank`` says which process this
    is (only rank 0 should report or write) and ``world_size`` how many trained together.
    """

    model: nn.Module
    recipe: Recipe
    history: list[dict[str, Any]]
    best_epoch: int
    best: dict[str, float]
    device: str
    identity: dict[str, Any] = field(default_factory=dict)
    rank: int = 0
    world_size: int = 1

    @property
    def train_time_s(self) -> float:
        """Wall time of training and validation over all epochs (summed across resumed sessions)."""
        return sum(epoch["train_time_s"] + epoch["eval_time_s"] for epoch in self.history)


def _identity(model: nn.Module, recipe: Recipe, train: FusionTensors, val: FusionTensors) -> dict[str, Any]:
    """What makes two runs the same run: resuming a checkpoint with another identity is refused."""
    data = {key: train.metadata.get(key) for key in ("dataset", "version", "seed", "source", "layout")}
    return {
        "architecture": model.arch_name,
        "kwargs": dict(model.arch_kwargs),
        "recipe": recipe.to_dict(),
        "data": data,
        "frames": [len(train), len(val)],
    }


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().to("cpu", copy=True) for key, value in model.state_dict().items()}


def _rows(data: FusionTensors, start: int, stop: int) -> FusionTensors:
    """Frames ``start .. stop - 1`` as views (no copy)."""
    return replace(data, rgb=data.rgb[start:stop], lidar=data.lidar[start:stop], target=data.target[start:stop])


def _check_world(recipe: Recipe, val: FusionTensors, context: DistributedContext) -> None:
    if recipe.batch_size < context.world_size:
        raise ValueError(
            f"batch_size={recipe.batch_size} is smaller than the {context.world_size} ranks; batch_size is the "
            "global batch and every rank needs at least one frame of it per step"
        )
    if len(val) < context.world_size:
        raise ValueError(f"{len(val)} validation frames cannot be shared by {context.world_size} ranks")


def _resume_state(run_dir: str | Path | None, identity: dict[str, Any], context: DistributedContext) -> dict | None:
    """The run folder's checkpoint (None without one), read by rank 0 and sent to every rank; another run's
    checkpoint is refused on every rank (rank 0's error, so no rank is left waiting)."""
    if run_dir is None:
        return None
    failure = saved = None
    if context.is_main:
        try:
            saved = load_checkpoint(run_dir)
            if saved is not None and saved["identity"] != identity:
                raise RuntimeError(
                    f"{run_dir} holds a checkpoint of another run ({saved['identity']['architecture']}, recipe "
                    f"{saved['identity']['recipe']['name']}, or other data or settings); use another run folder or "
                    "delete its checkpoint.pt to start afresh"
                )
        except Exception as error:
            if not context.enabled:
                raise
            failure, saved = error, None
    message, saved = broadcast_object((None if failure is None else str(failure), saved), context)
    if failure is not None:
        raise failure
    if message is not None:
        raise RuntimeError(f"rank 0 could not resume from {run_dir}: {message}")
    return saved


def _validate(
    model: nn.Module,
    val: FusionTensors,
    total: int,
    recipe: Recipe,
    options: EngineOptions,
    device: torch.device,
    memory_format: torch.memory_format,
    autocast_dtype: torch.dtype | None,
    context: DistributedContext,
) -> dict[str, float]:
    """Metrics over the whole validation split; under DDP ``val`` is this rank's share and the frame-weighted
    sums of all shares are added up, so the result is the single-process one."""
    metrics = evaluate(
        model, val, recipe.task, recipe.loss, options.eval_batch_size, device, memory_format, autocast_dtype
    )
    if not context.enabled:
        return metrics
    sums = all_reduce_sums({key: value * len(val) for key, value in metrics.items()}, context)
    return {key: value / total for key, value in sums.items()}


def fit(
    model: str | nn.Module,
    recipe: Recipe | str,
    *,
    data: tuple[FusionTensors, FusionTensors] | None = None,
    data_dir: str | Path | None = None,
    run_dir: str | Path | None = None,
    options: EngineOptions = EngineOptions(),
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    **model_kwargs: Any,
) -> FitResult:
    """Train ``model`` with ``recipe`` and return the selected epoch's weights and the run's history.

    Args:
        model: a registered name (built with ``recipe.seed``; ``model_kwargs`` go to ``create``) or a module.
        recipe: a :class:`Recipe` or a built-in recipe's name.
        data: ``(train, val)`` tensors; default: :func:`~mmzoo.train.data.recipe_tensors` (``data_dir`` or the
            recipe's synthetic set).
        run_dir: where to write a checkpoint after every epoch. If it already holds one of the same run, training
            resumes after its last finished epoch (a finished run returns at once); another run's checkpoint is
            refused.
        options: device and speed settings (:class:`EngineOptions`).
        on_epoch: called with each epoch's record (for progress reporting or early inspection).
    """
    recipe = get_recipe(recipe)
    context = setup(options.device, enabled=options.distributed)  # a single process outside torchrun
    device = context.device
    if options.threads:
        torch.set_num_threads(options.threads)
    if options.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    autocast_dtype = options.autocast_dtype(device)
    train, val = data if data is not None else recipe_tensors(recipe, data_dir)
    _check_world(recipe, val, context)
    if isinstance(model, str):
        model = build_model(model, recipe, train.target.shape[1], **model_kwargs)
    identity = _identity(model, recipe, train, val)
    memory_format = torch.channels_last if options.channels_last else torch.contiguous_format
    model = model.to(device, memory_format=memory_format)
    train, val = train.to(device), val.to(device)
    optimizer = make_optimizer(model, recipe, fused=True)
    scheduler = make_scheduler(optimizer, recipe, recipe.steps_per_epoch())
    generator = torch.Generator().manual_seed(recipe.seed)
    history: list[dict[str, Any]] = []
    best_state, best_epoch, best = None, -1, {}

    saved = _resume_state(run_dir, identity, context)
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        generator.set_state(saved["generator"])
        history, best_epoch, best = saved["history"], saved["best_epoch"], saved["best"]
        best_state = saved["best_state"]

    criterion = loss_function(recipe.loss)
    steps = recipe.steps_per_epoch()
    # This rank's share of every global batch, and its loss weight: DDP averages the ranks' gradients, so
    # weighting each rank's mean by (its frames x world size / batch size) makes that average the gradient of
    # the whole batch's mean loss even when batch_size does not split evenly (the weight is 1.0 when it does).
    share_start, share_stop = context.shard(recipe.batch_size)
    step_model, eval_model = _step_models(
        model, train, share_stop - share_start, options, device, memory_format, autocast_dtype, context
    )
    share_weight = (share_stop - share_start) * context.world_size / recipe.batch_size
    val_share = _rows(val, *context.shard(len(val))) if context.enabled else val
    reset_peak_memory(device)
    progress = _progress(options.progress and context.is_main, recipe.epochs, len(history), model.arch_name)
    for epoch in range(len(history), recipe.epochs):
        model.train()
        synchronize(device)
        start = time.perf_counter()
        # Drawn on the CPU generator (the same order on every device), then moved once per epoch, not per step.
        order = torch.randperm(len(train), generator=generator).to(device)
        loss_sum = torch.zeros((), device=device)
        lr = optimizer.param_groups[0]["lr"]
        for step in range(steps):
            batch = order[step * recipe.batch_size : (step + 1) * recipe.batch_size]
            rgb, lidar, target = train.batch(batch[share_start:share_stop])
            rgb = rgb.contiguous(memory_format=memory_format)
            lidar = lidar.contiguous(memory_format=memory_format)
            with torch.autocast(
                device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None, cache_enabled=False
            ):
                output = step_model(rgb, lidar)
            loss = criterion(output.float(), target)
            if share_weight != 1.0:
                loss = loss * share_weight
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += loss.detach()
        synchronize(device)
        train_time = time.perf_counter() - start
        # The ranks' weighted batch losses add up to world_size x the batch's mean loss.
        train_loss = all_reduce_sums({"loss": float(loss_sum)}, context)["loss"] / context.world_size / steps
        start = time.perf_counter()
        broadcast_buffers(model, context)  # e.g. BatchNorm statistics, per rank after DDP's last step
        metrics = _validate(
            eval_model, val_share, len(val), recipe, options, device, memory_format, autocast_dtype, context
        )
        eval_time = time.perf_counter() - start
        record = {
            "epoch": epoch + 1,
            "lr": lr,
            "train_loss": train_loss,
            **{f"val_{key}": value for key, value in metrics.items()},
            "train_time_s": train_time,
            "eval_time_s": eval_time,
            "train_samples_per_s": steps * recipe.batch_size / train_time,
            **peak_memory(device),
        }
        history.append(record)
        if recipe.select == "last" or best_epoch < 0 or metrics["loss"] < best["loss"]:
            best_state, best_epoch, best = _cpu_state(model), epoch + 1, metrics
        if run_dir is not None and context.is_main:
            save_checkpoint(run_dir, {
                "identity": identity, "history": history, "best_epoch": best_epoch, "best": best,
                "best_state": best_state, "model": _cpu_state(model), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "generator": generator.get_state(),
            })
        if on_epoch is not None and context.is_main:
            on_epoch(record)
        progress.update(1)
        progress.set_postfix(loss=f"{record['train_loss']:.4f}", val_loss=f"{metrics['loss']:.4f}")
    progress.close()
    model.load_state_dict(best_state)
    model.eval()
    barrier(context)  # every rank returns after rank 0 has written its last checkpoint
    return FitResult(
        model, recipe, history, best_epoch, dict(best), str(device), identity, context.rank, context.world_size
    )


def _step_models(
    model: nn.Module,
    train: FusionTensors,
    share: int,
    options: EngineOptions,
    device: torch.device,
    memory_format: torch.memory_format,
    autocast_dtype: torch.dtype | None,
    context: DistributedContext,
) -> tuple[nn.Module, nn.Module]:
    """The module each training step calls and the one validation calls (see ``mmzoo.train.acceleration``)."""
    if options.uses_cuda_graphs(device, context.enabled):
        rgb, lidar, _ = train.batch(torch.arange(share, device=train.device))
        example = (rgb.contiguous(memory_format=memory_format), lidar.contiguous(memory_format=memory_format))
        model.train()
        return graph_training_step(model, example, autocast_dtype), model
    train_model = wrap_model(model, context)  # DDP under torchrun: gradients averaged in backward()
    if not options.compile:
        return train_model, model
    mode = compile_mode(options.compile)
    # Evaluation bypasses DDP: its forward may run collectives, and ranks evaluate different numbers of batches.
    step_model = torch.compile(train_model, mode=mode)
    return step_model, (torch.compile(model, mode=mode) if context.enabled else step_model)


def _progress(enabled: bool, total: int, done: int, name: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, desc=f"train {name}", unit="epoch", disable=not enabled, leave=False)
