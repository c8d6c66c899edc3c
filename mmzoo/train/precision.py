"""Which arithmetic a training run uses: float32, or bfloat16 autocast where the hardware does bf16 products.

A CPU runs bf16 matrix products in hardware only with AMX tiles (Intel Sapphire Rapids and later) or the
AVX512-BF16 dot-product instructions (Intel Cooper Lake, AMD Zen 4 and later); elsewhere oneDNN emulates them and
bf16 is slower than float32. The capability is asked of torch (which asks the CPU), never guessed from the vendor.

``amp="auto"`` (the engine's default) trains in bf16 only where three things hold: the hardware is of a kind
:data:`AUTO_PRECISION` allows; bf16 matrix products measure faster than float32's on this very machine
(:func:`cpu_bf16_speedup`: CPUs that report bf16 hardware differ); and the architecture is one of
:data:`BF16_PARITY`, whose bf16 training measured as accurate as float32's. Every run records the precision it used
and why.

>>> resolve_precision(None, torch.device("cpu"))
(None, 'float32 (amp=None)')
"""
from __future__ import annotations

import functools
import os
import statistics
import time

import torch

__all__ = ["AUTO_PRECISION", "BF16_PARITY", "BF16_MIN_SPEEDUP", "SPEEDUP_ENV", "cpu_bf16_hardware",
           "cpu_bf16_speedup", "resolve_precision"]

#: What ``amp="auto"`` may pick per kind of hardware. A GPU stays in float32: bf16 autocast was not faster for
#: these small networks on an H100. CPUs with bf16 matrix hardware (AMX tiles or AVX512-BF16) may train in bf16 if
#: it measures faster there (:data:`BF16_MIN_SPEEDUP`), for the architectures of :data:`BF16_PARITY`.
AUTO_PRECISION: dict[str, str | None] = {"cuda": None, "amx": "bf16", "avx512_bf16": "bf16", "none": None}

#: The architectures whose bf16 training held accuracy parity with float32: the scaled assignment table (three
#: seeds) under bf16 autocast, its mean validation accuracy within float32's mean ± one standard deviation
#: (benchmarks/results/precision-parity/results.json, by benchmarks/precision_parity.py). ``amp="auto"`` keeps
#: every other architecture in float32, since for those equal accuracy is not measured (or failed).
BF16_PARITY: frozenset[str] = frozenset({
    "late_fusion", "intermediate_cat", "intermediate_add", "intermediate_hadamard",
    "late_fusion_strided", "intermediate_cat_strided", "intermediate_add_strided", "intermediate_hadamard_strided",
})


#: ``amp="auto"`` trains in bf16 on a CPU only if bf16 matrix products run at least this many times as fast as
#: float32's there. CPUs that report bf16 hardware differ: bf16 trained an assignment network 1.6-2.0x faster
#: than float32 on an AMD EPYC with AVX512-BF16 (benchmarks/results/speed-ratio-amd-epyc/results.json), and
#: slower on an Intel Xeon that also reports AVX512-BF16 (benchmarks/results/speed-ratio/results.json); the
#: margin keeps a noisy measurement from flipping the choice.
BF16_MIN_SPEEDUP = 1.25
#: An environment variable holding a measured :func:`cpu_bf16_speedup`: processes that must decide alike (the
#: benchmark harness's workers) or a user who wants to skip the measurement set it.
SPEEDUP_ENV = "MMZOO_BF16_SPEEDUP"


@functools.lru_cache(maxsize=None)
def cpu_bf16_speedup(size: int = 2048, repeats: int = 5) -> float:
    """How many times as fast bf16 matrix products run as float32's on this CPU, with torch's threads.

    Measured once per process (about a second) as the median of a few timed products, unless
    ``$MMZOO_BF16_SPEEDUP`` holds a value. (``torch.utils.benchmark`` would take seconds to import.)
    """
    if os.environ.get(SPEEDUP_ENV):
        return float(os.environ[SPEEDUP_ENV])
    seconds = {}
    for dtype in (torch.float32, torch.bfloat16):
        a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
        a @ b  # the first product pays for oneDNN's kernel selection
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - start)
        seconds[dtype] = statistics.median(times)
    return seconds[torch.float32] / seconds[torch.bfloat16]


def cpu_bf16_hardware() -> str:
    """``"amx"``, ``"avx512_bf16"`` or ``"none"``: how this CPU multiplies bf16 matrices."""
    cpu = getattr(torch, "cpu", None)
    if cpu is not None and getattr(cpu, "_is_amx_tile_supported", lambda: False)():
        return "amx"
    if cpu is not None and getattr(cpu, "_is_avx512_bf16_supported", lambda: False)():
        return "avx512_bf16"
    return "none"


def resolve_precision(amp: str | None, device: torch.device, arch: str | None = None
                      ) -> tuple[torch.dtype | None, str]:
    """The autocast dtype (None: float32) for ``amp`` on ``device``, and the reason, for the run's record.

    ``arch`` is the registered architecture being trained: ``amp="auto"`` picks bf16 only for those of
    :data:`BF16_PARITY` (None: decide by the hardware alone).

    Raises:
        ValueError: an unknown ``amp``, or ``"bf16"`` on a CPU without bf16 hardware (it would be emulated).
    """
    if amp is None:
        return None, "float32 (amp=None)"
    if amp not in ("bf16", "auto"):
        raise ValueError(f"amp={amp!r}; use None (float32), 'bf16' or 'auto'")
    hardware = "cuda" if device.type == "cuda" else cpu_bf16_hardware()
    if amp == "auto":
        if AUTO_PRECISION.get(hardware) != "bf16":
            return None, f"float32 (amp=auto on {hardware})"
        if arch is not None and arch not in BF16_PARITY:
            return None, f"float32 (amp=auto on {hardware}: {arch} has no measured bf16 accuracy parity)"
        if hardware != "cuda" and cpu_bf16_speedup() < BF16_MIN_SPEEDUP:
            return None, f"float32 (amp=auto on {hardware}: bf16 matrix products are not faster on this CPU)"
        return torch.bfloat16, f"bf16 autocast (amp=auto on {hardware})"
    if hardware == "none":
        raise ValueError("amp='bf16' on a CPU without bf16 matrix hardware (no AMX, no AVX512-BF16) would be "
                         "emulated and slower than float32; train with amp=None or amp='auto'")
    return torch.bfloat16, f"bf16 autocast (amp=bf16 on {hardware})"
