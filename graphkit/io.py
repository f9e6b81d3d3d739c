r"""Safe, atomic file I/O shared by every layer.

* Writes go to a temporary file in the target's folder, then :func:`os.replace` it into place, so a crash
  never leaves a half-written file.
* :func:`safe_torch_load` only ever loads with ``weights_only=True`` (tensors and plain containers) and never
  retries unsafely: a user's file cannot run code.
"""

from __future__ import annotations

import os
import os.path as osp
import pickle
import tempfile
from typing import Any, Callable

import torch

__all__ = ['atomic_write', 'atomic_write_text', 'atomic_torch_save', 'safe_torch_load']


def atomic_write(path: os.PathLike, write: Callable[[str], None]) -> None:
    r"""Call :obj:`write(tmp_path)` on a temporary file next to :obj:`path`, then rename it onto :obj:`path`.

    The file gets the usual permissions (``0o666`` minus the umask), not :func:`tempfile.mkstemp`'s ``0o600``.
    """
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + osp.basename(path) + '.', suffix='.tmp', dir=folder)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: os.PathLike, text: str) -> None:
    """Write :obj:`text` to :obj:`path` atomically."""

    def write(tmp: str) -> None:
        with open(tmp, 'w') as f:
            f.write(text)

    atomic_write(path, write)


def atomic_torch_save(obj: Any, path: os.PathLike) -> None:
    """:func:`torch.save` :obj:`obj` to :obj:`path` atomically."""
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def safe_torch_load(path: os.PathLike, map_location: Any = 'cpu', *, hint: str = '') -> Any:
    r"""Load a file written by :func:`torch.save` with ``weights_only=True``; never retries unsafely.

    Unlike :func:`torch_geometric.io.fs.torch_load`, a file that fails the safe load is an error.

    Args:
        path (str): The file.
        map_location (optional): Forwarded to :func:`torch.load`. (default: :obj:`'cpu'`)
        hint (str, optional): Appended to the error message (*e.g.* "pass force_reload=True").

    Raises:
        FileNotFoundError: If :obj:`path` does not exist.
        ValueError: If the file holds anything the weights-only unpickler refuses, or is corrupt.
    """
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f"No such file: '{path}'")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise ValueError(
            f"Refused to load '{path}': it needs more than plain tensors/arrays and was not "
            f'executed (weights_only load failed: {str(e).splitlines()[-1][:300]}).{hint}'
        ) from None
    except Exception as e:  # a damaged or truncated file fails anywhere inside torch's reader: name the file
        msg = str(e).splitlines()[0][:200] if str(e) else ''
        raise ValueError(
            f"Could not read '{path}': damaged, truncated or not a torch.save file ({type(e).__name__}: {msg}).{hint}"
        ) from None
