"""End-to-end models, found by name through :obj:`MODELS`."""
from graphkit.models.registry import MODELS
from graphkit.models.heuristics import LinkHeuristic
from graphkit.models.gae import GAE

__all__ = ['MODELS', 'LinkHeuristic', 'GAE']
