"""End-to-end models, found by name through :obj:`MODELS`; what each task family needs of a model is in
:mod:`graphkit.models.protocols`."""

from graphkit.models.gae import GAE
from graphkit.models.gcn import GCN
from graphkit.models.gin import GIN
from graphkit.models.gsm import GSMPlusPlus, GSMPlusPlusNode
from graphkit.models.heuristics import LinkHeuristic
from graphkit.models.lightgcn import LightGCN
from graphkit.models.ncn import NCN, NCNC
from graphkit.models.pamc import PamC
from graphkit.models.protocols import (
    MODEL_PROTOCOLS,
    ClusterModel,
    GraphModel,
    LinkModel,
    Model,
    NodeModel,
    PrecomputedNodeModel,
    RecommendModel,
)
from graphkit.models.registry import MODELS
from graphkit.models.rphgnn import RpHGNN
from graphkit.models.ultragcn import UltraGCN

__all__ = [
    'MODELS',
    'MODEL_PROTOCOLS',
    'Model',
    'LinkModel',
    'RecommendModel',
    'NodeModel',
    'PrecomputedNodeModel',
    'ClusterModel',
    'GraphModel',
    'LinkHeuristic',
    'GAE',
    'GCN',
    'GIN',
    'GSMPlusPlus',
    'GSMPlusPlusNode',
    'RpHGNN',
    'NCN',
    'NCNC',
    'UltraGCN',
    'LightGCN',
    'PamC',
]
