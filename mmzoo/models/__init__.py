"""The zoo's networks: shared building blocks, fusion operators, and the registered architectures."""
from mmzoo.models import operators  # noqa: F401  (importing registers the learned fusion operators)
from mmzoo.models import assignment, catalogue, course, timm_nets  # noqa: F401  (importing registers the architectures)
from mmzoo.models.base import MultiModalNet
from mmzoo.models.blocks import ConvBlock, ConvEncoder, conv_block, mlp, notebook_order, set_pool_first
from mmzoo.models.fusion import FusionOp, create_fusion, fusion_class, fusion_param_count, list_fusions, register_fusion
from mmzoo.models.nets import ConvFusionNet, LateFusionNet, SingleModalityNet
from mmzoo.models.timm_nets import TimmFusionNet, backbone_stages

__all__ = [
    "MultiModalNet",
    "ConvFusionNet",
    "LateFusionNet",
    "SingleModalityNet",
    "TimmFusionNet",
    "backbone_stages",
    "ConvBlock",
    "ConvEncoder",
    "conv_block",
    "notebook_order",
    "set_pool_first",
    "mlp",
    "FusionOp",
    "register_fusion",
    "create_fusion",
    "list_fusions",
    "fusion_class",
    "fusion_param_count",
]
