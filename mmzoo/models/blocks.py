"""Building blocks shared by every network in the zoo: convolution blocks, per-modality encoders, MLP heads.

Both source notebooks use the same block, a 3x3 convolution (padding 1) + ReLU that halves the spatial size,
either with MaxPool2d(2) after the convolution ("pool") or with stride 2 in the convolution itself ("stride",
the assignment's ablation). Neither uses BatchNorm or dropout.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence

from torch import nn

__all__ = ["DOWNSAMPLE_MODES", "conv_block", "ConvEncoder", "mlp"]

DOWNSAMPLE_MODES = ("pool", "stride")


def conv_block(in_channels: int, out_channels: int, downsample: str = "pool") -> nn.Sequential:
    """3x3 conv (padding 1) + ReLU, halving height and width by max-pooling or by a stride-2 convolution.

    >>> conv_block(4, 50)
    Sequential(
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
    return nn.Sequential(*layers)


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
