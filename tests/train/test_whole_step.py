"""The whole-step graphs' maths: the same epochs as the eager engine (eagerly on a CPU, captured on a GPU)."""
import pytest
import torch

from mmzoo.train import EngineOptions, get_recipe
from mmzoo.train.data import recipe_tensors
# Imported under another name: pytest 7 runs a module-level function called ``setup`` as nose's module set-up.
from mmzoo.train.distributed import setup as join_job
from mmzoo.train.engine import _set_up
from mmzoo.train.experimental import ExperimentalOptions, fit
from mmzoo.train.graphed import HostReads
from mmzoo.train.loop import run_epoch
from mmzoo.train.whole_step import WholeStep

RECIPE = get_recipe("assignment", train_frames=96, val_frames=40, epochs=2, seed=3)
MODEL = "intermediate_cat_strided"


def _session(recipe, whole_step: bool):
    options = EngineOptions(device="cpu", amp=None, progress=False)
    session = _set_up(MODEL, recipe, recipe_tensors(recipe), options, join_job("cpu", enabled=False), {})
    if whole_step:
        session.whole_step = WholeStep(session, capture=False)
    return session


def test_whole_step_trains_the_eager_engines_epochs():
    eager, whole = _session(RECIPE, False), _session(RECIPE, True)
    for epoch in (1, 2):
        (eager_record, eager_metrics), (whole_record, whole_metrics) = run_epoch(eager, epoch), run_epoch(whole, epoch)
        assert whole_record["lr"] == eager_record["lr"]
        assert whole_record["train_loss"] == pytest.approx(eager_record["train_loss"], rel=1e-5)
        for key in eager_metrics:
            assert whole_metrics[key] == pytest.approx(eager_metrics[key], rel=1e-5, abs=1e-7), key
    for key, value in eager.model.state_dict().items():
        torch.testing.assert_close(whole.model.state_dict()[key], value, rtol=1e-4, atol=1e-6)
    # The schedule advanced exactly as the eager steps advance it, and the optimiser still holds a float rate.
    assert whole.scheduler.state_dict() == eager.scheduler.state_dict()
    assert isinstance(whole.optimizer.param_groups[0]["lr"], float)
    assert whole.optimizer.param_groups[0]["lr"] == eager.optimizer.param_groups[0]["lr"]


def test_a_whole_step_epoch_runs_every_step_and_trains():
    whole = _session(RECIPE, True)
    before = {key: value.clone() for key, value in whole.model.state_dict().items()}
    order = torch.randperm(len(whole.train), generator=torch.Generator().manual_seed(0))
    loss_sum = whole.whole_step.train_epoch(order)
    assert int(whole.whole_step.position) == whole.steps
    assert 0 < float(loss_sum) / whole.steps < 10
    assert any(not torch.equal(before[key], value) for key, value in whole.model.state_dict().items())


def test_the_step_and_validation_never_read_a_value_back_to_the_host():
    whole = _session(RECIPE, True)
    whole.whole_step.train_epoch(torch.randperm(len(whole.train)))  # the model's one-off CPU input-range check
    whole.optimizer.param_groups[0]["lr"] = whole.whole_step.lr  # as during a whole-step epoch
    whole.whole_step.position.zero_()
    with HostReads() as step:
        whole.optimizer.zero_grad(set_to_none=True)
        whole.whole_step._step()
    with HostReads() as validation:
        whole.whole_step._sums()
    assert step.reads == [] and validation.reads == []
    with HostReads() as detector:
        float(whole.whole_step.loss_sum)
    assert detector.reads, "the detector sees a host read"


def test_whole_step_refuses_augmented_recipes():
    with pytest.raises(ValueError, match="modality_dropout"):
        _session(RECIPE.replace(modality_dropout=0.5), True)


def test_whole_step_option_is_checked_up_front():
    whole = ExperimentalOptions(whole_step_graphs=True)
    with pytest.raises(ValueError, match="needs one CUDA device, not device cpu"):
        fit(MODEL, RECIPE, options=EngineOptions(device="cpu", progress=False), experimental=whole)
    with pytest.raises(ValueError, match="alternative to compile"):
        fit(MODEL, RECIPE, options=EngineOptions(device="cpu", compile=True, progress=False), experimental=whole)


def test_the_moved_engine_option_warns_and_says_where_it_went():
    with pytest.warns(FutureWarning, match="whole_step_graphs=True"):
        options = EngineOptions(device="cpu", cuda_graphs="whole-step")
    assert options.cuda_graphs is None and options.replace_steps(None) is None  # the engine's own steps
    with pytest.raises(ValueError, match="use None, True or False"):
        EngineOptions(cuda_graphs="whole_step")


def test_the_default_path_never_imports_the_experimental_modes():
    import subprocess
    import sys

    code = ("import sys, mmzoo, mmzoo.train; from mmzoo.train import fit; "
            "print(sorted(m for m in sys.modules if m in ('mmzoo.train.whole_step', 'mmzoo.train.many', "
            "'mmzoo.train.experimental')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_whole_step_graphs_match_eager_training_on_a_gpu():
    recipe = get_recipe("assignment", train_frames=320, val_frames=64, epochs=3, seed=5)
    data = recipe_tensors(recipe)
    runs = {
        whole: fit(MODEL, recipe, data=data, options=EngineOptions(device="cuda", amp=None, cuda_graphs=False,
                                                                    progress=False),
                   experimental=ExperimentalOptions(whole_step_graphs=whole))
        for whole in (False, True)
    }
    for eager, whole in zip(runs[False].history, runs[True].history):
        assert whole["train_loss"] == pytest.approx(eager["train_loss"], rel=1e-3)
        assert whole["val_loss"] == pytest.approx(eager["val_loss"], rel=1e-3)
    assert runs[True].best_epoch == runs[False].best_epoch
