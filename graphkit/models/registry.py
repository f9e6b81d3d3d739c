"""The model registry: ``graphkit train NAME`` resolves ``NAME`` here."""

from graphkit.registry import Registry

MODELS = Registry('model')

__all__ = ['MODELS']
