r"""Detection of the optional compiled extensions (torch-scatter, torch-sparse, pyg-lib).

graphkit never imports the extensions itself: it reads the flags that
:mod:`torch_geometric.typing` sets at import time and names
:class:`SparseTensor` through that module. :func:`disable_extensions` forces
the plain-PyTorch path, both in :mod:`graphkit.ops` and in the
:mod:`torch_geometric.utils` functions it dispatches through.
"""

from contextlib import contextmanager
from typing import Dict, Iterator

import torch_geometric.typing as pyg_typing

_FLAGS = ('WITH_TORCH_SCATTER', 'WITH_TORCH_SPARSE', 'WITH_PYG_LIB')

# Depth of nested `disable_extensions()` blocks; > 0 means "plain torch only".
_DISABLED = 0


def extension_flags() -> Dict[str, bool]:
    r"""Returns which optional extensions are currently in use, keyed by the
    :mod:`torch_geometric.typing` flag names :obj:`WITH_TORCH_SCATTER`,
    :obj:`WITH_TORCH_SPARSE` and :obj:`WITH_PYG_LIB`.

    Inside :func:`disable_extensions` every flag reads :obj:`False`. Record the
    result in a run's version stamp.
    """
    return {name: bool(getattr(pyg_typing, name, False)) and _DISABLED == 0 for name in _FLAGS}


def with_torch_sparse() -> bool:
    r"""Whether :obj:`torch_sparse` may be used now."""
    return _DISABLED == 0 and bool(pyg_typing.WITH_TORCH_SPARSE)


def with_torch_scatter() -> bool:
    r"""Whether :obj:`torch_scatter` may be used now."""
    return _DISABLED == 0 and bool(pyg_typing.WITH_TORCH_SCATTER)


@contextmanager
def disable_extensions() -> Iterator[None]:
    r"""Context manager (also usable as a decorator) that forces the
    plain-PyTorch code paths.

    Inside the block graphkit's own dispatch ignores the extensions, and the
    :mod:`torch_geometric.typing` flags :obj:`WITH_TORCH_SCATTER`,
    :obj:`WITH_TORCH_SPARSE` and :obj:`WITH_PYG_LIB` are set to :obj:`False`
    (as PyG's own ``disable_extensions`` test fixture does), so the
    :mod:`torch_geometric.utils` functions we call take their native paths
    too. Blocks nest; the previous values are restored on exit. The switch is
    process-global, not thread-local.

    .. code-block:: python

        with disable_extensions():
            out = spmm(adj, x)  # plain torch, even if torch-sparse is installed
    """
    global _DISABLED
    saved = {name: getattr(pyg_typing, name, False) for name in _FLAGS}
    _DISABLED += 1
    for name in _FLAGS:
        setattr(pyg_typing, name, False)
    try:
        yield
    finally:
        _DISABLED -= 1
        for name, value in saved.items():
            setattr(pyg_typing, name, value)
