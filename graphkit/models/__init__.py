"""End-to-end models, found by name through :obj:`MODELS`."""
from graphkit.models.gae import GAE
from graphkit.models.heuristics import LinkHeuristic
from graphkit.models.lightgcn import LightGCN
from graphkit.models.ncn import NCN, NCNC
from graphkit.models.registry import MODELS
from graphkit.models.ultragcn import UltraGCN

__all__ = ['MODELS', 'LinkHeuristic', 'GAE', 'NCN', 'NCNC', 'UltraGCN', 'LightGCN']
