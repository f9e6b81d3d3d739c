r"""Safe file reading and writing for :mod:`graphkit.data`.

Nothing here ever unpickles an arbitrary object: legacy OGB split files and processed caches go
through :func:`torch.load` with ``weights_only=True`` (plus a short, explicit list of numpy globals
for the former), and Planetoid's Python-2 pickles go through :class:`RestrictedUnpickler`, which
only resolves numpy arrays, scipy CSR/CSC matrices and :class:`collections.defaultdict`.
"""

from __future__ import annotations

import codecs
import collections
import fnmatch
import gzip
import hashlib
import io
import os
import os.path as osp
import pickle
import zlib
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from graphkit.io import safe_torch_load

__all__ = [
    'CACHE_NAMES',
    'file_signature',
    'clear_caches',
    'load_legacy_split',
    'is_writable_dir',
    'read_csv',
    'read_header',
    'RestrictedUnpickler',
    'read_planetoid_pickle',
    'missing_files_error',
]

# --------------------------------------------------------------------------------------------------
# torch.load, weights only
# --------------------------------------------------------------------------------------------------


def _numpy_safe_globals() -> List[Any]:
    r"""The globals a legacy OGB split file (``torch.save`` of a dict of numpy arrays) needs, and no
    more."""
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct
    out: List[Any] = [
        (_reconstruct, 'numpy.core.multiarray._reconstruct'),
        (_reconstruct, 'numpy._core.multiarray._reconstruct'),
        np.ndarray,
        np.dtype,
    ]
    dtypes = getattr(np, 'dtypes', None)
    names = (
        'BoolDType',
        'Int8DType',
        'Int16DType',
        'Int32DType',
        'Int64DType',
        'UInt8DType',
        'UInt16DType',
        'UInt32DType',
        'UInt64DType',
        'Float16DType',
        'Float32DType',
        'Float64DType',
        'LongDType',
        'ULongDType',
        'LongLongDType',
        'ULongLongDType',
        'ByteDType',
        'UByteDType',
        'ShortDType',
        'UShortDType',
        'IntDType',
        'UIntDType',
    )
    if dtypes is not None:
        out.extend(getattr(dtypes, n) for n in names if hasattr(dtypes, n))
    return out


def load_legacy_split(path: str) -> Dict[str, Tensor]:
    r"""Load a legacy OGB split file (``split/<type>/{train,valid,test}.pt``) safely.

    These files are ``torch.save`` pickles of a dict of numpy arrays. They are read with
    ``weights_only=True`` inside :func:`torch.serialization.safe_globals` naming only numpy's
    ``_reconstruct`` (under both ``numpy.core.multiarray`` and ``numpy._core.multiarray``),
    ``ndarray``, ``dtype`` and the concrete numeric dtype classes; anything else is refused.

    Returns:
        A dict mapping each key to a tensor (integers as :obj:`torch.long`, floats as
        :obj:`torch.float`).

    Raises:
        FileNotFoundError: If :obj:`path` does not exist.
        ValueError: If the file needs any other global (it is then not executed) or is not a dict.
    """
    path = os.fspath(path)
    with torch.serialization.safe_globals(_numpy_safe_globals()):
        obj = safe_torch_load(path)
    if not isinstance(obj, dict):
        raise ValueError(f"'{path}' should hold a dict of arrays (got {type(obj).__name__})")
    out: Dict[str, Tensor] = {}
    for key, value in obj.items():
        try:
            t = torch.as_tensor(np.asarray(value)) if not isinstance(value, Tensor) else value
        except (TypeError, ValueError) as e:
            raise ValueError(f"'{path}': entry '{key}' is not a numeric array ({e})") from None
        if t.is_floating_point():
            t = t.float()
        elif t.dtype != torch.bool:
            t = t.long()
        out[str(key)] = t
    return out


# --------------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------------


#: Names of the caches graphkit writes next to raw files (``processed/<name>``): OGB / generic, Planetoid, HGB.
CACHE_NAMES = ('graphkit_*.pt', 'planetoid_*.pt', 'hgb_graph.pt')
_SAMPLE = 1 << 16


def file_signature(path: str, root: Optional[str] = None) -> List[Any]:
    r"""``[name, size, mtime_ns, hash]`` of a source file, to key a cache: :obj:`name` relative to :obj:`root`,
    :obj:`hash` a BLAKE2b digest of its first and last 64 KiB (cheap on multi-GB files; with size and mtime
    it catches a replaced or edited file)."""
    st = os.stat(path)
    h = hashlib.blake2b(digest_size=12)
    with open(path, 'rb') as f:
        h.update(f.read(_SAMPLE))
        if st.st_size > 2 * _SAMPLE:
            f.seek(st.st_size - _SAMPLE)
            h.update(f.read(_SAMPLE))
    name = osp.relpath(path, root) if root else osp.basename(path)
    return [name, int(st.st_size), int(st.st_mtime_ns), h.hexdigest()]


def clear_caches(path: str) -> List[str]:
    r"""Delete the caches graphkit wrote under :obj:`path` (files named :obj:`CACHE_NAMES` inside ``processed/``
    folders, at any depth; nothing else is touched) and return their paths. The next load re-reads the raw
    files."""
    removed = []
    for folder, dirs, files in os.walk(os.fspath(path)):
        dirs[:] = [d for d in dirs if not d.startswith('.')]
        if osp.basename(folder) != 'processed':
            continue
        for f in files:
            if any(fnmatch.fnmatch(f, pattern) for pattern in CACHE_NAMES):
                full = osp.join(folder, f)
                os.remove(full)
                removed.append(full)
    return sorted(removed)


def is_writable_dir(path: str) -> bool:
    r"""Whether :obj:`path` (or, if it does not exist yet, its nearest existing parent) is writable.

    A folder whose mode has no owner-write bit counts as read-only even for root (who bypasses
    :func:`os.access`): shared, read-only data trees are never written into.
    """
    path = osp.abspath(os.fspath(path))
    while not osp.exists(path):
        parent = osp.dirname(path)
        if parent == path:
            return False
        path = parent
    if not osp.isdir(path) or not os.access(path, os.W_OK | os.X_OK):
        return False
    return bool(os.stat(path).st_mode & 0o200)


# --------------------------------------------------------------------------------------------------
# CSV (OGB raw files)
# --------------------------------------------------------------------------------------------------


def _open_text(path: str):
    return gzip.open(path, 'rt') if path.endswith('.gz') else open(path)


#: What a damaged or truncated (gzipped) text file raises while it is read.
_DAMAGED = (OSError, EOFError, zlib.error, UnicodeDecodeError)


def _damaged(path: str, e: BaseException) -> ValueError:
    return ValueError(f"Could not read '{path}': damaged or truncated file ({type(e).__name__}: {e})")


def read_header(path: str) -> List[str]:
    """The comma-separated fields of the first line of a (gzipped) CSV file."""
    try:
        with _open_text(path) as f:
            return f.readline().strip().split(',')
    except _DAMAGED as e:
        raise _damaged(path, e) from None


def _first_bad_line(path: str, ncols: Optional[int], dtype: str, skip: int) -> str:
    conv = int if dtype == 'int' else float
    with _open_text(path) as f:
        for lineno, line in enumerate(f, start=1):
            if lineno <= skip:
                continue
            parts = line.strip().split(',')
            if ncols is not None and len(parts) != ncols:
                return f'line {lineno}: expected {ncols} columns, got {len(parts)}'
            try:
                [conv(p) for p in parts]
            except ValueError:
                return f'line {lineno}: expected {dtype} values, got {line.strip()[:80]!r}'
    return 'malformed content'


def read_csv(path: str, ncols: Optional[int] = None, dtype: str = 'int', header: bool = False) -> np.ndarray:
    r"""Read a headerless numeric CSV (optionally gzipped), as in the OGB raw layout.

    Args:
        path (str): The file.
        ncols (int, optional): Expected number of columns; checked when given.
        dtype (str): :obj:`'int'` (int64) or :obj:`'float'` (float32). (default: :obj:`'int'`)
        header (bool): Skip a header line. (default: :obj:`False`)

    Returns:
        A 2-D array of shape (rows, columns).

    Raises:
        FileNotFoundError: If :obj:`path` does not exist.
        ValueError: Naming the file and the first bad line on non-numeric values or a wrong column
            count.
    """
    import pandas as pd

    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f"No such file: '{path}'")
    np_dtype = np.int64 if dtype == 'int' else np.float32
    skip = 1 if header else 0
    try:
        df = pd.read_csv(path, header=None, skiprows=skip, dtype=np_dtype, sep=',', engine='c')
        arr = df.to_numpy()
        if (ncols is not None and arr.shape[1] != ncols) or (dtype == 'int' and df.isna().to_numpy().any()):
            raise ValueError
    except pd.errors.EmptyDataError:
        return np.zeros((0, ncols or 0), dtype=np_dtype)
    except _DAMAGED as e:  # before ValueError: UnicodeDecodeError is one
        raise _damaged(path, e) from None
    except (ValueError, TypeError, OverflowError, pd.errors.ParserError):
        try:
            where = _first_bad_line(path, ncols, dtype, skip)
        except _DAMAGED as e:
            raise _damaged(path, e) from None
        raise ValueError(f"Malformed CSV '{path}': {where}") from None
    return np.require(arr, requirements=['C', 'W'])


def missing_files_error(what: str, paths: Sequence[str], looked_in: Sequence[str], tree: str) -> FileNotFoundError:
    r"""A :class:`FileNotFoundError` listing each missing file, where we looked, and the expected
    tree."""
    lines = [f'{what}: missing file(s):']
    lines += [f'  - {p}' for p in paths]
    lines.append('Looked in: ' + ', '.join(f"'{d}'" for d in looked_in))
    lines.append('Expected layout:')
    lines += ['  ' + t for t in tree.strip('\n').splitlines()]
    lines.append('graphkit never downloads; place the files there or pass root=... (or set GRAPHKIT_DATA).')
    return FileNotFoundError('\n'.join(lines))


# --------------------------------------------------------------------------------------------------
# Planetoid pickles
# --------------------------------------------------------------------------------------------------


def _allowed_globals() -> Dict[tuple, Any]:
    import scipy.sparse as sp

    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    allowed: Dict[tuple, Any] = {}
    for mod in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        allowed[(mod, '_reconstruct')] = _reconstruct
        allowed[(mod, 'scalar')] = scalar
    allowed[('numpy', 'ndarray')] = np.ndarray
    allowed[('numpy', 'dtype')] = np.dtype
    for mod in ('scipy.sparse.csr', 'scipy.sparse._csr'):
        allowed[(mod, 'csr_matrix')] = sp.csr_matrix
    for mod in ('scipy.sparse.csc', 'scipy.sparse._csc'):
        allowed[(mod, 'csc_matrix')] = sp.csc_matrix
    allowed[('collections', 'defaultdict')] = collections.defaultdict
    allowed[('_codecs', 'encode')] = codecs.encode  # bytes in Python-3 protocol-2 pickles (str -> bytes)
    for mod in ('builtins', '__builtin__'):
        allowed[(mod, 'list')] = list
        allowed[(mod, 'set')] = set
        allowed[(mod, 'int')] = int
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    r"""An unpickler for Planetoid's Python-2 pickles that resolves only numpy arrays and scalars,
    scipy CSR/CSC matrices, :class:`collections.defaultdict`, the builtins :obj:`list`, :obj:`set`,
    :obj:`int`, and ``_codecs.encode`` (how Python 3 writes bytes at protocol 2).

    Any other global raises :class:`pickle.UnpicklingError` before anything is called.
    """

    def __init__(self, file: Any, *, encoding: str = 'latin1') -> None:
        super().__init__(file, encoding=encoding, fix_imports=True)
        self._allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed") from None


def read_planetoid_pickle(path: str) -> Any:
    r"""Read one ``ind.<name>.<key>`` pickle with :class:`RestrictedUnpickler`.

    Raises:
        ValueError: Naming the file if it references any other global (it is then not executed).
    """
    path = os.fspath(path)
    with open(path, 'rb') as f:
        data = f.read()
    try:
        obj = RestrictedUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as e:
        raise ValueError(f"Refused to load '{path}': {e}; it was not executed") from None
    except Exception as e:  # a damaged file fails anywhere inside the unpickler or numpy's reconstruction
        raise ValueError(f"Could not read '{path}': damaged or truncated ({type(e).__name__}: {e})") from None
    return _checked(obj, path)


def _checked(obj: Any, path: str) -> Any:
    # An unpickled scipy matrix is not validated: damaged index arrays would crash (segfault) its toarray().
    import scipy.sparse as sp

    if sp.issparse(obj):
        try:
            obj.check_format(full_check=True)
            if obj.indices.size and (obj.indices.min() < 0):
                raise ValueError('negative indices')
        except Exception as e:
            raise ValueError(f"Could not read '{path}': damaged sparse matrix ({e})") from None
    return obj
