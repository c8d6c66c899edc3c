"""K independent runs of one architecture trained at once: stacked parameters, one ``torch.func.vmap`` step.

Experimental: its public entry point is :func:`mmzoo.train.experimental.fit_many`.

A benchmark sweep trains the same small network at several seeds. On a GPU, a batch-32 step of such a network is
bound by kernel launches, so K runs in one vmapped step cost little more than one. Each run keeps its own
initial weights (built with its seed, exactly as :func:`~mmzoo.train.engine.fit` builds them), its own batch order
(:func:`~mmzoo.train.loop.epoch_order` on its own seeded generator) and its own augmentation draws; the losses are
summed before the backward pass, and since no parameter is shared, each run's gradient is the gradient of its own
loss. Adam and the schedule act element-wise, so one optimiser over the stacked parameters updates every run as
its own optimiser would. The runs therefore agree with separate :func:`fit` runs within float rounding (tested).

>>> from mmzoo.train.recipes import get_recipe
>>> recipe = get_recipe("assignment", train_frames=64, val_frames=32, epochs=1)
>>> runs = fit_many("late_fusion_strided", recipe, seeds=(1, 2), options=EngineOptions(device="cpu", progress=False))
>>> [run.recipe.seed for run in runs], len(runs[0].history)
([1, 2], 1)

Differences from :func:`fit`, by design: the runs must share everything but the seed; no run folder (a sweep
interrupted restarts its group); the inputs stay NCHW (vmap adds a leading run dimension); one process.

``whole_step_graphs=True`` (``mmzoo.train.experimental``) on one CUDA device replays the group's whole step as
one CUDA graph (:mod:`mmzoo.train.graphed`, shared with the engine's :mod:`mmzoo.train.whole_step`): each run's batch gathered
on the device from its own permutation row at a position the step advances, the vmapped forward and loss of every
run, one backward of their sum, the fused Adam update with the step's learning rate read from a device tensor,
each run's loss summed on the device; validation stays eager, once per epoch. Recipes that augment batches are
refused. Status: the same steps run eagerly in the tests on a CPU, where they match the eager group run by run
and read nothing back to the host; the captured graphs have not yet run on a GPU. Options ``fit_many`` does not
implement are refused up front (``compile``, ``cuda_graphs=True``, ``distributed`` under torchrun);
without ``whole_step_graphs`` no graphs are used.
"""
from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from mmzoo.data.tensors import FusionTensors
from mmzoo.train.augment import augment_batch
from mmzoo.train.data import recipe_tensors
from mmzoo.train.distributed import rank_and_world
from mmzoo.train.engine import EngineOptions, FitResult
from mmzoo.train.graphed import GraphedSteps, augmentation_problem
from mmzoo.train.loop import cpu_state, epoch_order, forward_loss, optimizer_step, samples_per_second
from mmzoo.train.metrics import evaluate, loss_function
from mmzoo.train.optim import build_model, make_optimizer, make_scheduler
from mmzoo.train.precision import resolve_precision
from mmzoo.train.recipes import Recipe, get_recipe
from mmzoo.train.resources import keep_freed_memory, resolve_device
from mmzoo.train.tracking import RunLogger, Tracking, log_result, run_config, tracked_run

__all__ = ["fit_many", "check_fit_many_options"]


def fit_many(
    model_name: str,
    recipe: Recipe | str,
    seeds: Sequence[int],
    *,
    data: tuple[FusionTensors, FusionTensors] | None = None,
    options: EngineOptions = EngineOptions(),
    whole_step_graphs: bool = False,
    log: str | Sequence[str] | Tracking | Sequence[RunLogger] | None = None,
    **model_kwargs: Any,
) -> list[FitResult]:
    """Train ``model_name`` with ``recipe`` once per seed, all runs in one vmapped step; one result per seed.

    Each result is what ``fit(model_name, recipe.replace(seed=seed), ...)`` returns (its selected epoch's weights
    loaded), except that an epoch's ``train_time_s`` is the joint step time divided by the number of runs
    (``joint_train_time_s`` and ``runs_at_once`` record the whole). ``whole_step_graphs`` (one CUDA device;
    experimental, see :mod:`mmzoo.train.experimental`) replays the whole step as one CUDA graph.

    Raises:
        ValueError: no seeds, or a seed twice; an option fit_many does not implement (``compile``,
            ``cuda_graphs=True``, ``distributed`` under torchrun), or ``whole_step_graphs`` off a CUDA
            device or with a recipe that augments batches.

    ``log`` sends each seed to the trackers as a run of its own (``"tensorboard,mlflow,wandb"`` or a
    :class:`~mmzoo.train.tracking.Tracking`), or to the given open loggers, one per seed (see
    :mod:`mmzoo.train.tracking`); without a run folder nothing is continued: a new run each call.
    """
    return _fit_many(model_name, get_recipe(recipe), seeds, data, options, model_kwargs, log=log,
                     whole_step=whole_step_graphs)


def _fit_many(model_name: str, recipe: Recipe, seeds: Sequence[int],
              data: tuple[FusionTensors, FusionTensors] | None, options: EngineOptions,
              model_kwargs: dict[str, Any], capture: bool | None = None, log: Any = None,
              whole_step: bool = False) -> list[FitResult]:
    """:func:`fit_many`; ``capture`` of the whole-step graph: None on a CUDA device, False to run the graphed
    steps eagerly (how the tests check their maths on a CPU)."""
    group, val = _build_group(model_name, recipe, seeds, data, options, model_kwargs, capture, whole_step)
    precision = resolve_precision(options.amp, group.device)[1]
    with contextlib.ExitStack() as stack:
        loggers = [stack.enter_context(logger) for logger in _trackers(log, group, val, precision)]
        histories, best = _train(group, val, [logger.epoch for logger in loggers])
        results = []
        for k, model in enumerate(group.models):
            model.load_state_dict(best[k][3])
            model.eval()
            results.append(FitResult(model, group.recipes[k], histories[k], best[k][1], dict(best[k][2]),
                                     str(group.device), precision=precision))
            log_result(loggers[k], model, val, group.recipes[k], best[k][1], best[k][2])
    return results


def _trackers(log: Any, group: _Group, val: FusionTensors, precision: str) -> list:
    """One started run logger per seed (context managers; see :func:`~mmzoo.train.tracking.tracked_run`)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    data = {key: val.metadata.get(key) for key in ("dataset", "version", "seed", "source", "layout")}
    data["frames"] = [len(group.train), len(val)]
    managers = []
    for k, (model, recipe) in enumerate(zip(group.models, group.recipes)):
        each = log[k] if isinstance(log, (list, tuple)) and isinstance(log[0], RunLogger) else log
        config = run_config(model, recipe, data=data, precision=precision, device=group.device,
                            runs_at_once=len(group.models))
        managers.append(tracked_run(each, name=f"{model.arch_name}-seed{recipe.seed}-{stamp}", config=config))
    return managers


def check_fit_many_options(options: EngineOptions, recipe: Recipe, device: torch.device,
                           capture: bool | None = None, whole_step: bool = False) -> None:
    """Refuse, before any work, what fit_many does not implement (it would otherwise be ignored in silence).

    >>> from mmzoo.train.recipes import get_recipe
    >>> check_fit_many_options(EngineOptions(compile=True), get_recipe("assignment"), torch.device("cpu"))
    Traceback (most recent call last):
    ...
    ValueError: fit_many cannot run as asked: compile=True: fit_many does not compile its vmapped step; ...
    """
    problems = []
    world = rank_and_world()[1] if options.distributed else 1
    if world > 1:
        problems.append(f"distributed=True in a torchrun job of {world} ranks: fit_many trains its group in one "
                        "process; pass EngineOptions(distributed=False) to train a group alone in each process")
    if options.compile:
        problems.append(f"compile={options.compile!r}: fit_many does not compile its vmapped step; leave "
                        "compile=False (whole-step graphs remove the launches on a GPU)")
    if options.cuda_graphs is True:
        problems.append("cuda_graphs=True: fit_many has no per-module graphs; use whole-step graphs on one "
                        "CUDA device (--whole-step-graphs), or cuda_graphs None / False for eager steps")
    if whole_step:
        if device.type != "cuda" and capture is not False:
            problems.append(f"whole-step graphs need one CUDA device, not device {device}; leave them off "
                            "(no graphs in fit_many)")
        augmentation = augmentation_problem(recipe)
        if augmentation:
            problems.append(f"whole-step graphs cannot apply: {augmentation}, here modality_dropout="
                            f"{recipe.modality_dropout}, corruption_augment={recipe.corruption_augment!r}; leave "
                            "them off")
    if problems:
        raise ValueError(f"fit_many cannot run as asked: {'; and '.join(problems)}")


def _build_group(model_name: str, recipe: Recipe, seeds: Sequence[int],
                 data: tuple[FusionTensors, FusionTensors] | None, options: EngineOptions,
                 model_kwargs: dict[str, Any], capture: bool | None,
                 whole_step: bool = False) -> tuple[_Group, FusionTensors]:
    """The checked options applied, the data on the device, and the group of seeded models; with the
    validation split."""
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and at least one; got {list(seeds)}")
    device = resolve_device(options.device)
    check_fit_many_options(options, recipe, device, capture, whole_step)
    if options.threads:
        torch.set_num_threads(options.threads)
    if options.keep_freed_memory and device.type == "cpu":
        keep_freed_memory()
    train, val = data if data is not None else recipe_tensors(recipe)
    train, val = train.to(device), val.to(device)
    recipes = [recipe.replace(seed=seed) for seed in seeds]
    models = [build_model(model_name, r, train.target.shape[1], **model_kwargs).to(device) for r in recipes]
    return _Group(models, recipes, train, options, device, capture, whole_step), val


def _train(group: _Group, val: FusionTensors,
           on_record: Sequence[Any] = ()) -> tuple[list[list[dict[str, Any]]], list[tuple]]:
    """Train the group epoch by epoch, validating each run after each epoch (and passing run ``k``'s records to
    ``on_record[k]``); returns each run's history and selected epoch ``(validation loss, epoch, metrics, weights
    on the CPU)``."""
    runs, recipe = len(group.models), group.recipe
    histories: list[list[dict[str, Any]]] = [[] for _ in range(runs)]
    best: list[tuple[float, int, dict[str, float], dict[str, torch.Tensor]]] = [(float("inf"), -1, {}, {})] * runs
    for epoch in range(1, recipe.epochs + 1):
        lr = group.optimizer.param_groups[0]["lr"]
        losses, seconds = group.train_epoch()
        for k, model in enumerate(group.models):
            start = time.perf_counter()
            metrics = group.validate(k, val)
            record = {
                "epoch": epoch, "lr": lr, "train_loss": float(losses[k]),
                **{f"val_{key}": value for key, value in metrics.items()},
                "train_time_s": seconds / runs, "eval_time_s": time.perf_counter() - start,
                "train_samples": group.steps * recipe.batch_size, "joint_train_time_s": seconds,
                "runs_at_once": runs,
            }
            record["train_samples_per_s"] = samples_per_second([record], record["train_samples"])
            histories[k].append(record)
            if on_record:
                on_record[k](record)  # the run's logger
            if recipe.select == "last" or metrics["loss"] < best[k][0]:
                best[k] = (metrics["loss"], epoch, metrics, cpu_state(model))
    return histories, best


class _Group:
    """The stacked parameters of K models, their optimiser, schedule and per-run generators; with
    ``whole_step`` their step in fixed device tensors (``whole``), captured unless ``capture`` is
    False (None: captured on a CUDA device)."""

    def __init__(self, models: list[nn.Module], recipes: list[Recipe], train: FusionTensors,
                 options: EngineOptions, device: torch.device, capture: bool | None = None,
                 whole_step: bool = False) -> None:
        self.models, self.recipes, self.train, self.device = models, recipes, train, device
        self.recipe = recipes[0]
        self.steps = len(train) // self.recipe.batch_size
        if self.steps < 1:
            raise ValueError(f"{len(train)} training frames cannot fill one batch of batch_size={self.recipe.batch_size}")
        self.params, self.buffers = stack_module_state(models)
        self.optimizer = make_optimizer(list(self.params.values()), self.recipe, fused=True)
        self.scheduler = make_scheduler(self.optimizer, self.recipe, self.steps)
        self.generators = [torch.Generator().manual_seed(r.seed) for r in recipes]
        self.autocast_dtype = options.autocast_dtype(device)
        self.eval_batch_size = options.eval_batch_size
        base = copy.deepcopy(models[0]).to("meta")
        # The range check reads a value (not possible under vmap); FusionTensors hold RGB in [0, 1] by construction.
        base._rgb_range_checked = True
        criterion = loss_function(self.recipe.loss)

        def run_loss(params, buffers, rgb, lidar, target):
            def model(rgb, lidar):
                return functional_call(base, (params, buffers), (rgb, lidar))

            return forward_loss(model, criterion, rgb, lidar, target)  # autocast: run_losses, around the vmap

        self.losses = vmap(run_loss)
        self.whole: _WholeGroupStep | None = None
        if whole_step:
            self.whole = _WholeGroupStep(self, device.type == "cuda" if capture is None else capture)

    def run_losses(self, rgb: torch.Tensor, lidar: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Each run's loss on its own batch (``(runs, batch, ...)`` inputs), under the options' autocast."""
        dtype = self.autocast_dtype
        with torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None, cache_enabled=False):
            return self.losses(self.params, self.buffers, rgb, lidar, target)

    def train_epoch(self) -> tuple[torch.Tensor, float]:
        """One epoch of every run; returns each run's mean training loss and the joint seconds."""
        size, batch = len(self.train), self.recipe.batch_size
        orders = [epoch_order(size, generator).to(self.device) for generator in self.generators]
        for model in self.models:
            model.train()
        start = time.perf_counter()
        if self.whole is not None:
            loss_sums = self.whole.train_epoch(torch.stack(orders))
        else:
            loss_sums = torch.zeros(len(self.models), device=self.device)
            for step in range(self.steps):
                parts = [self._run_batch(k, order[step * batch : (step + 1) * batch]) for k, order in enumerate(orders)]
                losses = self.run_losses(*(torch.stack(tensors) for tensors in zip(*parts)))
                self.optimizer.zero_grad(set_to_none=True)
                optimizer_step(losses.sum(), self.optimizer, self.scheduler)  # no parameter is shared: each run's
                loss_sums += losses.detach()                                   # gradient is its own loss's
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return loss_sums / self.steps, time.perf_counter() - start

    def _run_batch(self, k: int, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rgb, lidar, target = self.train.batch(index)
        # The step counter is the shared schedule's, as in the engine (every run is at the same step).
        rgb, lidar = augment_batch(rgb, lidar, self.recipes[k], self.scheduler.last_epoch)
        return rgb, lidar, target

    @torch.no_grad()
    def validate(self, k: int, val: FusionTensors) -> dict[str, float]:
        """Run ``k``'s metrics on the whole validation split, with its current stacked weights."""
        model = self.models[k]
        for name, tensor in model.named_parameters():
            tensor.copy_(self.params[name][k])
        for name, tensor in model.named_buffers():
            tensor.copy_(self.buffers[name][k])
        return evaluate(model, val, self.recipe.task, self.recipe.loss, self.eval_batch_size, self.device,
                        autocast_dtype=self.autocast_dtype)


class _WholeGroupStep(GraphedSteps):
    """The group's whole step with every input in fixed device tensors (:class:`~mmzoo.train.graphed.GraphedSteps`
    holds them, and captures and replays the step): no host reads."""

    def __init__(self, group: _Group, capture: bool) -> None:
        self.group = group
        super().__init__(group.optimizer, group.scheduler, group.steps, group.recipe.batch_size, group.device,
                         capture, runs=len(group.models))

    def _step(self) -> None:
        """Gather each run's batch at ``position`` from its own row, the vmapped losses, one backward of their sum,
        Adam; advance ``position``."""
        rgb, lidar, target = self.group.train.batch(self._batch_index())  # (runs, batch, ...)
        self._take_lr()
        losses = self.group.run_losses(rgb, lidar, target)
        optimizer_step(losses.sum(), self.optimizer)  # the rate is the device tensor _take_lr set
        self._end_step(losses)

    def _state(self) -> dict[str, torch.Tensor]:
        """The stacked weights and buffers (e.g. BatchNorm statistics), which a warm-up step changes."""
        group = self.group
        return {**{f"params.{k}": v for k, v in group.params.items()},
                **{f"buffers.{k}": v for k, v in group.buffers.items()}}
