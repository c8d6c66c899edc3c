"""Training modes that have not yet earned a place in the engine: whole-step CUDA graphs and K seeds at once.

Both are kept for a GPU measurement that has not run yet, outside the default path: :func:`mmzoo.train.fit` never
uses them and :class:`~mmzoo.train.EngineOptions` does not name them. Each stays here until a GPU run shows it
pays, and goes if it does not.

* **Whole-step graphs** (``ExperimentalOptions(whole_step_graphs=True)``, one CUDA device): the whole training
  step (batch gathering, forward, backward, fused Adam, the step's learning rate) replayed as one CUDA graph, and
  validation as another (:mod:`mmzoo.train.whole_step`). The engine's per-part CUDA graphs
  (``EngineOptions(cuda_graphs=None)``, the default on a GPU) are what measured faster on an H100.
* **K seeds at once** (:func:`fit_many`): one architecture at several seeds in one vmapped step
  (:mod:`mmzoo.train.many`); on a CPU it measured 0.97x the speed of the runs one after the other.

Their maths is the engine's (the same step function, :func:`mmzoo.train.loop.optimizer_step`) and is tested on
a CPU, where the graphed steps run eagerly; the tests against eager training on a GPU skip without one.

>>> from mmzoo.train import EngineOptions, get_recipe
>>> recipe = get_recipe("assignment", train_frames=64, val_frames=32, epochs=1)
>>> runs = fit_many("late_fusion_strided", recipe, seeds=(1, 2), options=EngineOptions(device="cpu", progress=False))
>>> [run.recipe.seed for run in runs]
[1, 2]
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from mmzoo.train import many as _many
from mmzoo.train.engine import EngineOptions, FitResult
from mmzoo.train.engine import fit as _engine_fit
from mmzoo.train.loop import Session
from mmzoo.train.recipes import Recipe
from mmzoo.train.resources import resolve_device

__all__ = ["ExperimentalOptions", "fit", "fit_many"]


@dataclass(frozen=True)
class ExperimentalOptions:
    """The experimental modes a run asks for (all off by default).

    Attributes:
        whole_step_graphs: on one CUDA device, replay each training step whole as one CUDA graph (and, in
            :func:`fit`, validation as another); refused elsewhere, under DDP, with ``compile`` or with a recipe
            that augments batches. In :func:`fit_many` it replays the group's whole step.
    """

    whole_step_graphs: bool = False

    @classmethod
    def split(cls, options: dict[str, Any]) -> tuple[dict[str, Any], ExperimentalOptions]:
        """A flat dict of options (the benchmark harness's) as its :class:`EngineOptions` fields and these.

        >>> ExperimentalOptions.split({"device": "cuda", "whole_step_graphs": True})
        ({'device': 'cuda'}, ExperimentalOptions(whole_step_graphs=True))
        """
        names = {item.name for item in fields(cls)}
        engine = {key: value for key, value in options.items() if key not in names}
        return engine, cls(**{key: value for key, value in options.items() if key in names})


class _WholeStepOptions(EngineOptions):
    """The engine's options with its steps and validation replaced by whole-step graphs (see ``replace_steps``)."""

    def replace_steps(self, session: Session) -> Any:
        from mmzoo.train.whole_step import WholeStep

        return WholeStep(session)  # captured at its first epoch, after a checkpoint is restored


def _whole_step_options(options: EngineOptions) -> EngineOptions:
    """``options`` for a whole-step run, refused where whole-step graphs cannot apply (before any work)."""
    device = resolve_device(options.device)
    problems = []
    if device.type != "cuda":
        problems.append(f"it needs one CUDA device, not device {device}")
    if options.compile:
        problems.append("it is an alternative to compile (leave compile=False)")
    if options.cuda_graphs:
        problems.append("it replaces the per-part CUDA graphs (leave cuda_graphs at None)")
    if problems:
        raise ValueError(f"whole_step_graphs=True (--whole-step-graphs): {'; '.join(problems)}")
    values = {item.name: getattr(options, item.name) for item in fields(EngineOptions)}
    return _WholeStepOptions(**{**values, "cuda_graphs": False})


def fit(model: Any, recipe: Recipe | str, *, options: EngineOptions = EngineOptions(),
        experimental: ExperimentalOptions = ExperimentalOptions(), **kwargs: Any) -> FitResult:
    """:func:`mmzoo.train.fit` with the modes ``experimental`` asks for (none: exactly ``mmzoo.train.fit``).

    >>> fit("late_fusion_strided", "assignment", experimental=ExperimentalOptions(whole_step_graphs=True),
    ...     options=EngineOptions(device="cpu"))
    Traceback (most recent call last):
    ...
    ValueError: whole_step_graphs=True (--whole-step-graphs): it needs one CUDA device, not device cpu
    """
    if experimental.whole_step_graphs:
        options = _whole_step_options(options)
    return _engine_fit(model, recipe, options=options, **kwargs)


def fit_many(model_name: str, recipe: Recipe | str, seeds: Sequence[int], *,
             experimental: ExperimentalOptions = ExperimentalOptions(), **kwargs: Any) -> list[FitResult]:
    """Train ``model_name`` once per seed, all runs in one vmapped step (:func:`mmzoo.train.many.fit_many`, which
    takes ``data``, ``options``, ``log`` and the model's arguments); ``experimental.whole_step_graphs`` replays
    the group's whole step as one CUDA graph."""
    return _many.fit_many(model_name, recipe, seeds, whole_step_graphs=experimental.whole_step_graphs, **kwargs)
