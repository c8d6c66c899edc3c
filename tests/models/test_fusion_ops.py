"""Fusion operators: what each computes, and that a new one is one class and one registration."""
from __future__ import annotations

import pytest
import torch

import mmzoo
from mmzoo.models import FusionOp, create_fusion, fusion, list_fusions, register_fusion


def test_builtin_operators_compute_what_they_say():
    a, b = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
    assert torch.equal(create_fusion("concat")(a, b), torch.cat([a, b], 1))
    assert torch.equal(create_fusion("add")(a, b), a + b)
    assert torch.equal(create_fusion("hadamard")(a, b), a * b)
    expected = torch.stack([torch.stack([a[i, c] @ b[i, c] for c in range(3)]) for i in range(2)])
    assert torch.allclose(create_fusion("matmul")(a, b), expected)


def test_output_channels():
    assert create_fusion("concat").out_channels(100, 100) == 200
    assert create_fusion("hadamard").out_channels(100, 100) == 100
    with pytest.raises(ValueError, match="same number of channels"):
        create_fusion("add").out_channels(100, 50)


def test_matmul_needs_square_maps():
    with pytest.raises(ValueError, match="square feature maps"):
        create_fusion("matmul")(torch.rand(1, 2, 4, 3), torch.rand(1, 2, 3, 4))


def test_new_operator_is_one_class_and_one_registration():
    try:
        @register_fusion("maximum")
        class MaximumFusion(FusionOp):
            def forward(self, rgb, lidar):
                return torch.maximum(rgb, lidar)

        assert "maximum" in list_fusions()
        model = mmzoo.create("intermediate_add", fusion_op="maximum")
        assert isinstance(model.fusion, MaximumFusion)
        assert model(torch.rand(2, 4, 64, 64), torch.rand(2, 4, 64, 64)).shape == (2, 1)
        with pytest.raises(ValueError, match="already registered"):
            register_fusion("maximum")(MaximumFusion)
    finally:
        fusion._FUSION_OPS.pop("maximum", None)


def test_unknown_operator_lists_registered_ones():
    with pytest.raises(ValueError, match="registered: add, concat, .*hadamard, .*matmul"):
        create_fusion("mul")
