"""The convolution block runs pool-then-ReLU; it must compute exactly what the notebooks' ReLU-then-pool does."""
import pytest
import torch
from torch import nn

import mmzoo
from mmzoo.models.blocks import ConvBlock, conv_block, notebook_order, set_pool_first


def _notebook_order(block: ConvBlock) -> nn.Sequential:
    """The same modules (shared parameters) in the notebooks' call order."""
    return nn.Sequential(*block)


def _inputs_with_ties(seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(4, 3, 16, 16, generator=generator)
    # Exact ties within pooling windows, zeros and all-negative windows: the cases where the orders could differ.
    x[:, :, ::2, 1::2] = x[:, :, ::2, ::2]
    x[:, 0] = x[:, 0].round()
    x[:, 1, :8] = -x[:, 1, :8].abs()
    return x


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_pool_first_is_bit_identical_forward_and_backward(memory_format):
    torch.manual_seed(0)
    block = conv_block(3, 5).to(memory_format=memory_format)
    # An identity-like kernel keeps the input's ties and zeros in the convolution's output.
    with torch.no_grad():
        block[0].weight.zero_()
        block[0].weight[:3, :3, 1, 1] = torch.eye(3)
        block[0].bias.zero_()
    results = []
    for module in (block, _notebook_order(block)):
        x = _inputs_with_ties(1).contiguous(memory_format=memory_format).requires_grad_()
        out = module(x)
        out.backward(torch.randn(out.shape, generator=torch.Generator().manual_seed(2)))
        results.append((out.detach(), x.grad, block[0].weight.grad.clone(), block[0].bias.grad.clone()))
        block.zero_grad(set_to_none=True)
    for ours, theirs in zip(*results):
        assert torch.equal(ours, theirs)


def test_block_keeps_the_notebooks_module_order():
    block = conv_block(4, 50)
    assert [type(m) for m in block] == [nn.Conv2d, nn.ReLU, nn.MaxPool2d]
    assert list(block.state_dict()) == ["0.weight", "0.bias"]


def test_whole_network_matches_the_notebook_order():
    torch.manual_seed(0)
    model = mmzoo.create("intermediate_cat", lidar_scale=0.02)
    rgb, lidar = torch.rand(2, 4, 64, 64), torch.rand(2, 4, 64, 64)
    ours = model(rgb, lidar)
    view = notebook_order(model)
    orders = [block.pool_first for block in view.modules() if isinstance(block, ConvBlock)]
    assert orders == [False] * 5  # two blocks per branch and one in the trunk
    assert all(block.pool_first for block in model.modules() if isinstance(block, ConvBlock))  # left as it was
    assert torch.equal(ours, view(rgb, lidar))
    with torch.no_grad():
        next(view.parameters()).add_(0.5)  # one set of parameters: training the view trains the model
    changed = model(rgb, lidar)
    assert not torch.equal(changed, ours) and torch.equal(changed, view(rgb, lidar))


def test_set_pool_first_is_deprecated_but_still_sets_the_order():
    model = mmzoo.create("intermediate_cat", lidar_scale=0.02)
    with pytest.warns(FutureWarning, match="notebook_order"):
        assert set_pool_first(model, False) == 5
    assert not any(block.pool_first for block in model.modules() if isinstance(block, ConvBlock))


def test_strided_block_has_no_pool_and_runs_conv_then_relu():
    block = conv_block(3, 4, downsample="stride")
    x = torch.randn(1, 3, 8, 8)
    assert len(block) == 2
    assert torch.equal(block(x), torch.relu(block[0](x)))
