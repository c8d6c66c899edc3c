"""The engine's optional accelerations: checked everywhere, and on a CUDA machine run against eager training.

CI has no GPU, so the CUDA tests skip there; they ran on the lent H100 (see the README's GPU section).
"""
from __future__ import annotations

import pytest
import torch

from mmzoo.train import EngineOptions, fit, get_recipe, recipe_tensors
from mmzoo.train.acceleration import compile_mode, graph_training_step

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
TINY = dict(train_frames=96, val_frames=64, epochs=3)


def test_compile_modes_are_checked_up_front():
    assert compile_mode(True) is None
    assert compile_mode("reduce-overhead") == "reduce-overhead"
    with pytest.raises(ValueError, match="reduce-overhead"):
        EngineOptions(compile="fastest")
    with pytest.raises(ValueError, match="alternatives"):
        EngineOptions(compile=True, cuda_graphs=True).uses_cuda_graphs(torch.device("cuda"))


def test_cuda_graphs_refuse_a_cpu_device():
    recipe = get_recipe("assignment", **TINY)
    with pytest.raises(ValueError, match=r"cuda_graphs=True .* needs one CUDA device in a single process, not device cpu"):
        fit("intermediate_cat", recipe, options=EngineOptions(device="cpu", cuda_graphs=True, progress=False))
    model = torch.nn.Conv2d(3, 3, 1)
    with pytest.raises(ValueError, match="CUDA device"):
        graph_training_step(model, (torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4)))


@CUDA
@pytest.mark.parametrize("model", ["intermediate_cat", "late_fusion_strided", "course_rgb_only"])
def test_cuda_graphs_train_like_eager(model):
    recipe = get_recipe("assignment" if not model.startswith("course") else "course", **TINY)
    data = recipe_tensors(recipe)
    runs = {}
    for graphs in (False, True):
        options = EngineOptions(device="cuda", cuda_graphs=graphs, progress=False, deterministic=True)
        runs[graphs] = fit(model, recipe, data=data, options=options)
    eager, graphed = runs[False].history, runs[True].history
    for a, b in zip(eager, graphed, strict=True):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-3, abs=1e-4)
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-3, abs=1e-4)
    # The model handed back is the plain one: its forward is not the captured graph.
    assert "forward" not in vars(runs[True].model)


@CUDA
def test_bf16_autocast_trains_on_cuda():
    recipe = get_recipe("assignment", **TINY)
    result = fit("intermediate_cat", recipe, options=EngineOptions(device="cuda", amp="bf16", progress=False))
    losses = [r["train_loss"] for r in result.history]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert result.history[-1]["cuda_peak_allocated_mib"] > 0


@pytest.mark.parametrize(
    "flags, expected", [([], (None, False)), (["--cuda-graphs"], (True, False)),
                        (["--no-cuda-graphs"], (False, False)), (["--compile", "reduce-overhead"], (None, "reduce-overhead"))]
)
def test_command_line_leaves_cuda_graphs_to_the_engine_unless_told(flags, expected):
    from mmzoo.cli import build_parser
    from mmzoo.cli.train import options_from_args

    options = options_from_args(build_parser().parse_args(["train", "intermediate_cat", *flags]))
    assert (options.cuda_graphs, options.compile) == expected
    cuda = torch.device("cuda")
    assert options.uses_cuda_graphs(cuda) == (expected == (None, False) or expected[0] is True)
    if expected[0] is True:  # insisting where graphs cannot apply is an error, not a silent fallback
        with pytest.raises(ValueError, match="single process"):
            options.uses_cuda_graphs(cuda, distributed=True)
    else:
        assert not options.uses_cuda_graphs(cuda, distributed=True)


def test_precision_is_float32_unless_bf16_is_asked_for(monkeypatch):
    import torch

    from mmzoo.train import EngineOptions, precision

    cpu = torch.device("cpu")
    assert EngineOptions().amp is None and EngineOptions().autocast_dtype(cpu) is None
    monkeypatch.setattr(precision, "cpu_bf16_hardware", lambda: "amx")  # fast bf16 hardware changes nothing
    assert precision.resolve_precision(None, cpu) == (None, "float32 (amp=None)")
    assert precision.resolve_precision("bf16", cpu) == (torch.bfloat16, "bf16 autocast (amp=bf16 on amx)")
    assert precision.resolve_precision("bf16", torch.device("cuda"))[0] is torch.bfloat16
    monkeypatch.setattr(precision, "cpu_bf16_hardware", lambda: "none")
    with pytest.raises(ValueError, match="would be emulated"):
        precision.resolve_precision("bf16", cpu)
    with pytest.raises(ValueError, match="use None"):
        precision.resolve_precision("fp16", cpu)
    with pytest.raises(ValueError, match="use None"):
        EngineOptions(amp="fp16")


def test_the_retired_auto_warns_and_trains_in_float32(monkeypatch):
    import torch

    from mmzoo.train import EngineOptions, precision

    monkeypatch.setattr(precision, "cpu_bf16_hardware", lambda: "amx")
    with pytest.warns(FutureWarning, match="amp='bf16'"):
        options = EngineOptions(amp="auto")
    assert options.amp is None and options.autocast_dtype(torch.device("cpu")) is None


@pytest.mark.skipif(__import__("mmzoo.train.precision").train.precision.cpu_bf16_hardware() == "none",
                    reason="this CPU has no bf16 matrix hardware")
def test_bf16_training_on_a_cpu_with_bf16_hardware_runs_and_says_so():
    from mmzoo.train import EngineOptions, fit, get_recipe

    recipe = get_recipe("assignment", train_frames=64, val_frames=32, epochs=2)
    result = fit("intermediate_hadamard_strided", recipe, options=EngineOptions(device="cpu", amp="bf16",
                                                                               progress=False))
    losses = [epoch["train_loss"] for epoch in result.history]
    assert result.precision.startswith("bf16 autocast") and len(losses) == 2
    assert all(0 < loss < 5 for loss in losses)  # finite and of the scale of a BCE loss: the bf16 steps ran
