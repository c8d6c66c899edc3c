"""Which arithmetic a training run uses: float32, or bfloat16 autocast where the hardware does bf16 products.

A CPU runs bf16 matrix products in hardware only with AMX tiles (Intel Sapphire Rapids and later) or the
AVX512-BF16 dot-product instructions (Intel Cooper Lake, AMD Zen 4 and later); elsewhere oneDNN emulates them and
bf16 is slower than float32. The capability is asked of torch (which asks the CPU), never guessed from the vendor.

``amp="auto"`` decides by :data:`AUTO_PRECISION`, a table of what measured faster at equal accuracy; every run
records the precision it used and why.

>>> resolve_precision(None, torch.device("cpu"))
(None, 'float32 (amp=None)')
"""
from __future__ import annotations

import torch

__all__ = ["AUTO_PRECISION", "cpu_bf16_hardware", "resolve_precision"]

#: What ``amp="auto"`` picks per kind of hardware. A GPU stays in float32: bf16 autocast was not faster for
#: these small networks on an H100. CPUs with AMX tiles train in bf16. AVX512-BF16 alone stays in float32: there
#: bf16 trained faster, but its accuracy over seeds did not stay within float32's spread
#: (benchmarks/results/speed-ratio/results.json, written by benchmarks/speed_ratio.py).
AUTO_PRECISION: dict[str, str | None] = {"cuda": None, "amx": "bf16", "avx512_bf16": None, "none": None}


def cpu_bf16_hardware() -> str:
    """``"amx"``, ``"avx512_bf16"`` or ``"none"``: how this CPU multiplies bf16 matrices."""
    cpu = getattr(torch, "cpu", None)
    if cpu is not None and getattr(cpu, "_is_amx_tile_supported", lambda: False)():
        return "amx"
    if cpu is not None and getattr(cpu, "_is_avx512_bf16_supported", lambda: False)():
        return "avx512_bf16"
    return "none"


def resolve_precision(amp: str | None, device: torch.device) -> tuple[torch.dtype | None, str]:
    """The autocast dtype (None: float32) for ``amp`` on ``device``, and the reason, for the run's record.

    Raises:
        ValueError: an unknown ``amp``, or ``"bf16"`` on a CPU without bf16 hardware (it would be emulated).
    """
    if amp is None:
        return None, "float32 (amp=None)"
    if amp not in ("bf16", "auto"):
        raise ValueError(f"amp={amp!r}; use None (float32), 'bf16' or 'auto'")
    hardware = "cuda" if device.type == "cuda" else cpu_bf16_hardware()
    if amp == "auto":
        chosen = AUTO_PRECISION.get(hardware)
        dtype = torch.bfloat16 if chosen == "bf16" else None
        return dtype, f"{'bf16 autocast' if dtype else 'float32'} (amp=auto on {hardware})"
    if hardware == "none":
        raise ValueError("amp='bf16' on a CPU without bf16 matrix hardware (no AMX, no AVX512-BF16) would be "
                         "emulated and slower than float32; train with amp=None or amp='auto'")
    return torch.bfloat16, f"bf16 autocast (amp=bf16 on {hardware})"
