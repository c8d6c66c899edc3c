"""The training engine: a recipe, a model and the frames as tensors in, a trained model and its history out.

Why it is fast: the whole split lives as tensors on the training device (no per-sample Python, no DataLoader
workers competing for the cores), batches are index slices, activations run channels_last (oneDNN / cuDNN's
preferred layout), Adam runs fused where torch offers it, validation runs
under inference mode in large batches, and bf16 autocast and ``torch.compile`` can be switched on.
None of this changes the recipe: the epochs, batch size, shuffling, schedule and checkpoint selection are the
notebook's.

Under ``torchrun`` (see :mod:`mmzoo.train.distributed`) the same call trains with DistributedDataParallel, and the
recipe still holds: ``batch_size`` is the global batch. Every rank draws the same permutation from the shared
seeded generator and takes its contiguous share of each global batch (``batch_size / world_size`` frames, shares
differing by at most one); each rank's loss is weighted by its share, so DDP's gradient average is the gradient of
the whole batch's mean loss, and each epoch runs ``len(train) // batch_size`` optimiser steps (the data decide the
steps, never a frame count written in the recipe) with the recipe's schedule: N ranks compute the single-process
run, up to floating-point summation order, and a run may resume with another number of ranks. Validation is sharded
the same way and its sums are all-reduced, so every rank sees the metrics of the whole split and selects the same
epoch. Only rank 0 writes the run folder and calls ``on_epoch``; rank 0 reads the checkpoint and sends it to every
rank, so nodes need no shared disk. While a run writes its run folder it holds the folder's lock: a second run into
the same folder is refused (:class:`~mmzoo.errors.BusyError`), never mixed with the first. Times, throughput
(samples of all ranks per second of rank 0's clock) and memory in the history are rank 0's.

>>> from mmzoo.train import fit, get_recipe
>>> result = fit("intermediate_cat_strided", get_recipe("assignment", train_frames=64, val_frames=32, epochs=1),
...              options=EngineOptions(progress=False))
>>> len(result.history), sorted(result.best)
(1, ['accuracy', 'loss'])
"""
from __future__ import annotations

import contextlib
import warnings
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch
from torch import nn

from mmzoo.data.tensors import FusionTensors
from mmzoo.train.acceleration import compile_mode, graph_training_step
from mmzoo.train.checkpoint import load_checkpoint, save_checkpoint
from mmzoo.train.data import recipe_tensors
from mmzoo.train.distributed import DistributedContext, barrier, broadcast_object, setup, wrap_model
from mmzoo.train.loop import RunState, Session, cpu_state, keep_best, rows, run_epoch
from mmzoo.train.metrics import loss_function
from mmzoo.train.precision import check_amp, resolve_precision
from mmzoo.train.optim import build_model, make_optimizer, make_scheduler
from mmzoo.train.recipes import Recipe, get_recipe
from mmzoo.train.resources import keep_freed_memory, reset_peak_memory
from mmzoo.train.tracking import RunLogger, Tracking, log_result, run_config, tracked_run
from mmzoo.utils.files import folder_lock

__all__ = ["EngineOptions", "FitResult", "fit"]


@dataclass(frozen=True)
class EngineOptions:
    """How the engine runs a recipe (never what it trains: that is the recipe's). None of these changes the
    maths beyond float rounding; each is here because a user must choose it (where, how many threads, what to
    show, alone or in a torchrun job) or because it measured faster on the hardware it targets, and it is on by
    default only there. The experimental modes (whole-step CUDA graphs, K seeds at once) are not here:
    :mod:`mmzoo.train.experimental`.

    Attributes:
        device: ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        channels_last: run convolutions in NHWC, oneDNN's and cuDNN's preferred layout. On by default: in NCHW
            the engine trained at 0.67x the speed on a 2-core CPU (``studies/results/engine-speed``).
        amp: None (default) for float32, the notebooks' arithmetic, on every machine; ``"bf16"`` opts in to
            bfloat16 autocast (a GPU, or a CPU with bf16 matrix hardware; :mod:`mmzoo.train.precision`), which is
            faster on some CPUs and slower on others (``docs/training.md``).
        compile: wrap the model in ``torch.compile`` (True, or a mode such as ``"reduce-overhead"``): torch's own
            switch, kept for long GPU runs. Off by default: on a 2-core CPU it trained at 0.89x eager's steady
            speed after a 45 s first epoch (``studies/results/engine-speed``); on a GPU it is unmeasured.
        cuda_graphs: replay each training step's forward and backward as CUDA graphs
            (``torch.cuda.make_graphed_callables``, no compiler, identical losses): at batch 32 these networks
            are bound by kernel launches on a GPU, and the graphs measured faster than eager steps on an H100
            (the GPU tables, ``benchmarks/results/gpu-h100``, ran with them). None (default) turns them on
            wherever they apply (a CUDA device, one process, no ``compile``); True insists (an error elsewhere);
            False turns them off.
        eval_batch_size: validation batch size (evaluation needs no gradients, so large batches are safe).
        deterministic: ask torch for deterministic kernels (CPU training is deterministic regardless).
        progress: show a progress bar per epoch.
        threads: CPU threads for torch (None: torch's default, one per core; torchrun sets 1 per rank).
        distributed: under ``torchrun`` (RANK / WORLD_SIZE set) join the job and train with DDP; False trains
            alone in this process even then (e.g. the independent runs of a sweep).
        keep_freed_memory: on a CPU, let glibc's malloc keep the memory a step frees for the next one
            (:func:`mmzoo.train.resources.keep_freed_memory`; fewer page faults per step, see the step profile in
            ``docs/studies.md``). Off by default: it changes malloc for the whole process and for its lifetime,
            which a library call must not do unasked; the benchmark harness's workers (processes mmzoo owns) turn
            it on for their engine rows.
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
    keep_freed_memory: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "amp", check_amp(self.amp))  # the retired "auto" warns and means float32
        if self.cuda_graphs == "whole-step":
            warnings.warn("EngineOptions(cuda_graphs='whole-step') moved to mmzoo.train.experimental: use "
                          "experimental.fit(..., experimental=ExperimentalOptions(whole_step_graphs=True)); this "
                          "run uses the default per-part CUDA graphs (cuda_graphs=None)", FutureWarning, stacklevel=3)
            object.__setattr__(self, "cuda_graphs", None)
        if self.cuda_graphs not in (None, True, False):
            raise ValueError(f"cuda_graphs={self.cuda_graphs!r}; use None, True or False")
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
            where = "DDP" if distributed else f"device {device}"
            raise ValueError(f"cuda_graphs={self.cuda_graphs!r} (--cuda-graphs) needs one CUDA device in a single "
                             f"process, not {where}; leave it at None (the default)")
        return applies if self.cuda_graphs is None else bool(self.cuda_graphs)

    def replace_steps(self, session: Session) -> Any:
        """What replaces the engine's training steps and validation for ``session``: None, the engine's own
        (:mod:`mmzoo.train.experimental` overrides this for whole-step graphs)."""
        return None

    def autocast_dtype(self, device: torch.device) -> torch.dtype | None:
        """The autocast dtype on ``device`` (None: float32); see :func:`mmzoo.train.precision.resolve_precision`."""
        return resolve_precision(self.amp, device)[0]


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
    precision: str = "float32"  # the arithmetic used (``resolve_precision``'s label)

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


def _check_split(recipe: Recipe, train: FusionTensors, val: FusionTensors, context: DistributedContext) -> int:
    """The optimiser steps per epoch that ``train`` gives (the data decide them); refuses splits that cannot
    train or validate, with the numbers."""
    if recipe.batch_size < context.world_size:
        raise ValueError(
            f"batch_size={recipe.batch_size} is smaller than the {context.world_size} ranks; batch_size is the "
            "global batch and every rank needs at least one frame of it per step"
        )
    steps = len(train) // recipe.batch_size
    if steps < 1:
        raise ValueError(
            f"{len(train)} training frames cannot fill one batch of batch_size={recipe.batch_size} (the short last "
            "batch is dropped); give more frames or pass a smaller --set batch_size=..."
        )
    if len(val) < max(1, context.world_size):
        raise ValueError(f"{len(val)} validation frames cannot be shared by {context.world_size} rank(s)")
    return steps


def _step_models(model: nn.Module, train: FusionTensors, share: int, options: EngineOptions, device: torch.device,
                 memory_format: torch.memory_format, autocast_dtype: torch.dtype | None,
                 context: DistributedContext) -> tuple[nn.Module, nn.Module]:
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


def _set_up(model: str | nn.Module, recipe: Recipe, data: tuple[FusionTensors, FusionTensors],
            options: EngineOptions, context: DistributedContext, model_kwargs: dict[str, Any]) -> Session:
    """Build the seeded model, move it and the data to the device, and build the optimiser and schedule."""
    device = context.device
    train, val = data
    steps = _check_split(recipe, train, val, context)
    if isinstance(model, str):
        model = build_model(model, recipe, train.target.shape[1], **model_kwargs)
    autocast_dtype, precision = resolve_precision(options.amp, device)
    memory_format = torch.channels_last if options.channels_last else torch.contiguous_format
    model = model.to(device, memory_format=memory_format)
    train, val = train.to(device), val.to(device)
    optimizer = make_optimizer(model, recipe, fused=True)
    # This rank's share of every global batch, and its loss weight: DDP averages the ranks' gradients, so
    # weighting each rank's mean by (its frames x world size / batch size) makes that average the gradient of
    # the whole batch's mean loss even when batch_size does not split evenly (the weight is 1.0 when it does).
    share = context.shard(recipe.batch_size)
    step_model, eval_model = _step_models(
        model, train, share[1] - share[0], options, device, memory_format, autocast_dtype, context
    )
    session = Session(
        recipe=recipe, context=context, device=device, model=model, step_model=step_model, eval_model=eval_model,
        optimizer=optimizer, scheduler=make_scheduler(optimizer, recipe, steps),
        generator=torch.Generator().manual_seed(recipe.seed), criterion=loss_function(recipe.loss),
        train=train, val=rows(val, *context.shard(len(val))) if context.enabled else val, val_total=len(val),
        steps=steps, share=share, share_weight=(share[1] - share[0]) * context.world_size / recipe.batch_size,
        memory_format=memory_format, autocast_dtype=autocast_dtype, eval_batch_size=options.eval_batch_size,
        precision=precision,
    )
    session.whole_step = options.replace_steps(session)  # None but in mmzoo.train.experimental
    return session


def _open_run_dir(run_dir: str | Path, identity: dict[str, Any], context: DistributedContext,
                  stack: contextlib.ExitStack) -> dict | None:
    """Lock the run folder for this run (rank 0 writes it) and return its checkpoint (None without one), read by
    rank 0 and sent to every rank. A folder in use or another run's checkpoint is refused on every rank (rank 0's
    error, so no rank is left waiting)."""
    failure = saved = None
    if context.is_main:
        try:
            stack.enter_context(folder_lock(run_dir, "the run folder"))
            saved = load_checkpoint(run_dir)
            if saved is not None and saved["identity"] != identity:
                raise RuntimeError(
                    f"{run_dir} holds a checkpoint of another run ({saved['identity']['architecture']}, recipe "
                    f"{saved['identity']['recipe']['name']}, or other data, frames or settings); use another run "
                    "folder or delete its checkpoint.pt to start afresh"
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


def _restore(session: Session, saved: dict | None) -> RunState:
    """The run state to continue from: a fresh one, or the checkpoint's (weights, optimiser, schedule, RNG)."""
    if saved is None:
        return RunState()
    session.model.load_state_dict(saved["model"])
    session.optimizer.load_state_dict(saved["optimizer"])
    session.scheduler.load_state_dict(saved["scheduler"])
    session.generator.set_state(saved["generator"])
    return RunState(saved["history"], saved["best_state"], saved["best_epoch"], saved["best"])


def _checkpoint(run_dir: str | Path, session: Session, state: RunState, identity: dict[str, Any]) -> None:
    save_checkpoint(run_dir, {
        "identity": identity, "history": state.history, "best_epoch": state.best_epoch, "best": state.best,
        "best_state": state.best_state, "model": cpu_state(session.model),
        "optimizer": session.optimizer.state_dict(), "scheduler": session.scheduler.state_dict(),
        "generator": session.generator.get_state(),
    })


def _tracker(log: Any, session: Session, identity: dict[str, Any], state: RunState,
             run_dir: str | Path | None) -> contextlib.AbstractContextManager[RunLogger]:
    """The run's logger (:mod:`mmzoo.train.tracking`), started with its configuration and the checkpoint's
    epochs; only rank 0 logs."""
    seed = session.recipe.seed
    stamp = time.strftime("%Y%m%d-%H%M%S")  # runs without a folder are never continued: each is its own
    name = Path(run_dir).name if run_dir is not None else f"{identity['architecture']}-seed{seed}-{stamp}"
    config = run_config(session.model, session.recipe, data={**identity["data"], "frames": identity["frames"]},
                        precision=session.precision, device=session.device)
    return tracked_run(log, name=name, config=config, history=state.history, run_dir=run_dir,
                       main=session.context.is_main)


def fit(
    model: str | nn.Module,
    recipe: Recipe | str,
    *,
    data: tuple[FusionTensors, FusionTensors] | None = None,
    data_dir: str | Path | None = None,
    run_dir: str | Path | None = None,
    options: EngineOptions = EngineOptions(),
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    log: str | Sequence[str] | Tracking | RunLogger | None = None,
    **model_kwargs: Any,
) -> FitResult:
    """Train ``model`` with ``recipe`` and return the selected epoch's weights and the run's history.

    Args:
        model: a registered name (built with ``recipe.seed``; ``model_kwargs`` go to its constructor) or a module.
        recipe: a :class:`Recipe` or a built-in recipe's name.
        data: ``(train, val)`` tensors; default: :func:`~mmzoo.train.data.recipe_tensors` (``data_dir`` or the
            recipe's synthetic set). Each epoch is ``len(train) // batch_size`` steps.
        run_dir: where to write a checkpoint after every epoch (locked while the run writes it). If it already
            holds one of the same run, training resumes after its last finished epoch (a finished run returns at
            once); another run's checkpoint is refused.
        options: device and speed settings (:class:`EngineOptions`).
        on_epoch: called with each epoch's record (for progress reporting or early inspection).
        log: trackers to log the run to (``"tensorboard,mlflow,wandb"``, a list, a
            :class:`~mmzoo.train.tracking.Tracking`, or an open :class:`~mmzoo.train.tracking.RunLogger`); with a
            ``run_dir`` its per-epoch ``epochs.csv`` is always written. See :mod:`mmzoo.train.tracking`.

    Raises:
        NonFiniteLossError: a loss became nan or infinite (the last finished epoch's checkpoint is kept).
        BusyError: another process is writing ``run_dir``.
    """
    recipe = get_recipe(recipe)
    context = setup(options.device, enabled=options.distributed)  # a single process outside torchrun
    if options.threads:
        torch.set_num_threads(options.threads)
    if options.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    if options.keep_freed_memory and context.device.type == "cpu":
        keep_freed_memory()
    data = data if data is not None else recipe_tensors(recipe, data_dir)
    session = _set_up(model, recipe, data, options, context, model_kwargs)
    identity = _identity(session.model, recipe, *data)
    with contextlib.ExitStack() as stack:
        saved = _open_run_dir(run_dir, identity, context, stack) if run_dir is not None else None
        state = _restore(session, saved)
        logger = stack.enter_context(_tracker(log, session, identity, state, run_dir))
        _train_epochs(session, state, run_dir, identity, options, logger.chain(on_epoch))
        session.model.load_state_dict(state.best_state)
        session.model.eval()
        log_result(logger, session.model, data[1], recipe, state.best_epoch, state.best, run_dir)
    barrier(context)  # every rank returns after rank 0 has written its last checkpoint
    return FitResult(session.model, recipe, state.history, state.best_epoch, dict(state.best), str(context.device),
                     identity, context.rank, context.world_size, session.precision)


def _train_epochs(session: Session, state: RunState, run_dir: str | Path | None, identity: dict[str, Any],
                  options: EngineOptions, on_epoch: Callable[[dict[str, Any]], None] | None) -> None:
    """Run the epochs the state has not finished, checkpointing each (rank 0) as soon as it is selected."""
    main, recipe = session.context.is_main, session.recipe
    reset_peak_memory(session.device)
    with _progress(options.progress and main, recipe.epochs, len(state.history), session.model.arch_name) as bar:
        for epoch in range(len(state.history) + 1, recipe.epochs + 1):
            record, metrics = run_epoch(session, epoch)
            keep_best(state, session, record, metrics)
            if run_dir is not None and main:
                _checkpoint(run_dir, session, state, identity)
            if on_epoch is not None and main:
                on_epoch(record)
            bar.update(1)
            bar.set_postfix(loss=f"{record['train_loss']:.4f}", val_loss=f"{metrics['loss']:.4f}")


@contextlib.contextmanager
def _progress(enabled: bool, total: int, done: int, name: str) -> Iterator[Any]:
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=done, desc=f"train {name}", unit="epoch", disable=not enabled, leave=False)
    try:
        yield bar
    finally:
        bar.close()
