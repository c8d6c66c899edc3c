"""Measurements the harness adds to a trained model: FLOPs, the machine's matmul ceiling, inference speed.

Every number is measured in the process that reports it, on the device the model trained on, so a row's
"fraction of peak" compares the training rate with the ceiling of the same machine at the same moment.
"""
from __future__ import annotations

import statistics
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from mmzoo.train.resources import synchronize

__all__ = ["matmul_gflops", "flops_per_sample", "inference_speed", "example_inputs"]


def example_inputs(model: nn.Module, batch: int, device: torch.device, memory_format=torch.contiguous_format):
    """Random ``(rgb, lidar)`` of the model's input spec (None for a modality the model does not read)."""
    spec = model.input_spec
    make = lambda modality: torch.rand(batch, *spec.shape(modality), device=device).contiguous(  # noqa: E731
        memory_format=memory_format
    )
    rgb = make("rgb") if "rgb" in spec.modalities else None
    lidar = make("lidar") if "lidar" in spec.modalities else None
    return rgb, lidar


def matmul_gflops(device: torch.device, size: int = 2048, repeats: int = 10, dtype: torch.dtype = torch.float32) -> float:
    """Matrix-multiply rate of ``device`` in ``dtype``, in GFLOP/s: the practical ceiling a training rate is
    compared to (a bf16 row is compared to the bf16 ceiling: the arithmetic it actually used)."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        synchronize(device)
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times) / 1e9


def flops_per_sample(model: nn.Module, loss: nn.Module, device: torch.device, batch: int = 8) -> dict[str, float]:
    """GFLOPs per sample of inference (forward) and of a training step (forward + backward), counted by
    ``torch.utils.flop_counter`` (matrix products and convolutions; the optimiser's element-wise work is not
    counted, as is usual)."""
    was_training = model.training
    rgb, lidar = example_inputs(model, batch, device)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval()
        model(rgb, lidar)
    forward = counter.get_total_flops()
    model.train()
    with FlopCounterMode(display=False) as counter:
        output = model(rgb, lidar)
        loss(output, torch.zeros_like(output)).backward()
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return {"inference_gflops_per_sample": forward / batch / 1e9, "train_gflops_per_sample": counter.get_total_flops() / batch / 1e9}


@torch.inference_mode()
def inference_speed(
    model: nn.Module,
    device: torch.device,
    batch: int = 256,
    memory_format=torch.channels_last,
    repeats: int = 5,
    latency_repeats: int = 50,
) -> dict[str, float]:
    """Throughput (samples/s at ``batch``) and latency (median ms of one sample) of ``model`` in eval mode."""
    model.eval()
    rgb, lidar = example_inputs(model, batch, device, memory_format)
    model(rgb, lidar)
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        model(rgb, lidar)
    synchronize(device)
    throughput = batch * repeats / (time.perf_counter() - start)
    one = tuple(None if x is None else x[:1] for x in (rgb, lidar))
    for _ in range(3):
        model(*one)
    times = []
    for _ in range(latency_repeats):
        start = time.perf_counter()
        model(*one)
        synchronize(device)
        times.append(time.perf_counter() - start)
    return {"inference_samples_per_s": throughput, "latency_ms": 1000 * statistics.median(times)}
