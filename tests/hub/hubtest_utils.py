"""Small helpers shared by the Hub tests: seeded models, sample inputs, a dummy token."""
from __future__ import annotations

import torch

import mmzoo

#: A dummy token: the tests check that it is sent to the Hub and never printed or written.
FAKE_TOKEN = "hf_mmzooTestTokenThatMustNeverBePrinted"


def make_model(arch: str = "intermediate_add_strided", seed: int = 0, **kwargs) -> torch.nn.Module:
    """A seeded model (different seeds, different weights)."""
    torch.manual_seed(seed)
    return mmzoo.create(arch, **kwargs).eval()


def sample_inputs(model: torch.nn.Module, batch: int = 3, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    spec = model.input_spec
    return (torch.rand(batch, *spec.shape("rgb"), generator=generator),
            torch.rand(batch, *spec.shape("lidar"), generator=generator))
