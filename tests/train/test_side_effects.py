"""No process-wide change unless mmzoo owns the process, and no mode flag flipped on a model at run time."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from mmzoo.bench import worker
from mmzoo.models.blocks import ConvBlock
from mmzoo.train import EngineOptions, engine, fit, get_recipe
from mmzoo.train.data import recipe_frames
from mmzoo.train.reference import reference_fit

RECIPE = get_recipe("assignment", train_frames=64, val_frames=32, epochs=1)
MODEL = "late_fusion_strided"


def test_a_library_fit_leaves_malloc_alone_unless_asked(monkeypatch):
    calls = []
    monkeypatch.setattr(engine, "keep_freed_memory", lambda: calls.append("mallopt"))
    fit(MODEL, RECIPE, options=EngineOptions(device="cpu", progress=False))
    assert calls == []
    fit(MODEL, RECIPE, options=EngineOptions(device="cpu", progress=False, keep_freed_memory=True))
    assert calls == ["mallopt"]


@pytest.mark.parametrize("loop, expected", [("engine", ["mallopt"]), ("reference", [])])
def test_the_harness_worker_keeps_freed_memory_for_its_engine_rows_only(monkeypatch, loop, expected):
    """The worker is mmzoo's own process; the notebook-style loop's row runs as the notebooks did."""
    calls = []
    trained = SimpleNamespace(model=None, history=[], best_epoch=1, best={})
    monkeypatch.setattr(worker, "keep_freed_memory", lambda: calls.append("mallopt"))
    monkeypatch.setattr(worker, "fit", lambda *args, **kwargs: trained)
    monkeypatch.setattr(worker, "recipe_tensors", lambda *args: None)
    monkeypatch.setattr(worker, "recipe_frames", lambda *args: (None, None))
    monkeypatch.setattr(worker, "reference_fit", lambda *args, **kwargs: {"model": None, "history": [], "best_epoch": 1,
                                                                         "best": {}})
    job = {"model": MODEL, "loop": loop, "options": {"device": "cpu"}}
    worker._train(job, RECIPE, EngineOptions(device="cpu", progress=False))
    assert calls == expected


def test_the_notebook_loop_leaves_the_model_as_built():
    train, val = recipe_frames(RECIPE)
    out = reference_fit(MODEL.replace("_strided", ""), RECIPE, train, val)
    blocks = [module for module in out["model"].modules() if isinstance(module, ConvBlock)]
    assert blocks and all(block.pool_first and "pool_first" not in vars(block) for block in blocks)
