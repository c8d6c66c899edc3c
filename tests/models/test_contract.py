"""One contract for every registered model and every fusion operator.

Every parameter is registered (the forward uses no trainable tensor the module does not own; the module moves
with ``.to()``; one optimiser step changes every parameter), weights round-trip through ``save_pretrained`` /
``create("local-dir:...")``, gradients reach both modalities, heads have the shapes asked for, parameter counts
equal the metadata, and the same seed gives the same weights. An operator that keeps its weights in a Python
list (MultiBench's low-rank fusion) must fail it: ``test_contract_catches_weights_in_a_python_list``.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

import mmzoo
from mmzoo.models import FusionOp, fusion, fusion_class, fusion_param_count, list_fusions, register_fusion

MODELS = mmzoo.list_models()
OPERATORS = list_fusions()
_built: dict[str, nn.Module] = {}


def built(name: str) -> nn.Module:
    """The model ``name`` built once with seed 0 (reused by the read-only checks)."""
    if name not in _built:
        torch.manual_seed(0)
        _built[name] = mmzoo.create(name)
    return _built[name]


def model_inputs(model: nn.Module, batch: int = 2, dtype=torch.float32) -> tuple[torch.Tensor | None, ...]:
    spec = model.input_spec
    gen = torch.Generator().manual_seed(1)
    return tuple(
        torch.rand(batch, *spec.shape(m), generator=gen, dtype=dtype) if m in spec.modalities else None
        for m in ("rgb", "lidar")
    )


# --- the checks, as functions, so that the negative case runs exactly the same ones -------------------------------

def unregistered_leaves(module: nn.Module, output: torch.Tensor, inputs: tuple) -> list[tuple[int, ...]]:
    """Shapes of trainable leaf tensors the output depends on that are neither the module's parameters nor inputs."""
    known = {id(p) for p in module.parameters()} | {id(x) for x in inputs if x is not None}
    seen, stack, foreign = set(), [output.grad_fn], []
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        leaf = getattr(fn, "variable", None)  # AccumulateGrad nodes hold the leaf tensor
        if leaf is not None and id(leaf) not in known:
            foreign.append(tuple(leaf.shape))
        stack.extend(next_fn for next_fn, _ in fn.next_functions)
    return foreign


def check_registered(module: nn.Module, inputs: tuple) -> None:
    """Every trainable tensor the forward uses is a registered parameter, and optimiser steps change them all.

    Two steps, not one: timm's residual blocks start with their last BatchNorm scale at zero (``zero_init_last``),
    so the first step moves that scale and only the second reaches the convolutions before it.
    """
    leaves = tuple(x.clone().requires_grad_(True) if x is not None else None for x in inputs)
    out = module(*leaves)
    foreign = unregistered_leaves(module, out, leaves)
    assert not foreign, f"trainable tensors outside the module's parameters (a Python list?): {foreign}"
    params = dict(module.named_parameters())
    before = {k: v.detach().clone() for k, v in params.items()}
    optimiser = torch.optim.Adam(params.values(), lr=1e-2)
    for step in range(2):
        optimiser.zero_grad()
        (out if step == 0 else module(*leaves)).float().square().mean().backward()
        optimiser.step()
    unchanged = [k for k, v in params.items() if torch.equal(v.detach(), before[k])]
    assert not unchanged, f"two optimiser steps left these parameters unchanged: {unchanged}"
    for k, v in params.items():  # leave the shared instance as it was
        v.data.copy_(before[k])
    module.zero_grad()


def check_moves_with_to(module: nn.Module, inputs: tuple) -> None:
    """``.to(float64)`` converts every tensor the forward uses: double inputs give a double output."""
    module.to(torch.float64)
    try:
        out = module(*(x.double() if x is not None else None for x in inputs))
        assert out.dtype == torch.float64
    finally:
        module.to(torch.float32)


def check_gradients_reach(module: nn.Module, inputs: tuple) -> None:
    """A backward pass gives non-zero gradients on every input the module reads."""
    leaves = tuple(x.clone().requires_grad_(True) if x is not None else None for x in inputs)
    module.zero_grad()
    module(*leaves).float().square().mean().backward()
    for name, x in zip(("rgb", "lidar"), leaves):
        if x is not None:
            assert x.grad is not None and x.grad.abs().sum() > 0, f"no gradient reaches the {name} input"
    module.zero_grad()


# --- every registered model ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MODELS)
def test_model_parameters_are_registered_and_trained(name):
    model = built(name)
    check_registered(model, model_inputs(model))
    check_moves_with_to(model, model_inputs(model))


@pytest.mark.parametrize("name", MODELS)
def test_model_gradients_reach_both_modalities(name):
    model = built(name)
    check_gradients_reach(model, model_inputs(model))
    for branch in ("rgb_branch", "lidar_branch"):
        grads = [p.grad for n, p in model.named_parameters() if n.startswith(branch)]
        assert all(g is None for g in grads)  # zeroed again by the check: the same instance serves other tests


@pytest.mark.parametrize("name", MODELS)
def test_model_round_trips_through_a_folder(name, tmp_path):
    model = built(name).eval()
    folder = mmzoo.save_pretrained(model, tmp_path / name)
    torch.manual_seed(123)  # a different seed: only the loaded weights can make the outputs equal
    loaded = mmzoo.create(f"local-dir:{folder}", pretrained=True).eval()
    inputs = model_inputs(model)
    with torch.no_grad():
        assert torch.equal(loaded(*inputs), model(*inputs))
    assert loaded.state_dict().keys() == model.state_dict().keys()


@pytest.mark.parametrize("name", MODELS)
def test_model_size_and_heads_match_metadata(name):
    info = mmzoo.model_info(name)
    model = built(name)
    assert sum(p.numel() for p in model.parameters()) == info.num_params
    assert model(*model_inputs(model)).shape == (2, info.num_outputs)
    assert model.input_spec == info.input_spec
    other = mmzoo.create(name, num_outputs=3)
    assert other(*model_inputs(other, batch=1)).shape == (1, 3)


@pytest.mark.parametrize("name", MODELS)
def test_same_seed_same_weights(name):
    torch.manual_seed(0)
    reference = mmzoo.create(name).state_dict()  # fresh: the shared instance's BatchNorm statistics have moved
    torch.manual_seed(0)
    again = mmzoo.create(name).state_dict()
    assert all(torch.equal(again[k], v) for k, v in reference.items())
    torch.manual_seed(1)
    different = mmzoo.create(name).state_dict()
    assert not all(torch.equal(different[k], v) for k, v in reference.items())


# --- every fusion operator, on maps and (where it can) on vectors -------------------------------------------------

def op_cases(name: str) -> list[tuple[int | None, tuple[int, ...]]]:
    cases = [(4, (2, 8, 4, 4))]
    if not fusion_class(name).maps_only:
        cases.append((None, (2, 8)))
    return cases


@pytest.mark.parametrize("name", OPERATORS)
def test_operator_contract(name):
    for size, shape in op_cases(name):
        torch.manual_seed(0)
        op = mmzoo.models.create_fusion(name, 8, 8, size)
        gen = torch.Generator().manual_seed(2)
        rgb, lidar = torch.rand(shape, generator=gen), torch.rand(shape, generator=gen)
        out = op(rgb, lidar)
        assert out.shape == (2, op.out_channels(8, 8), *shape[2:])
        assert sum(p.numel() for p in op.parameters()) == fusion_param_count(name, 8, 8, size)
        check_gradients_reach(op, (rgb, lidar))
        if any(True for _ in op.parameters()):
            check_registered(op, (rgb, lidar))
        check_moves_with_to(op, (rgb, lidar))
        if op.exchanges:
            new_rgb, new_lidar = op.exchange(rgb, lidar)
            assert new_rgb.shape == rgb.shape and new_lidar.shape == lidar.shape


@pytest.mark.parametrize("name", OPERATORS)
def test_operator_documents_its_formula(name):
    assert fusion_class(name).formula, f"{name!r} needs a one-line formula (FusionOp.formula)"


# --- the negative case: MultiBench's low-rank fusion, factors in a plain Python list ------------------------------

class ListLowRankFusion(FusionOp):
    """LMF as MultiBench writes it: the factors live in a Python list, so ``parameters()`` never sees them."""

    same_shape = False

    def __init__(self, rgb_channels=None, lidar_channels=None, size=None, rank: int = 2) -> None:
        super().__init__(rgb_channels, lidar_channels, size)
        c_rgb, c_lidar = self.channels()
        self.factors = [nn.Parameter(torch.randn(rank, c + 1, c_rgb) * 0.1) for c in (c_rgb, c_lidar)]

    def forward(self, rgb, lidar):
        rgb, lidar = rgb.movedim(1, -1), lidar.movedim(1, -1)
        ones = torch.ones_like(rgb[..., :1])
        a = torch.einsum("...i,kio->...ko", torch.cat([rgb, ones], -1), self.factors[0])
        b = torch.einsum("...i,kio->...ko", torch.cat([lidar, ones], -1), self.factors[1])
        return (a * b).sum(-2).movedim(-1, 1)


@pytest.fixture
def list_lmf():
    register_fusion("list_lmf")(ListLowRankFusion)
    yield "list_lmf"
    fusion._FUSION_OPS.pop("list_lmf", None)


def test_contract_catches_weights_in_a_python_list(list_lmf, tmp_path):
    op = mmzoo.models.create_fusion(list_lmf, 8, 8, 4)
    inputs = (torch.rand(2, 8, 4, 4), torch.rand(2, 8, 4, 4))
    with pytest.raises(AssertionError, match="outside the module's parameters"):
        check_registered(op, inputs)
    with pytest.raises(RuntimeError):  # .to(float64) left the float32 factors behind
        check_moves_with_to(op, inputs)
    # In a registered network the factors are missing from the saved weights: the reloaded model differs.
    model = mmzoo.create("intermediate_add", fusion_op=list_lmf).eval()
    with pytest.raises(AssertionError, match="outside the module's parameters"):
        check_registered(model, model_inputs(model))
    folder = mmzoo.save_pretrained(model, tmp_path / "list_lmf")
    loaded = mmzoo.create(f"local-dir:{folder}", pretrained=True).eval()
    with torch.no_grad():
        assert not torch.equal(loaded(*model_inputs(model)), model(*model_inputs(model)))


def test_the_real_lmf_passes_where_the_list_one_fails():
    op = mmzoo.models.create_fusion("lmf", 8, 8, 4, rank=2)
    check_registered(op, (torch.rand(2, 8, 4, 4), torch.rand(2, 8, 4, 4)))
    assert {n for n, _ in op.named_parameters()} == {"rgb_factor", "lidar_factor", "rank_weight", "bias"}
