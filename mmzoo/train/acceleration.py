"""How the engine runs a model's forward and backward faster without changing what it computes.

Two optional accelerations, both chosen by :class:`~mmzoo.train.engine.EngineOptions`:

* ``compile``: ``torch.compile`` (Inductor kernels; mode ``"reduce-overhead"`` adds CUDA graphs). Compiling takes
  tens of seconds per model, so it pays on long runs only.
* ``cuda_graphs``: ``torch.cuda.make_graphed_callables`` captures one training step's forward and backward as two
  CUDA graphs. The assignment's models at batch 32 are bound by kernel launches on a GPU, not by arithmetic, and a
  replay launches a whole pass at once. No compiler is involved and the kernels are eager PyTorch's, so the maths is
  the same as eager; capture takes well under a second.

Evaluation always runs the plain model (in eval mode, under inference mode), so neither acceleration affects
the metrics' code path, and the returned model is never patched.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["compile_mode", "graph_training_step"]


def compile_mode(compile: bool | str) -> str | None:
    """The ``torch.compile`` mode an ``EngineOptions.compile`` value asks for (None: the default mode)."""
    if compile is True:
        return None
    modes = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
    if not isinstance(compile, str) or compile not in modes:
        raise ValueError(f"compile={compile!r}; use True, False or one of {', '.join(modes)}")
    return compile


class _TrainingStep(nn.Module):
    """A wrapper owning the model's parameters, so that graphing patches the wrapper's forward, not the model's."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, rgb: torch.Tensor, lidar: torch.Tensor) -> torch.Tensor:
        return self.model(rgb, lidar)


def graph_training_step(
    model: nn.Module,
    example: tuple[torch.Tensor, torch.Tensor],
    autocast_dtype: torch.dtype | None = None,
) -> nn.Module:
    """A module whose training-mode call replays CUDA graphs of ``model``'s forward and backward.

    Args:
        model: on a CUDA device, in training mode.
        example: one training batch ``(rgb, lidar)`` of the exact shapes, dtype and memory format every step uses
            (the graph is replayed on copies of each step's batch into these static inputs).
        autocast_dtype: the autocast dtype the steps run under (None for float32).

    The capture runs a few warm-up steps; the parameters' gradients and the BatchNorm statistics they touch are
    restored afterwards, so the first real step starts from exactly the state eager training would.

    >>> step = graph_training_step(model.cuda().train(), (rgb, lidar))  # doctest: +SKIP
    >>> loss = criterion(step(rgb, lidar), target); loss.backward()     # doctest: +SKIP
    """
    device = next(model.parameters()).device
    if device.type != "cuda":
        raise ValueError(f"cuda_graphs needs the model on a CUDA device; it is on {device}")
    if not model.training:
        raise ValueError("graph_training_step captures training mode; call model.train() first")
    saved = {key: value.detach().clone() for key, value in model.state_dict().items()}
    wrapper = _TrainingStep(model).train()
    with torch.autocast("cuda", dtype=autocast_dtype, enabled=autocast_dtype is not None, cache_enabled=False):
        graphed = torch.cuda.make_graphed_callables(
            wrapper, tuple(x.detach() for x in example), allow_unused_input=True
        )
    with torch.no_grad():
        model.load_state_dict(saved)  # copies in place: the graphs keep pointing at the same tensors
    model.zero_grad(set_to_none=True)
    return graphed
