"""End-to-end models, found by name through :obj:`MODELS`."""
from graphkit.models.gae import GAE
from graphkit.models.heuristics import LinkHeuristic
from graphkit.models.ncn import NCN, NCNC
from graphkit.models.registry import MODELS

__all__ = ['MODELS', 'LinkHeuristic', 'GAE', 'NCN', 'NCNC']
