"""Building blocks shared by every network in the zoo: convolution blocks, per-modality encoders, MLP heads.

Both source notebooks use the same block, a 3x3 convolution (padding 1) + ReLU that halves the spatial size,
either with MaxPool2d(2) after the convolution ("pool") or with stride 2 in the convolution itself ("stride",
the assignment's ablation). Neither uses BatchNorm or dropout.
"""
from __future__ import annotations

import copy
import itertools
import warnings
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["DOWNSAMPLE_MODES", "ConvBlock", "conv_block", "notebook_order", "set_pool_first", "ConvEncoder", "mlp"]

DOWNSAMPLE_MODES = ("pool", "stride")


class ConvBlock(nn.Sequential):
    """The notebooks' block, ``Conv2d -> ReLU [-> MaxPool2d(2)]``, held in the notebooks' order (so printing,
    ``state_dict`` keys and indexing are theirs) but run as ``Conv2d -> MaxPool2d(2) -> ReLU``.

    Why: ReLU is non-decreasing, so ``max(relu(a), relu(b)) == relu(max(a, b))``, and pooling first gives
    bit-identical outputs and gradients (a gradient reaches one input per window in both orders, and only where it
    is positive) while ReLU and its backward touch a quarter of the elements. ReLU's element-wise passes were the
    largest cost outside the convolutions of a CPU training step (``studies/step_profile.py`` measures it).
    :func:`notebook_order` gives a view of a model whose blocks run the notebooks' order instead.
    """

    pool_first: bool = True  # set once, on the blocks of a notebook_order view; never flipped on a model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(self) == 3 and self.pool_first:
            conv, relu, pool = self
            return relu(pool(conv(x)))
        return super().forward(x)


def notebook_order(model: nn.Module) -> nn.Module:
    """A view of ``model`` whose every :class:`ConvBlock` runs the notebooks' order (ReLU, then pooling): the same
    parameters and buffers (training the view trains ``model``), its own module objects, so ``model`` itself is
    never changed. What the notebook-style loop trains, so that it times the notebooks' operations.

    >>> encoder = ConvEncoder(4, [50, 100])
    >>> view = notebook_order(encoder)
    >>> [block.pool_first for block in view.modules() if isinstance(block, ConvBlock)], encoder[0].pool_first
    ([False, False], True)
    >>> view[0][0].weight is encoder[0][0].weight
    True
    """
    view = copy.copy(model)  # shares the parameter and buffer dicts; the children are copied below
    object.__setattr__(view, "_modules", {name: None if child is None else notebook_order(child)
                                          for name, child in model._modules.items()})
    if isinstance(view, ConvBlock):
        view.pool_first = False
    return view


def set_pool_first(model: nn.Module, enabled: bool) -> int:
    """Deprecated: use :func:`notebook_order` (a view in the notebooks' order; ``model`` is left as it is).

    Sets every :class:`ConvBlock` of ``model`` pool-first (``True``) or in the notebooks' order (``False``) and
    returns how many blocks it set.
    """
    warnings.warn("set_pool_first changes a model in place and is deprecated: use "
                  "mmzoo.models.blocks.notebook_order(model), a view in the notebooks' order", FutureWarning,
                  stacklevel=2)
    blocks = [module for module in model.modules() if isinstance(module, ConvBlock)]
    for block in blocks:
        block.pool_first = enabled
    return len(blocks)


def conv_block(in_channels: int, out_channels: int, downsample: str = "pool") -> ConvBlock:
    """3x3 conv (padding 1) + ReLU, halving height and width by max-pooling or by a stride-2 convolution.

    >>> conv_block(4, 50)
    ConvBlock(
      (0): Conv2d(4, 50, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
      (1): ReLU()
      (2): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
    )
    """
    if downsample not in DOWNSAMPLE_MODES:
        raise ValueError(f"downsample must be one of {DOWNSAMPLE_MODES}; got {downsample!r}")
    stride = 2 if downsample == "stride" else 1
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1), nn.ReLU()]
    if downsample == "pool":
        layers.append(nn.MaxPool2d(2))
    return ConvBlock(*layers)


class ConvEncoder(nn.Sequential):
    """A stack of ``conv_block``s: ``in_channels -> widths[0] -> ... -> widths[-1]``, each halving the size.

    An empty ``widths`` is the identity (used for fusion at the input, i.e. early fusion).
    """

    def __init__(self, in_channels: int, widths: Sequence[int], downsample: str = "pool") -> None:
        channels = [in_channels, *widths]
        super().__init__(*(conv_block(c_in, c_out, downsample) for c_in, c_out in itertools.pairwise(channels)))
        self.in_channels = in_channels
        self.out_channels = channels[-1]
        self.num_blocks = len(widths)

    def output_size(self, size: int) -> int:
        """Spatial size after the encoder, for an input of ``size`` x ``size``."""
        return size // 2**self.num_blocks


def mlp(in_features: int, hidden: Sequence[int], out_features: int) -> nn.Sequential:
    """Linear layers ``in -> hidden... -> out`` with ReLU between them and none after the last.

    >>> sum(p.numel() for p in mlp(12_800, [1000, 100], 9).parameters())
    12902009
    """
    sizes = [in_features, *hidden, out_features]
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        if i:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)
