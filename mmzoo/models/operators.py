"""Learned fusion operators from the multimodal literature, each one class and one ``@register_fusion``.

Every operator here fuses feature maps ``(B, C, H, W)`` (acting on the channels of each pixel, or on the
channels of the whole map after a global average) and vectors ``(B, C)`` alike, so that the same name works at
any fusion point of a ``ConvFusionNet`` and as the vector fusion of a ``LateFusionNet``. Weights are sized at
construction from the input channels (``create_fusion(name, rgb_channels, lidar_channels, size, **options)``)
and are always registered modules or ``nn.Parameter``s, never tensors in a Python list (MultiBench's
low-rank fusion keeps its factors in a list, so its optimiser never sees them; the contract test catches that).

Operators (formula; paper), each documented on its class:

- ``film``: y = (1 + gamma(z)) * x + beta(z), [gamma, beta] = W GAP(z) + b; Perez et al., AAAI 2018
- ``gated``: y = g * tanh(W_r r) + (1 - g) * tanh(W_l l), g = sigmoid(W_g [r; l]); Arevalo et al., 2017
- ``lmf``: y = sum_k w_k (A_k [r; 1]) * (B_k [l; 1]) + b; Liu et al., ACL 2018
- ``mlb``: y = P (tanh(U r) * tanh(V l)) + b; Kim et al., ICLR 2017
- ``mmtm``: z = relu(W [GAP r; GAP l]), r' = 2 sigmoid(W_r z) r, l' = 2 sigmoid(W_l z) l; Joze et al., CVPR 2020
- ``tokens``: pool to a grid, a transformer over the joint tokens, upsample its update, add back; Prakash et al., CVPR 2021
- ``convfuse``: y = relu(conv3x3([r; l])); Liu et al. (BEVFusion), 2022
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mmzoo.models.fusion import FusionOp, register_fusion

__all__ = [
    "ChannelLinear",
    "FiLMFusion",
    "GatedFusion",
    "LowRankFusion",
    "BilinearFusion",
    "MMTMFusion",
    "TokenFusion",
    "ConvFuser",
    "FILM_DIRECTIONS",
]

FILM_DIRECTIONS = ("rgb->lidar", "lidar->rgb", "both")


def squeeze(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W) -> (B, C)`` by global average pooling; vectors pass through."""
    return x.mean(dim=(2, 3)) if x.ndim == 4 else x


def broadcast(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-channel ``(B, C)`` vector shaped to multiply or add to ``like`` (a map or a vector)."""
    return v[:, :, None, None] if like.ndim == 4 else v


class ChannelLinear(nn.Linear):
    """``nn.Linear`` on dim 1: a 1x1 convolution on maps ``(B, C, H, W)``, a plain linear layer on ``(B, C)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4:
            return super().forward(x.movedim(1, -1)).movedim(-1, 1)
        return super().forward(x)


@register_fusion("film")
class FiLMFusion(FusionOp):
    """Feature-wise linear modulation: one modality predicts a per-channel scale and shift for the other.

    ``y = (1 + gamma(z)) * x + beta(z)``, ``[gamma, beta] = W GAP(z) + b`` (Perez et al., "FiLM: Visual Reasoning
    with a General Conditioning Layer", AAAI 2018). The scale is predicted as an offset from 1 so that a fresh
    operator passes ``x`` through almost unchanged. ``direction`` "rgb->lidar" modulates the LiDAR features
    with the camera's, "lidar->rgb" the reverse, "both" sums the two modulated maps (same channels needed).
    Cost: ``2 C_x (C_z + 1)`` per direction.
    """

    formula = "y = (1 + gamma(z)) * x + beta(z), [gamma, beta] = W GAP(z) + b"
    paper = "Perez et al., FiLM: Visual Reasoning with a General Conditioning Layer, AAAI 2018"
    same_shape = False
    exchanges = True

    def __init__(self, rgb_channels=None, lidar_channels=None, size=None, direction: str = "both") -> None:
        super().__init__(rgb_channels, lidar_channels, size)
        if direction not in FILM_DIRECTIONS:
            raise ValueError(f"film direction must be one of {FILM_DIRECTIONS}; got {direction!r}")
        c_rgb, c_lidar = self.channels()
        if direction == "both" and c_rgb != c_lidar:
            raise ValueError(f"film direction 'both' sums two maps: needs equal channels, got rgb {c_rgb}, lidar {c_lidar}")
        self.direction = direction
        # Only the directions in use get weights, so that every parameter receives a gradient.
        self.to_lidar = nn.Linear(c_rgb, 2 * c_lidar) if direction != "lidar->rgb" else None
        self.to_rgb = nn.Linear(c_lidar, 2 * c_rgb) if direction != "rgb->lidar" else None
        self.dim = c_rgb if direction == "lidar->rgb" else c_lidar

    def out_channels(self, rgb_channels: int, lidar_channels: int) -> int:
        return self.dim

    @staticmethod
    def _modulate(x: torch.Tensor, cond: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
        gamma, beta = layer(squeeze(cond)).chunk(2, dim=1)
        return (1 + broadcast(gamma, x)) * x + broadcast(beta, x)

    def exchange(self, rgb: torch.Tensor, lidar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each branch modulated by the other (the direction(s) chosen), for FiLM at several stages."""
        new_rgb = self._modulate(rgb, lidar, self.to_rgb) if self.to_rgb is not None else rgb
        new_lidar = self._modulate(lidar, rgb, self.to_lidar) if self.to_lidar is not None else lidar
        return new_rgb, new_lidar

    def forward(self, rgb: torch.Tensor, lidar: torch.Tensor) -> torch.Tensor:
        if self.to_rgb is None:
            return self._modulate(lidar, rgb, self.to_lidar)
        if self.to_lidar is None:
            return self._modulate(rgb, lidar, self.to_rgb)
        return self._modulate(lidar, rgb, self.to_lidar) + self._modulate(rgb, lidar, self.to_rgb)

    def extra_repr(self) -> str:
        return f"op={self.name!r}, direction={self.direction!r}"


@register_fusion("gated")
class GatedFusion(FusionOp):
    """Gated multimodal unit: a learned sigmoid gate mixes the two projected modalities, per channel and pixel.

    ``y = g * tanh(W_r r) + (1 - g) * tanh(W_l l)``, ``g = sigmoid(W_g [r; l])`` (Arevalo et al., "Gated
    Multimodal Units for Information Fusion", ICLR workshop 2017). ``dim`` output channels (default: the RGB
    channels). Cost: ``dim (2 C_r + 2 C_l + 3)``.
    """

    formula = "y = g * tanh(W_r r) + (1 - g) * tanh(W_l l), g = sigmoid(W_g [r; l])"
    paper = "Arevalo et al., Gated Multimodal Units for Information Fusion, ICLR workshop 2017"
    same_shape = False

    def __init__(self, rgb_channels=None, lidar_channels=None, size=None, dim: int | None = None) -> None:
        super().__init__(rgb_channels, lidar_channels, size)
        c_rgb, c_lidar = self.channels()
        self.dim = dim or c_rgb
        self.proj_rgb = ChannelLinear(c_rgb, self.dim)
        self.proj_lidar = ChannelLinear(c_lidar, self.dim)
        self.gate = ChannelLinear(c_rgb + c_lidar, self.dim)

    def out_channels(self, rgb_channels: int, lidar_channels: int) -> int:
        return self.dim

    def forward(self, rgb: torch.Tensor, lidar: torch.Tensor) -> torch.Tensor:
        g = torch.sigmoid(self.gate(torch.cat([rgb, lidar], dim=1)))
        return g * torch.tanh(self.proj_rgb(rgb)) + (1 - g) * torch.tanh(self.proj_lidar(lidar))


@register_fusion("lmf")
class LowRankFusion(FusionOp):
    """Low-rank multimodal (tensor) fusion: the outer-product fusion of [r; 1] and [l; 1], factorised to rank k.

    ``y = sum_k w_k (A_k [r; 1]) * (B_k [l; 1]) + b`` (Liu et al., "Efficient Low-rank Multimodal Fusion with
    Modality-Specific Factors", ACL 2018), per pixel on maps. The factors are ``nn.Parameter`` tensors of shape
    ``(rank, C + 1, dim)``: registered, so they move, save and train with the model. ``dim`` output channels
    (default: the RGB channels). Cost: ``rank (C_r + C_l + 2) dim + rank + dim``.
    """

    formula = "y = sum_k w_k (A_k [r; 1]) * (B_k [l; 1]) + b"
    paper = "Liu et al., Efficient Low-rank Multimodal Fusion with Modality-Specific Factors, ACL 2018"
    same_shape = False

    def __init__(self, rgb_channels=None, lidar_channels=None, size=None, rank: int = 4, dim: int | None = None) -> None:
        super().__init__(rgb_channels, lidar_channels, size)
        if rank < 1:
            raise ValueError(f"lmf rank must be >= 1; got {rank}")
        c_rgb, c_lidar = self.channels()
        self.rank, self.dim = rank, dim or c_rgb
        self.rgb_factor = nn.Parameter(torch.empty(rank, c_rgb + 1, self.dim))
        self.lidar_factor = nn.Parameter(torch.empty(rank, c_lidar + 1, self.dim))
        self.rank_weight = nn.Parameter(torch.empty(rank))
        self.bias = nn.Parameter(torch.zeros(self.dim))
        for factor in (self.rgb_factor, self.lidar_factor):
            nn.init.xavier_normal_(factor)
        nn.init.constant_(self.rank_weight, 1.0 / rank)

    def out_channels(self, rgb_channels: int, lidar_channels: int) -> int:
        return self.dim

    @staticmethod
    def _project(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x, torch.ones_like(x[..., :1])], dim=-1)  # [x; 1]: keeps the unimodal terms
        return torch.einsum("...i,kio->...ko", x, factor)

    def forward(self, rgb: torch.Tensor, lidar: torch.Tensor) -> torch.Tensor:
        maps = rgb.ndim == 4
        if maps:  # channels last: the same fusion at every pixel
            rgb, lidar = rgb.movedim(1, -1), lidar.movedim(1, -1)
        joint = self._project(rgb, self.rgb_factor) * self._project(lidar, self.lidar_factor)
        out = torch.einsum("...ko,k->...o", joint, self.rank_weight) + self.bias
        return out.movedim(-1, 1) if maps else out

    def extra_repr(self) -> str:
        return f"op={self.name!r}, rank={self.rank}, dim={self.dim}"


@register_fusion("mlb")
class BilinearFusion(FusionOp):
    """Multimodal low-rank bilinear pooling (MLB): a Hadamard product of projected inputs, projected again.

    ``y = P (tanh(U r) * tanh(V l)) + b`` (Kim et al., "Hadamard Product for Low-rank Bilinear Pooling",
    ICLR 2017). ``rank`` joint channels, ``dim`` outputs (both default to the RGB channels). mmzoo's "hadamard"
    is this operator without its three projections. Cost: ``rank (C_r + C_l + 2) + dim (rank + 1)``.
    """

    formula = "y = P (tanh(U r) * tanh(V l)) + b"
    paper = "Kim et al., Hadamard Product for Low-rank Bilinear Pooling, ICLR 2017"
    same_shape = False

    def __init__(self, rgb_channels=None, lidar_channels=None, size=None, rank: int | None = None, dim: int | None = None) -> None:
        super().__init__(rgb_channels, lidar_channels, size)
        c_rgb, c_lidar = self.channels()
        self.rank, self.dim = rank or c_rgb, dim or c_rgb
        self.proj_rgb = ChannelLinear(c_rgb, self.rank)
        self.proj_lidar = ChannelLinear(c_lidar, self.rank)
        self.out = ChannelLinear(self.rank, self.dim)

    def out_channels(self, rgb_channels: int, lidar_channels: int) -> int:
        return self.dim

    def forward(self, rgb: torch.Tensor, lidar: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.proj_rgb(rgb)) * torch.tanh(self.proj_lidar(lidar)))


@register_fusion("mmtm")
class MMTMFusion(FusionOp):
    """Multimodal transfer module: squeeze both maps, excite each from the joint code (an exchanging operator).

    ``z = relu(W [GAP r; GAP l])``, ``r' = 2 sigmoid(W_r z) * r``, ``l' = 2 sigmoid(W_l z) * l`` (Joze et al.,
    "MMTM: Multimodal Transfer Module for CNN Fusion", CVPR 2020); as a merging operator ``y = r' + l'``. The
    factor 2 makes a fresh module (gates near 0.5) leave the maps' scale unchanged. ``ratio`` shrinks the joint
    code to ``(C_r + C_l) / ratio``. Cost: ``h (C_r + C_l + 1) + (h + 1)(C_r + C_l)`` with that ``h``.
    """

    formula = "z = relu(W [GAP r; GAP l]), r' = 2 sigmoid(W_r z) r, l' = 2 sigmoid(W_l z) l, y = r' + l'"
    paper = "Joze et al., MMTM: Multimodal Transfer Module for CNN Fusion, CVPR 2020"
    exchanges = True

    def __init__(self, rgb_channels=None, lidar_channels=None, size=None, ratio: int = 4) -> None:
        super().__init__(rgb_channels, lidar_channels, size)
        c_rgb, c_lidar = self.channels()
        if ratio < 1:
            raise ValueError(f"mmtm ratio must be >= 1; got {ratio}")
        hidden = max(1, (c_rgb + c_lidar) // ratio)
        self.squeeze = nn.Linear(c_rgb + c_lidar, hidden)
        self.excite_rgb = nn.Linear(hidden, c_rgb)
        self.excite_lidar = nn.Linear(hidden, c_lidar)

    def exchange(self, rgb: torch.Tensor, lidar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.relu(self.squeeze(torch.cat([squeeze(rgb), squeeze(lidar)], dim=1)))
        rgb = 2 * broadcast(torch.sigmoid(self.excite_rgb(z)), rgb) * rgb
        lidar = 2 * broadcast(torch.sigmoid(self.excite_lidar(z)), lidar) * lidar
        return rgb, lidar

    def forward(self, rgb: torch.Tensor, lidar: torch.Tensor) -> torch.Tensor:
        rgb, lidar = self.exchange(rgb, lidar)
        return rgb + lidar


def _token_scale(tokens: torch.Tensor) -> torch.Tensor:
    """Each sample's root mean square over its tokens ``(B, N, C)``, shaped ``(B, 1, 1)`` (at least 1e-6)."""
    return tokens.pow(2).mean(dim=(1, 2), keepdim=True).sqrt().clamp_min(1e-6)


@register_fusion("tokens")
class TokenFusion(FusionOp):
    """TransFuser-style token fusion: a small transformer over both modalities' pooled tokens (exchanging).

    Both maps are average-pooled to a ``grid`` x ``grid`` token grid (``grid`` must divide the map side, so the
    pooling is a fixed-kernel ``avg_pool2d`` that exports), the ``2 grid^2`` tokens ``t`` get a learned position
    embedding and go through a pre-norm ``nn.TransformerEncoder`` (``layers``, ``heads``, MLP ``expansion``); what
    the transformer changed, ``T(t) - t``, is split, upsampled bilinearly to the map size and added back to each
    branch (Prakash, Chitta and Geiger, "Multi-Modal Fusion Transformer for End-to-End Autonomous Driving", CVPR
    2021). On vectors the two inputs are the two tokens. As a merging operator ``y = r' + l'``. Cost: about
    ``12 C^2`` per layer with ``expansion=4``, plus ``2 grid^2 C`` for the position embedding.

    Two choices keep it trainable next to inputs of very different scales (the assignment feeds 0-255 RGB and a
    scaled LiDAR, so the two maps differ by orders of magnitude):

    - each modality's tokens enter divided by their root mean square ``s`` (per sample), and its update leaves
      multiplied by it, so the exchange is scale-equivariant in each input and the update matches its branch;
    - each layer's two residual branches end in zero-initialised projections (attention ``out_proj`` and the
      MLP's ``linear2``), so a new operator is the identity exchange and the network starts as addition fusion.

    TransFuser's own form, the whole output added back at default initialisation, left the zoo networks at
    chance on some seeds (``studies/token_fusion_init.py`` measures the forms).
    """

    formula = "t = [pool(r) / s_r; pool(l) / s_l] + pos, [r'; l'] = [r; l] + up((T(t) - t) [s_r; s_l]), y = r' + l'"
    paper = "Prakash, Chitta and Geiger, Multi-Modal Fusion Transformer for End-to-End Autonomous Driving, CVPR 2021"
    exchanges = True

    def __init__(
        self, rgb_channels=None, lidar_channels=None, size=None,
        grid: int = 4, layers: int = 1, heads: int = 2, expansion: int = 4, dropout: float = 0.0,
    ) -> None:
        super().__init__(rgb_channels, lidar_channels, size)
        channels = self.channels()[0]
        self.out_channels(*self.channels())  # equal channels, or a clear error
        if channels % heads:
            raise ValueError(f"tokens fusion: heads={heads} must divide the {channels} channels")
        if size is not None and (grid < 1 or size % grid):
            divisors = [g for g in range(1, size + 1) if size % g == 0]
            raise ValueError(f"tokens fusion: grid={grid} must divide the {size}x{size} feature map; use one of {divisors}")
        self.grid = grid if size is not None else 1
        self.pool = size // self.grid if size is not None else 1
        self.pos = nn.Parameter(torch.zeros(1, 2 * self.grid * self.grid, channels))
        nn.init.trunc_normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(
            channels, heads, expansion * channels, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        for block in self.transformer.layers:  # nn.TransformerEncoder deep-copies one layer: zero each copy
            for projection in (block.self_attn.out_proj, block.linear2):
                nn.init.zeros_(projection.weight)
                nn.init.zeros_(projection.bias)

    def _tokens(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 2:
            return x[:, None, :]
        return F.avg_pool2d(x, self.pool).flatten(2).transpose(1, 2)  # (B, grid^2, C)

    def _back(self, tokens: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        if like.ndim == 2:
            return tokens[:, 0, :]
        grid = tokens.transpose(1, 2).unflatten(2, (self.grid, self.grid))
        return F.interpolate(grid, scale_factor=self.pool, mode="bilinear", align_corners=False)

    def exchange(self, rgb: torch.Tensor, lidar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.grid * self.grid
        rgb_tokens, lidar_tokens = self._tokens(rgb), self._tokens(lidar)
        rgb_scale, lidar_scale = _token_scale(rgb_tokens), _token_scale(lidar_tokens)
        tokens = torch.cat([rgb_tokens / rgb_scale, lidar_tokens / lidar_scale], dim=1) + self.pos
        update = self.transformer(tokens) - tokens
        return (rgb + self._back(update[:, :n] * rgb_scale, rgb),
                lidar + self._back(update[:, n:] * lidar_scale, lidar))

    def forward(self, rgb: torch.Tensor, lidar: torch.Tensor) -> torch.Tensor:
        rgb, lidar = self.exchange(rgb, lidar)
        return rgb + lidar

    def extra_repr(self) -> str:
        return f"op={self.name!r}, grid={self.grid}"


@register_fusion("convfuse")
class ConvFuser(FusionOp):
    """BEVFusion's conv fuser: concatenate the two maps, then a 3x3 convolution and ReLU to ``dim`` channels.

    ``y = relu(conv3x3([r; l]))`` (Liu et al., "BEVFusion: Multi-Task Multi-Sensor Fusion with Unified
    Bird's-Eye View Representation", 2022; their ConvFuser adds BatchNorm, which no zoo network uses). On
    vectors the convolution is 1x1 (a linear layer). Cost: ``k^2 (C_r + C_l) dim + dim``.
    """

    formula = "y = relu(conv3x3([r; l]))"
    paper = "Liu et al., BEVFusion: Multi-Task Multi-Sensor Fusion with Unified Bird's-Eye View Representation, 2022"
    same_shape = False

    def __init__(self, rgb_channels=None, lidar_channels=None, size=None, dim: int | None = None) -> None:
        super().__init__(rgb_channels, lidar_channels, size)
        c_rgb, c_lidar = self.channels()
        self.dim = dim or c_rgb
        kernel = 3 if size is not None else 1  # a 3x3 kernel on a 1x1 "map" would only use its centre
        self.conv = nn.Conv2d(c_rgb + c_lidar, self.dim, kernel, padding=kernel // 2)

    def out_channels(self, rgb_channels: int, lidar_channels: int) -> int:
        return self.dim

    def forward(self, rgb: torch.Tensor, lidar: torch.Tensor) -> torch.Tensor:
        x = torch.cat([rgb, lidar], dim=1)
        if x.ndim == 2:
            return torch.relu(self.conv(x[:, :, None, None]))[:, :, 0, 0]
        return torch.relu(self.conv(x))
