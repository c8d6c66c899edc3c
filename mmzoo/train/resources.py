"""Devices, synchronisation and peak memory, measured the same way by the engine and the benchmark harness."""
from __future__ import annotations

import ctypes
import functools
import os
import resource
import sys
from typing import Any

import torch

__all__ = ["resolve_device", "synchronize", "reset_peak_memory", "peak_memory", "device_name", "nvml_process_mib",
           "keep_freed_memory"]

# glibc's mallopt parameters (malloc.h), the largest mmap threshold it accepts on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX,
# 32 MiB), and how much freed memory at the heap's top it may keep before returning it to the system.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX = 32 * 2**20
_KEPT_TRIM_THRESHOLD = 2**30


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
    """Peak memory in MiB: ``cuda_peak_allocated_mib`` and ``cuda_peak_reserved_mib`` on CUDA (and
    ``nvml_process_mib`` where :func:`nvml_process_mib` can tell), and always the process's ``peak_rss_mib``
    (host memory, including the data and torch itself)."""
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {"peak_rss_mib": rss_kib / (1024 * 1024) if sys.platform == "darwin" else rss_kib / 1024}
    if device.type == "cuda":
        out["cuda_peak_allocated_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
        out["cuda_peak_reserved_mib"] = torch.cuda.max_memory_reserved(device) / 2**20
        nvml = nvml_process_mib(device)
        if nvml is not None:
            out["nvml_process_mib"] = nvml
    return out


def nvml_process_mib(device: torch.device) -> float | None:
    """This process's memory on ``device`` as NVML reports it (what ``nvidia-smi`` and the notebooks' monitoring
    tool show): the CUDA context, the kernels' modules and every block the caching allocator holds, so more than
    torch's reserved figure. The caching allocator keeps what it reserved, so read after training this is the
    run's peak. None on CPU, without the ``nvidia-ml-py`` package (``pip install mmzoo[gpu]``), or when NVML
    cannot attribute memory to this process."""
    if device.type != "cuda":
        return None
    try:
        import pynvml
    except ImportError:
        return None
    uuid = str(torch.cuda.get_device_properties(device).uuid)
    try:
        pynvml.nvmlInit()
        try:
            return _process_mib(pynvml, uuid if uuid.startswith("GPU-") else f"GPU-{uuid}", os.getpid())
        finally:
            pynvml.nvmlShutdown()
    except pynvml.NVMLError:
        return None


def _process_mib(nvml: Any, uuid: str, pid: int) -> float | None:
    """The compute process ``pid``'s used memory on the GPU ``uuid``. Inside a container NVML reports the host's
    process ids, so when no id matches and the GPU runs exactly one compute process, that one is this process
    (the benchmark harness gives each worker its own GPU)."""
    processes = nvml.nvmlDeviceGetComputeRunningProcesses(nvml.nvmlDeviceGetHandleByUUID(uuid))
    mine = [p for p in processes if p.pid == pid] or (processes if len(processes) == 1 else [])
    used = mine[0].usedGpuMemory if mine else None
    return None if used is None else used / 2**20


@functools.lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Let glibc's ``malloc`` keep the memory a training step frees, for the next step to reuse.

    Why: a CPU training step allocates and frees activations and gradients of up to tens of MB. glibc serves
    blocks above its mmap threshold with fresh ``mmap`` calls and unmaps them when freed, and trims freed memory
    off the heap's top, so every step faults its pages in anew (and the kernel zeroes each page). Raising the
    threshold to its maximum (32 MiB) and the trim threshold to 1 GiB lets later steps reuse the pages
    (``studies/step_profile.py`` counts the faults and times both). Tensors larger than 32 MiB are still
    mapped afresh.

    Process-wide and kept for the life of the process: the memory stays with the process (its peak is
    unchanged). A no-op returning False where the C library is not glibc (macOS, Windows, musl); with jemalloc or
    tcmalloc preloaded, glibc's settings are unused and harmless. Returns whether the settings were applied.

    >>> keep_freed_memory()  # Linux with glibc  # doctest: +SKIP
    True
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)) and bool(mallopt(_M_TRIM_THRESHOLD, _KEPT_TRIM_THRESHOLD))
