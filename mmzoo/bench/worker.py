"""One benchmark row, measured in a process of its own: ``python -m mmzoo.bench.worker JOB.json ROW.json``.

A fresh process per row means one model's allocator state, compiled kernels or peak memory never leak into
another's numbers (timm's benchmark runs all models in one process; its users have been bitten by that).
"""
from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any

import torch

from mmzoo.bench.measure import flops_per_sample, inference_speed, matmul_gflops
from mmzoo.utils.files import atomic_write_json
from mmzoo.train.data import recipe_frames, recipe_tensors
from mmzoo.train.engine import EngineOptions, fit
from mmzoo.train.loop import samples_per_second
from mmzoo.train.metrics import loss_function
from mmzoo.train.precision import resolve_precision
from mmzoo.train.recipes import Recipe
from mmzoo.train.reference import reference_fit
from mmzoo.train.resources import device_name, peak_memory, resolve_device

__all__ = ["run_job"]


def _train(job: dict[str, Any], recipe: Recipe, options: EngineOptions) -> tuple[torch.nn.Module, dict[str, Any]]:
    kwargs = job.get("model_kwargs", {})
    if job["loop"] == "reference":
        train, val = recipe_frames(recipe, job.get("data_dir"))
        torch.set_num_threads(options.threads or torch.get_num_threads())
        out = reference_fit(job["model"], recipe, train, val, device=resolve_device(options.device), **kwargs)
        return out["model"], {"history": out["history"], "best_epoch": out["best_epoch"], "best": out["best"]}
    data = recipe_tensors(recipe, job.get("data_dir"))
    result = fit(job["model"], recipe, data=data, run_dir=job.get("run_dir"), options=options, **kwargs)
    return result.model, {"history": result.history, "best_epoch": result.best_epoch, "best": result.best}


def _accelerations(options: EngineOptions, device: torch.device) -> str:
    """The engine's optional speed-ups a row ran with, as a short label ('' for none)."""
    parts = []
    if options.uses_cuda_graphs(device):
        parts.append("whole-step cuda graphs" if options.cuda_graphs == "whole-step" else "cuda graphs")
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


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Train (or resume) one model as ``job`` says and return its row (see ``mmzoo.bench.report.CSV_COLUMNS``)."""
    recipe = Recipe.from_dict(job["recipe"])
    options = EngineOptions(**{"progress": False, **job.get("options", {})})
    device = resolve_device(options.device)
    # The notebook loop always trains in float32; the engine in what its amp setting resolves to here.
    engine = job["loop"] == "engine"
    autocast, precision = resolve_precision(options.amp, device, job["model"]) if engine else (None, "float32")
    arithmetic = autocast or torch.float32
    ceiling = matmul_gflops(device, dtype=arithmetic)
    model, out = _train(job, recipe, options)
    # The ceiling is measured before and after training and the higher kept: on a shared machine a single
    # measurement taken during a neighbour's burst would make the fraction of peak look better than it is.
    ceiling = max(ceiling, matmul_gflops(device, dtype=arithmetic))
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
        "accelerations": _accelerations(options, device) if job["loop"] == "engine" else "",
        "history": history,
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m mmzoo.bench.worker JOB.json ROW.json", file=sys.stderr)
        return 2
    job = json.loads(Path(argv[0]).read_text())
    atomic_write_json(argv[1], run_job(job))
    return 0


if __name__ == "__main__":
    sys.exit(main())
