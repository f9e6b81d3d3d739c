"""graphkit: recent graph-learning methods on PyTorch Geometric, reproducible and extension-free."""

__version__ = '0.1.0'

__all__ = ['__version__']
