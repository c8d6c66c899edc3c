"""Devices, synchronisation and peak memory, measured the same way by the engine and the benchmark harness."""
from __future__ import annotations

import resource
import sys

import torch

__all__ = ["resolve_device", "synchronize", "reset_peak_memory", "peak_memory", "device_name"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA if available, else CPU; other names are checked (a missing GPU is a clear error)."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device} was asked for but torch sees no CUDA GPU; use device='cpu' or 'auto'")
    return device


def device_name(device: torch.device) -> str:
    """A human name: the GPU's model, or the CPU's with its thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = "CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), model)
    except OSError:
        pass
    return f"{model} ({torch.get_num_threads()} threads)"


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work so that wall-clock timings are true (no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak-memory window on CUDA (CPU peak RSS cannot be reset: it covers the whole process)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: torch.device) -> dict[str, float]:
    """Peak memory in MiB: ``cuda_peak_allocated_mib`` and ``cuda_peak_reserved_mib`` on CUDA, and always the
    process's ``peak_rss_mib`` (host memory, including the data and torch itself)."""
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {"peak_rss_mib": rss_kib / (1024 * 1024) if sys.platform == "darwin" else rss_kib / 1024}
    if device.type == "cuda":
        out["cuda_peak_allocated_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
        out["cuda_peak_reserved_mib"] = torch.cuda.max_memory_reserved(device) / 2**20
    return out
