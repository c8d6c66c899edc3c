"""Which arithmetic a training run uses: float32 (the default, as the notebooks trained), or bf16 autocast when asked.

bf16 is an explicit choice (``amp="bf16"``, ``--amp bf16``), never picked by the machine: a run's recipe and its
arithmetic are the same on every computer. A CPU runs bf16 matrix products in hardware only with AMX tiles (Intel
Sapphire Rapids and later) or the AVX512-BF16 dot-product instructions (Intel Cooper Lake, AMD Zen 4 and later);
elsewhere oneDNN emulates them and bf16 is slower than float32, so asking for it there is refused. The capability
is asked of torch (which asks the CPU), never guessed from the vendor. Every run records the precision it used.

>>> resolve_precision(None, torch.device("cpu"))
(None, 'float32 (amp=None)')
"""
from __future__ import annotations

import warnings

import torch

__all__ = ["AMP_CHOICES", "check_amp", "cpu_bf16_hardware", "resolve_precision"]

#: The values ``EngineOptions.amp`` accepts: None (float32) or ``"bf16"`` (bfloat16 autocast).
AMP_CHOICES = (None, "bf16")


def check_amp(amp: str | None) -> str | None:
    """``amp`` if valid; the retired ``"auto"`` becomes None (float32) with a :class:`FutureWarning`.

    Raises:
        ValueError: any other value.
    """
    if amp == "auto":
        warnings.warn("amp='auto' (--amp auto) is retired: training is float32 unless you ask for bf16; pass "
                      "amp=None (--amp fp32) for float32 or amp='bf16' (--amp bf16) for bf16 autocast",
                      FutureWarning, stacklevel=3)
        return None
    if amp not in AMP_CHOICES:
        raise ValueError(f"amp={amp!r}; use None (float32) or 'bf16' (bf16 autocast)")
    return amp


def cpu_bf16_hardware() -> str:
    """``"amx"``, ``"avx512_bf16"`` or ``"none"``: how this CPU multiplies bf16 matrices."""
    cpu = getattr(torch, "cpu", None)
    if cpu is not None and getattr(cpu, "_is_amx_tile_supported", lambda: False)():
        return "amx"
    if cpu is not None and getattr(cpu, "_is_avx512_bf16_supported", lambda: False)():
        return "avx512_bf16"
    return "none"


def resolve_precision(amp: str | None, device: torch.device) -> tuple[torch.dtype | None, str]:
    """The autocast dtype (None: float32) for ``amp`` on ``device``, and its label for the run's record.

    Raises:
        ValueError: an unknown ``amp``, or ``"bf16"`` on a CPU without bf16 hardware (it would be emulated).
    """
    if check_amp(amp) is None:
        return None, "float32 (amp=None)"
    hardware = "cuda" if device.type == "cuda" else cpu_bf16_hardware()
    if hardware == "none":
        raise ValueError("amp='bf16' on a CPU without bf16 matrix hardware (no AMX, no AVX512-BF16) would be "
                         "emulated and slower than float32; train in float32 (amp=None, --amp fp32)")
    return torch.bfloat16, f"bf16 autocast (amp=bf16 on {hardware})"
