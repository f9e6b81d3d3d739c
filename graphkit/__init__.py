"""graphkit: recent graph-learning methods on PyTorch Geometric, reproducible and extension-free."""

__version__ = '0.1.0'

__all__ = ['__version__', 'fit', 'Result']


def __getattr__(name: str):
    # graphkit.fit / graphkit.Result, imported on first use so that `import graphkit` stays light
    if name in ('fit', 'Result'):
        from graphkit import api

        return getattr(api, name)
    raise AttributeError(f"module 'graphkit' has no attribute '{name}'")
