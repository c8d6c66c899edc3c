"""One benchmark row, measured in a process of its own: ``python -m mmzoo.bench.worker JOB.json ROW.json``.

A group of rows that differ only in their seed can train at once (``fit_many``) in one process:
``python -m mmzoo.bench.worker GROUP.json ROW1.json ROW2.json ...``, GROUP.json holding the list of jobs.

A fresh process per row means one model's allocator state, compiled kernels or peak memory never leak into
another's numbers (timm's benchmark runs all models in one process; its users have been bitten by that).
"""
from __future__ import annotations

import contextlib
import json
import platform
import sys
from pathlib import Path
from typing import Any, Callable

import torch

from mmzoo.bench.measure import flops_per_sample, inference_speed, matmul_gflops
from mmzoo.utils.files import atomic_write_json
from mmzoo.train.data import recipe_frames, recipe_tensors
from mmzoo.train.engine import EngineOptions, FitResult
from mmzoo.train.experimental import ExperimentalOptions, fit, fit_many
from mmzoo.train.loop import samples_per_second
from mmzoo.train.metrics import loss_function
from mmzoo.train.precision import resolve_precision
from mmzoo.train.recipes import Recipe
from mmzoo.train.reference import reference_fit
from mmzoo.train.resources import device_name, keep_freed_memory, peak_memory, resolve_device
from mmzoo.train.tracking import RunLogger, Tracking, run_config

__all__ = ["run_job", "run_group"]


def _row_logger(job: dict[str, Any]) -> RunLogger | None:
    """The row's run in the trackers the sweep logs to (``job["log"]``, set by ``run_table(log=...)``), or None."""
    if not job.get("log"):
        return None
    row = {"table": job["table"], "row": job["name"], "loop": job["loop"], "key": job.get("key")}
    return RunLogger(Tracking(**job["log"]), job["name"], job.get("run_dir"), config={"bench": row})


def _train(job: dict[str, Any], recipe: Recipe, options: EngineOptions,
           logger: RunLogger | None = None) -> tuple[torch.nn.Module, dict[str, Any]]:
    kwargs = job.get("model_kwargs", {})
    if job["loop"] == "reference":
        train, val = recipe_frames(recipe, job.get("data_dir"))
        torch.set_num_threads(options.threads or torch.get_num_threads())
        device = resolve_device(options.device)
        out = reference_fit(job["model"], recipe, train, val, device=device, **kwargs)
        if logger is not None:  # the notebook loop has no per-epoch hook: its epochs are sent when it ends
            logger.start(run_config(out["model"], recipe, data=dict(train.metadata), device=device), out["history"])
        return out["model"], {"history": out["history"], "best_epoch": out["best_epoch"], "best": out["best"]}
    data = recipe_tensors(recipe, job.get("data_dir"))
    if resolve_device(options.device).type == "cpu":
        keep_freed_memory()  # process-wide: this worker is mmzoo's own process, and the engine row its only run
    result = fit(job["model"], recipe, data=data, run_dir=job.get("run_dir"), options=options, log=logger,
                 experimental=_options(job)[1], **kwargs)
    return result.model, {"history": result.history, "best_epoch": result.best_epoch, "best": result.best}


def _options(job: dict[str, Any], **changes: Any) -> tuple[EngineOptions, ExperimentalOptions]:
    """The job's engine options (no progress bar; ``changes`` applied) and its experimental ones."""
    engine, experimental = ExperimentalOptions.split(job.get("options", {}))
    return EngineOptions(**{"progress": False, **engine, **changes}), experimental


def _accelerations(options: EngineOptions, device: torch.device, job: dict[str, Any]) -> str:
    """The engine's optional speed-ups a row ran with, as a short label ('' for none)."""
    whole = _options(job)[1].whole_step_graphs and device.type == "cuda"
    # fit_many replays graphs only of the whole step, and never compiles.
    if (job.get("identity") or {}).get("seeds_at_once"):
        return "seeds at once (fit_many)" + (", whole-step cuda graphs" if whole else "")
    parts = []
    if whole:
        parts.append("whole-step cuda graphs")
    elif options.uses_cuda_graphs(device):
        parts.append("cuda graphs")
    if options.compile:
        parts.append("compile" if options.compile is True else f"compile {options.compile}")
    return ", ".join(parts)


def _inference(model: torch.nn.Module, device: torch.device, job: dict[str, Any], options: EngineOptions) -> dict[str, Any]:
    """Inference throughput and latency in the row's memory format, or None for tables that skip them."""
    if not job.get("inference", True):
        return {"inference_samples_per_s": None, "latency_ms": None}
    memory_format = torch.channels_last if options.channels_last and job["loop"] == "engine" else torch.contiguous_format
    return inference_speed(model, device, memory_format=memory_format)


#: The memory columns of a row (``mmzoo.train.resources.peak_memory``'s keys; None where not measured).
MEMORY_KEYS = ("peak_rss_mib", "cuda_peak_allocated_mib", "cuda_peak_reserved_mib", "nvml_process_mib")


def _memory(history: list[dict[str, Any]], device: torch.device) -> dict[str, float | None]:
    """The run's peak memory as its last epoch recorded it (a resumed run's own process saw only part of it),
    or as this process measures it when the history holds none."""
    memory = {key: value for key, value in history[-1].items() if key.endswith("_mib")} or peak_memory(device)
    return {key: memory.get(key) for key in MEMORY_KEYS}


def _precision(job: dict[str, Any], options: EngineOptions, device: torch.device) -> tuple[torch.dtype | None, str]:
    """The autocast dtype (None: float32) and precision label of a row: the notebook loop always trains in
    float32, as the notebooks did; the engine in its ``amp`` setting."""
    if job["loop"] != "engine":
        return None, "float32"
    return resolve_precision(options.amp, device)


def _between_ceilings(train: Callable[[], Any], device: torch.device, dtype: torch.dtype) -> tuple[Any, float]:
    """``train()``'s result and the matrix-multiply ceiling, measured before and after it with the higher kept:
    on a shared machine a single measurement taken during a neighbour's burst would make the fraction of peak
    look better than it is."""
    before = matmul_gflops(device, dtype=dtype)
    result = train()
    return result, max(before, matmul_gflops(device, dtype=dtype))


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Train (or resume) one model as ``job`` says and return its row (see ``mmzoo.bench.report.CSV_COLUMNS``)."""
    recipe = Recipe.from_dict(job["recipe"])
    options = _options(job)[0]
    device = resolve_device(options.device)
    arithmetic = _precision(job, options, device)[0] or torch.float32
    logger = _row_logger(job)
    with logger if logger is not None else contextlib.nullcontext():
        (model, out), ceiling = _between_ceilings(lambda: _train(job, recipe, options, logger), device, arithmetic)
        row = _row(job, recipe, options, model, out, ceiling)
        if logger is not None:
            logger.summary(row)  # the row's columns, to compare rows in the tracker
    return row


def run_group(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Train the seeds of ``jobs`` (engine rows that differ only in their seed) at once with
    :func:`~mmzoo.train.many.fit_many` and return one row per job, in order.

    Each row's training time is its share of the group's (``joint_train_time_s`` / ``runs_at_once`` per epoch,
    as ``fit_many`` records it); its peak memory is the group's.
    """
    first = jobs[0]
    recipe = Recipe.from_dict(first["recipe"])
    # fit_many feeds NCHW (vmap adds the run dimension): the rows say so, and inference is measured in it too.
    options, experimental = _options(first, channels_last=False)
    if resolve_device(options.device).type == "cpu":
        keep_freed_memory()  # as for one engine row
    device = resolve_device(options.device)
    data = recipe_tensors(recipe, first.get("data_dir"))
    seeds = [Recipe.from_dict(job["recipe"]).seed for job in jobs]

    loggers = [_row_logger(job) for job in jobs]
    log = loggers if all(loggers) else None

    def train() -> list[FitResult]:
        return fit_many(first["model"], recipe, seeds, data=data, options=options, log=log,
                        experimental=experimental, **first.get("model_kwargs", {}))

    with contextlib.ExitStack() as stack:
        for logger in log or ():
            stack.enter_context(logger)
        results, ceiling = _between_ceilings(train, device, _precision(first, options, device)[0] or torch.float32)
        rows = []
        for k, (job, result) in enumerate(zip(jobs, results)):
            out = {"history": result.history, "best_epoch": result.best_epoch, "best": result.best}
            rows.append({**_row(job, result.recipe, options, result.model, out, ceiling), "runs_at_once": len(jobs)})
            if log:
                log[k].summary(rows[-1])
    return rows


def _row(job: dict[str, Any], recipe: Recipe, options: EngineOptions, model: torch.nn.Module, out: dict[str, Any],
         ceiling: float) -> dict[str, Any]:
    """The row of a trained model: its accuracy, time, speed, FLOPs and memory, and how it was run."""
    device = resolve_device(options.device)
    autocast, precision = _precision(job, options, device)
    engine = job["loop"] == "engine"
    history = out["history"]
    model = model.to(device)
    flops = flops_per_sample(model, loss_function(recipe.loss), device)
    speed = _inference(model, device, job, options)
    train_time = sum(r["train_time_s"] + r["eval_time_s"] for r in history)
    # The data decide the samples per epoch (the engine records them; the notebook loop drops the short batch).
    per_epoch = history[0].get("train_samples", recipe.steps_per_epoch() * recipe.batch_size)
    samples_per_s = samples_per_second(history, per_epoch)
    achieved = flops["train_gflops_per_sample"] * samples_per_s
    best = out["best"]
    return {
        "table": job["table"],
        "model": job["model"],
        "variant": job.get("variant", ""),
        "loop": job["loop"],
        "seed": recipe.seed,
        "recipe": recipe.name,
        "recipe_fields": recipe.to_dict(),
        "identity": job.get("identity"),
        "data_dir": job.get("data_dir"),
        "params": sum(p.numel() for p in model.parameters()),
        "best_epoch": out["best_epoch"],
        "val_loss": best["loss"],
        "val_accuracy": best.get("accuracy"),
        "val_position_error": best.get("position_error"),
        "val_mse": best.get("mse"),
        "train_time_s": train_time,
        "epoch_time_s": train_time / len(history),
        "train_samples_per_s": samples_per_s,
        **flops,
        "achieved_gflops_s": achieved,
        "matmul_gflops_s": ceiling,
        "fraction_of_peak": achieved / ceiling,
        **speed,
        **_memory(history, device),
        "device": device_name(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "dtype": "bfloat16 autocast" if autocast is not None else "float32",
        "precision": precision,
        "channels_last": bool(options.channels_last and job["loop"] == "engine"),
        "accelerations": _accelerations(options, device, job) if engine else "",
        "history": history,
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2:
        print("usage: python -m mmzoo.bench.worker JOB.json ROW.json  (or GROUP.json ROW.json ROW.json ...: "
              "a list of jobs trained at once, one row file each)", file=sys.stderr)
        return 2
    jobs = json.loads(Path(argv[0]).read_text())
    if isinstance(jobs, dict):
        jobs = [jobs]
    if len(jobs) != len(argv) - 1:
        print(f"{argv[0]} holds {len(jobs)} job(s) but {len(argv) - 1} row file(s) were given", file=sys.stderr)
        return 2
    grouped = jobs[0].get("identity", {}).get("seeds_at_once")
    rows = run_group(jobs) if grouped else [run_job(job) for job in jobs]
    for path, row in zip(argv[1:], rows):  # written only once every run of the group has finished
        atomic_write_json(path, row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
