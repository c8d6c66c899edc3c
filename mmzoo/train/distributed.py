"""Training under ``torchrun``: find the job, join its process group, shard the work, reduce the metrics.

torchrun (``python -m torch.distributed.run``, and launchers that speak its protocol) starts one process per rank
with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` in its environment. The engine
calls :func:`setup` at the start of every run:

- outside torchrun (or with ``WORLD_SIZE=1``) the context is a single process on the requested device and nothing
  else happens, so the same command runs unchanged with and without torchrun;
- under a job of several ranks it pins the rank to ``cuda:LOCAL_RANK`` when the device is CUDA and joins torch's
  default process group (``nccl`` when the rank trains on CUDA, ``gloo`` on CPU). The group is initialised once
  per process and kept for the process's later runs (initialising it again on the same rendezvous port races
  with the other ranks' teardown); it is destroyed at exit, or by :func:`teardown`. A group the caller
  initialised is used as it is and left to the caller.

Gradients are synchronised by :class:`torch.nn.parallel.DistributedDataParallel` (:func:`wrap_model`); this module
only adds the few collectives the engine needs besides: summing metric sums (:func:`all_reduce_sums`), sending
rank 0's checkpoint to every rank (:func:`broadcast_object`), aligning buffers and a final barrier.

>>> shard_bounds(10, rank=1, world_size=3)
(3, 6)
>>> [shard_bounds(32, rank, 2) for rank in range(2)]
[(0, 16), (16, 32)]
"""
from __future__ import annotations

import atexit
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
import torch.distributed as dist
from torch import nn

from mmzoo.train.resources import resolve_device

__all__ = [
    "TORCHRUN_ENV_VARS",
    "DistributedContext",
    "rank_and_world",
    "is_main_process",
    "single_process_env",
    "shard_bounds",
    "choose_backend",
    "setup",
    "teardown",
    "wrap_model",
    "all_reduce_sums",
    "broadcast_object",
    "broadcast_buffers",
    "barrier",
]

#: What torchrun's agent exports to each worker (torch/distributed/elastic/agent/server/local_elastic_agent.py).
TORCHRUN_ENV_VARS = (
    "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE", "ROLE_RANK",
    "ROLE_WORLD_SIZE", "ROLE_NAME", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RESTART_COUNT",
    "TORCHELASTIC_MAX_RESTARTS", "TORCHELASTIC_RUN_ID", "TORCHELASTIC_USE_AGENT_STORE", "TORCHELASTIC_ERROR_FILE",
)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} must be an integer (torchrun sets it)") from None


def rank_and_world() -> tuple[int, int]:
    """``(rank, world_size)`` of this process, initialising nothing.

    From the process group if one is initialised, else from torchrun's ``RANK`` and ``WORLD_SIZE``; ``(0, 1)``
    outside any job. The benchmark harness uses it to pick its share of independent runs.
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    world_size, rank = _env_int("WORLD_SIZE", 1), _env_int("RANK", 0)
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(
            f"RANK={rank} and WORLD_SIZE={world_size} do not describe a rank of a job (0 <= RANK < WORLD_SIZE)"
        )
    return rank, world_size


def is_main_process() -> bool:
    """True on rank 0 and outside any job: the one process that writes files and prints summaries."""
    return rank_and_world()[0] == 0


def single_process_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``env`` (default ``os.environ``) without torchrun's variables.

    For subprocesses that must train alone although their parent is a rank of a torchrun job (independent runs
    of a sweep): without the variables the engine does not try to join the job.
    """
    env = os.environ if env is None else env
    return {key: value for key, value in env.items() if key not in TORCHRUN_ENV_VARS}


def shard_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """``(start, stop)`` of ``rank``'s contiguous share of ``n`` items; shares differ by at most one item and
    together cover ``0 .. n - 1`` exactly once."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside a world of {world_size}")
    return n * rank // world_size, n * (rank + 1) // world_size


def choose_backend(device: torch.device) -> str:
    """``nccl`` for CUDA devices (when torch was built with it), ``gloo`` for CPU."""
    if device.type == "cuda":
        return "nccl" if dist.is_nccl_available() else "gloo"
    if device.type == "cpu":
        return "gloo"
    raise ValueError(f"distributed training runs on CPU (gloo) or CUDA (nccl); got device {device}")


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in the job: its rank, the world size, its device and the group's backend.

    A single process (no torchrun) is ``world_size=1`` with ``backend=None``; every helper of this module is then
    a no-op, so the engine runs one code path.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        """True when several ranks train together."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0 (the only rank that writes)."""
        return self.rank == 0

    def shard(self, n: int) -> tuple[int, int]:
        """``(start, stop)`` of this rank's share of ``n`` items (see :func:`shard_bounds`)."""
        return shard_bounds(n, self.rank, self.world_size)

    @property
    def _comm_device(self) -> torch.device:
        # nccl reduces only CUDA tensors; gloo is happiest with CPU ones.
        return self.device if self.backend == "nccl" else torch.device("cpu")


def _rank_device(device: str | torch.device, local_rank: int) -> torch.device:
    """The device this rank trains on: ``"auto"`` or ``"cuda"`` means ``cuda:LOCAL_RANK``; an index is kept."""
    resolved = resolve_device(device)
    if resolved.type != "cuda" or resolved.index is not None:
        return resolved
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise RuntimeError(
            f"LOCAL_RANK={local_rank} but torch sees {count} GPU(s) on this node; launch at most {count} processes "
            "per node (torchrun --nproc-per-node) or train on CPU with --device cpu"
        )
    return torch.device("cuda", local_rank)


_initialised_here = False


def setup(device: str | torch.device = "auto", enabled: bool = True) -> DistributedContext:
    """Join the torchrun job this process belongs to (if any) and return its :class:`DistributedContext`.

    Args:
        device: the engine's device option; under a job ``"auto"``/``"cuda"`` become ``cuda:LOCAL_RANK``.
        enabled: False trains alone even under torchrun (the context is a single process).
    """
    global _initialised_here
    single = DistributedContext(device=resolve_device(device))
    if not enabled or not dist.is_available():
        return single
    initialised = dist.is_initialized()
    rank, world_size = rank_and_world()
    if world_size == 1:
        return single
    local_rank = _env_int("LOCAL_RANK", rank)
    rank_device = _rank_device(device, local_rank)
    if rank_device.type == "cuda":
        torch.cuda.set_device(rank_device)
    if not initialised:
        backend = choose_backend(rank_device)
        # device_id binds nccl's communicator to this rank's GPU at once (and silences its barrier warning).
        dist.init_process_group(backend=backend, device_id=rank_device if backend == "nccl" else None)
        _initialised_here = True
        atexit.register(teardown)
    backend = dist.get_backend()
    if backend == "nccl" and rank_device.type != "cuda":
        raise ValueError(
            "the process group uses nccl, which cannot train on CPU; train on the GPUs or use a gloo group"
        )
    return DistributedContext(rank, world_size, local_rank, rank_device, backend)


def teardown() -> None:
    """Destroy the process group if :func:`setup` initialised it (a caller's own group stays); runs at exit."""
    global _initialised_here
    if _initialised_here and dist.is_initialized():
        dist.destroy_process_group()
    _initialised_here = False


def wrap_model(model: nn.Module, context: DistributedContext) -> nn.Module:
    """``model`` in :class:`~torch.nn.parallel.DistributedDataParallel` (gradients averaged over the ranks in
    the backward pass); ``model`` itself for a single process. DDP also copies rank 0's weights to every rank."""
    if not context.enabled:
        return model
    device_ids = [context.device.index] if context.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def all_reduce_sums(values: Mapping[str, float], context: DistributedContext) -> dict[str, float]:
    """Each value summed over the ranks (float64, one collective for all of them); unchanged for one process.

    Every rank must pass the same keys.
    """
    if not context.enabled:
        return {key: float(value) for key, value in values.items()}
    keys = sorted(values)  # the same order on every rank
    packed = torch.tensor([float(values[key]) for key in keys], dtype=torch.float64, device=context._comm_device)
    dist.all_reduce(packed, op=dist.ReduceOp.SUM)
    return dict(zip(keys, packed.tolist()))


def broadcast_object(value: Any, context: DistributedContext, src: int = 0) -> Any:
    """``value`` as rank ``src`` holds it, on every rank (pickled; tensors keep their device)."""
    if not context.enabled:
        return value
    box = [value if context.rank == src else None]
    dist.broadcast_object_list(box, src=src, device=context._comm_device)
    return box[0]


def broadcast_buffers(module: nn.Module, context: DistributedContext, src: int = 0) -> None:
    """Copy rank ``src``'s buffers (e.g. BatchNorm statistics, which DDP leaves per rank after the last step)
    to every rank, so that all ranks evaluate and return the same module. No-op without buffers."""
    if not context.enabled:
        return
    with torch.no_grad():
        for buffer in module.buffers():
            dist.broadcast(buffer, src=src)


def barrier(context: DistributedContext) -> None:
    """Wait until every rank reaches this point (no-op for one process)."""
    if context.enabled:
        dist.barrier()
