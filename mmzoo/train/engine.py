"""The training engine: a recipe, a model and the frames as tensors in, a trained model and its history out.

Why it is fast: the whole split lives as tensors on the training device (no per-sample Python, no DataLoader
workers competing for the cores), batches are index slices, activations run channels_last (oneDNN / cuDNN's
preferred layout; 1.3-1.5x on this project's 2-core CPU), Adam runs fused where torch offers it, validation runs
under inference mode in large batches, and on CUDA bf16 autocast and ``torch.compile`` can be switched on.
None of this changes the recipe: the epochs, batch size, shuffling, schedule and checkpoint selection are the
notebook's.

>>> from mmzoo.train import fit, get_recipe
>>> result = fit("intermediate_cat_strided", get_recipe("assignment", train_frames=64, val_frames=32, epochs=1),
...              options=EngineOptions(progress=False))
>>> len(result.history), sorted(result.best)
(1, ['accuracy', 'loss'])
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from mmzoo.data.tensors import FusionTensors
from mmzoo.factory import create
from mmzoo.train.checkpoint import load_checkpoint, save_checkpoint
from mmzoo.train.data import recipe_tensors
from mmzoo.train.metrics import evaluate, loss_function
from mmzoo.train.recipes import Recipe, get_recipe
from mmzoo.train.resources import peak_memory, reset_peak_memory, resolve_device, synchronize

__all__ = ["EngineOptions", "FitResult", "fit", "build_model"]


@dataclass(frozen=True)
class EngineOptions:
    """How the engine runs a recipe (never what it trains: that is the recipe's).

    Attributes:
        device: ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        channels_last: run convolutions in NHWC (faster on CPU and GPU; the same maths).
        amp: ``"bf16"`` for bfloat16 autocast (CUDA only), None for float32.
        compile: wrap the model in ``torch.compile`` (helps on CUDA; slower to train on the 2-core CPU).
        eval_batch_size: validation batch size (evaluation needs no gradients, so large batches are safe).
        deterministic: ask torch for deterministic kernels (CPU training is deterministic regardless).
        progress: show a progress bar per epoch.
        threads: CPU threads for torch (None: torch's default, one per core).
    """

    device: str = "auto"
    channels_last: bool = True
    amp: str | None = None
    compile: bool = False
    eval_batch_size: int = 512
    deterministic: bool = False
    progress: bool = True
    threads: int | None = None

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
    """What a run produced: the model (with the selected epoch's weights loaded), its history and summary."""

    model: nn.Module
    recipe: Recipe
    history: list[dict[str, Any]]
    best_epoch: int
    best: dict[str, float]
    device: str
    identity: dict[str, Any] = field(default_factory=dict)

    @property
    def train_time_s(self) -> float:
        """Wall time of training and validation over all epochs (summed across resumed sessions)."""
        return sum(epoch["train_time_s"] + epoch["eval_time_s"] for epoch in self.history)


def build_model(model_name: str, recipe: Recipe, num_outputs: int, **model_kwargs: Any) -> nn.Module:
    """Create ``model_name`` for ``recipe``, seeded so that the same recipe seed gives the same initial weights.

    The model's input spec records the recipe's LiDAR formula and the target's size, so exported weights say
    truthfully what they were trained on.
    """
    torch.manual_seed(recipe.seed)
    kwargs = {"num_outputs": num_outputs, "xyza_formula": recipe.lidar_formula, **model_kwargs}
    return create(model_name, **kwargs)


def _make_optimizer(model: nn.Module, recipe: Recipe, device: torch.device) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    try:  # the fused kernel updates all parameters in one pass; older torch lacks it on CPU
        return torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay)


def _make_scheduler(optimizer: torch.optim.Optimizer, recipe: Recipe) -> torch.optim.lr_scheduler.LRScheduler:
    if recipe.schedule == "cosine":
        total = recipe.epochs * recipe.steps_per_epoch()
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total, eta_min=recipe.min_lr)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)


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
    device = resolve_device(options.device)
    if options.threads:
        torch.set_num_threads(options.threads)
    if options.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    autocast_dtype = options.autocast_dtype(device)
    train, val = data if data is not None else recipe_tensors(recipe, data_dir)
    if isinstance(model, str):
        model = build_model(model, recipe, train.target.shape[1], **model_kwargs)
    identity = _identity(model, recipe, train, val)
    memory_format = torch.channels_last if options.channels_last else torch.contiguous_format
    model = model.to(device, memory_format=memory_format)
    train, val = train.to(device), val.to(device)
    optimizer = _make_optimizer(model, recipe, device)
    scheduler = _make_scheduler(optimizer, recipe)
    generator = torch.Generator().manual_seed(recipe.seed)
    history: list[dict[str, Any]] = []
    best_state, best_epoch, best = None, -1, {}

    saved = load_checkpoint(run_dir) if run_dir is not None else None
    if saved is not None:
        if saved["identity"] != identity:
            raise RuntimeError(
                f"{run_dir} holds a checkpoint of another run ({saved['identity']['architecture']}, recipe "
                f"{saved['identity']['recipe']['name']}, or other data or settings); use another run folder or "
                "delete its checkpoint.pt to start afresh"
            )
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        generator.set_state(saved["generator"])
        history, best_epoch, best = saved["history"], saved["best_epoch"], saved["best"]
        best_state = saved["best_state"]

    step_model = torch.compile(model) if options.compile else model
    criterion = loss_function(recipe.loss)
    steps = recipe.steps_per_epoch()
    reset_peak_memory(device)
    progress = _progress(options.progress, recipe.epochs, len(history), model.arch_name)
    for epoch in range(len(history), recipe.epochs):
        model.train()
        synchronize(device)
        start = time.perf_counter()
        order = torch.randperm(len(train), generator=generator)
        loss_sum = torch.zeros((), device=device)
        lr = optimizer.param_groups[0]["lr"]
        for step in range(steps):
            rgb, lidar, target = train.batch(order[step * recipe.batch_size : (step + 1) * recipe.batch_size])
            rgb = rgb.contiguous(memory_format=memory_format)
            lidar = lidar.contiguous(memory_format=memory_format)
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                output = step_model(rgb, lidar)
            loss = criterion(output.float(), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += loss.detach()
        synchronize(device)
        train_time = time.perf_counter() - start
        start = time.perf_counter()
        metrics = evaluate(
            step_model, val, recipe.task, recipe.loss, options.eval_batch_size, device, memory_format, autocast_dtype
        )
        eval_time = time.perf_counter() - start
        record = {
            "epoch": epoch + 1,
            "lr": lr,
            "train_loss": float(loss_sum) / steps,
            **{f"val_{key}": value for key, value in metrics.items()},
            "train_time_s": train_time,
            "eval_time_s": eval_time,
            "train_samples_per_s": steps * recipe.batch_size / train_time,
            **peak_memory(device),
        }
        history.append(record)
        if recipe.select == "last" or best_epoch < 0 or metrics["loss"] < best["loss"]:
            best_state, best_epoch, best = _cpu_state(model), epoch + 1, metrics
        if run_dir is not None:
            save_checkpoint(run_dir, {
                "identity": identity, "history": history, "best_epoch": best_epoch, "best": best,
                "best_state": best_state, "model": _cpu_state(model), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "generator": generator.get_state(),
            })
        if on_epoch is not None:
            on_epoch(record)
        progress.update(1)
        progress.set_postfix(loss=f"{record['train_loss']:.4f}", val_loss=f"{metrics['loss']:.4f}")
    progress.close()
    model.load_state_dict(best_state)
    model.eval()
    return FitResult(model, recipe, history, best_epoch, dict(best), str(device), identity)


def _progress(enabled: bool, total: int, done: int, name: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, desc=f"train {name}", unit="epoch", disable=not enabled, leave=False)
