"""The zoo's networks: shared building blocks, fusion operators, and the registered notebook architectures."""
from mmzoo.models import assignment, course  # noqa: F401  (importing registers the architectures)
from mmzoo.models.base import MultiModalNet
from mmzoo.models.blocks import ConvEncoder, conv_block, mlp
from mmzoo.models.fusion import FusionOp, create_fusion, list_fusions, register_fusion
from mmzoo.models.nets import ConvFusionNet, LateFusionNet, SingleModalityNet

__all__ = [
    "MultiModalNet",
    "ConvFusionNet",
    "LateFusionNet",
    "SingleModalityNet",
    "ConvEncoder",
    "conv_block",
    "mlp",
    "FusionOp",
    "register_fusion",
    "create_fusion",
    "list_fusions",
]
