r"""The shared base of graphkit's local-file datasets: an
:class:`~torch_geometric.data.InMemoryDataset` that never downloads, never prompts, caches only
tensors and plain containers, and never unpickles anything else.

PyG's own caching does not meet that bar in 2.8.1: :meth:`InMemoryDataset.load` goes through
:func:`torch_geometric.io.fs.torch_load`, which retries an unsafe (full-pickle) load after a warning,
and :meth:`Dataset._process` reads ``pre_transform.pt`` as a full pickle. So this class
overrides ``_download``, ``_process``, :meth:`save` and :meth:`load`; everything else (indexing,
transforms, ``processed_paths``) is PyG's.
"""

from __future__ import annotations

import math
import os
import os.path as osp
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData, InMemoryDataset

from graphkit.data.io import file_signature, is_writable_dir
from graphkit.io import atomic_torch_save, safe_torch_load

__all__ = ['LocalDataset', 'validate_data', 'check_index', 'random_features']

CACHE_FORMAT = 'graphkit-dataset-cache-v2'  # v2: keyed by the source files' signatures


def check_index(index: Tensor, num_nodes: int, field: str, source: str = '') -> None:
    r"""Raise a :class:`ValueError` naming :obj:`field` (and :obj:`source`) if :obj:`index` holds a
    value outside ``[0, num_nodes)``."""
    if index.numel() == 0:
        return
    if index.is_floating_point():
        raise ValueError(f"{source + ': ' if source else ''}'{field}' must hold integer node ids (got {index.dtype})")
    lo, hi = int(index.min()), int(index.max())
    if lo < 0 or hi >= num_nodes:
        raise ValueError(
            f"{source + ': ' if source else ''}'{field}' holds node ids in [{lo}, {hi}], "
            f'outside [0, {num_nodes}) (num_nodes={num_nodes})'
        )


def random_features(num_nodes: int, dim: int, generator: torch.Generator) -> Tensor:
    r"""Features for a featureless node type: i.i.d. :math:`\mathcal{N}(0, 1/d)` entries of shape
    ``[num_nodes, dim]`` drawn from :obj:`generator` (RpHGNN's input for types without attributes; rows have
    expected squared norm 1)."""
    return torch.randn(num_nodes, dim, generator=generator) / math.sqrt(dim)


def _check_finite(x: Tensor, field: str, source: str) -> None:
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{source + ': ' if source else ''}'{field}' holds NaN or infinite values")


def validate_data(data: Union[Data, HeteroData], source: str = '') -> None:
    r"""Check that every ``edge_index`` lies in ``[0, num_nodes)`` and that node features are
    finite.

    Raises:
        ValueError: Naming the offending field (and :obj:`source`, *e.g.* the dataset or file).
    """
    if isinstance(data, HeteroData):
        for node_type in data.node_types:
            store = data[node_type]
            for key in ('x', 'y'):
                if key in store and isinstance(store[key], Tensor):
                    _check_finite(store[key], f'{node_type}.{key}', source)
        for edge_type in data.edge_types:
            src, _, dst = edge_type
            ei = data[edge_type].edge_index
            check_index(ei[0], data[src].num_nodes, f'{edge_type}.edge_index[0]', source)
            check_index(ei[1], data[dst].num_nodes, f'{edge_type}.edge_index[1]', source)
        return
    num_nodes = data.num_nodes
    if data.edge_index is not None:
        if data.edge_index.dim() != 2 or data.edge_index.size(0) != 2:
            raise ValueError(
                f"{source + ': ' if source else ''}'edge_index' must have shape (2, E) "
                f'(got {tuple(data.edge_index.shape)})'
            )
        check_index(data.edge_index, num_nodes, 'edge_index', source)
    for key in ('x', 'edge_weight', 'edge_attr'):
        if key in data and isinstance(data[key], Tensor):
            _check_finite(data[key], key, source)


class _StaleCache(ValueError):
    """A valid cache built with another ``pre_transform``."""


class LocalDataset(InMemoryDataset):
    r"""Base class for datasets read from local files only (subclasses implement :meth:`read`).

    Subclasses set :attr:`raw_dir` / :attr:`processed_dir` (via :attr:`dataset_dir`) and
    :meth:`required_paths`; they implement :meth:`read`, returning the graph and a dict of extra
    tensors (splits) that are cached with it.

    The processed cache is written (atomically) only when :attr:`processed_dir` is writable;
    otherwise the data is processed in memory on every construction.
    """

    #: Name of the on-disk cache inside :attr:`processed_dir`.
    cache_file: str = 'graphkit_data.pt'

    def __init__(
        self,
        root: str,
        transform: Optional[Callable] = None,
        pre_transform: Optional[Callable] = None,
        force_reload: bool = False,
    ) -> None:
        self._extra: Dict[str, Any] = {}
        self.cache_used = False
        self._loaded: Any = None
        super().__init__(root, transform, pre_transform, log=True, force_reload=force_reload)
        # InMemoryDataset.__init__ resets _data/slices after Dataset.__init__ ran _process():
        # restore them.
        self._data, self.slices, self._extra = self._loaded
        self._loaded = None

    # -- layout ------------------------------------------------------------------------------------
    @property
    def dataset_dir(self) -> str:
        return self.root

    @property
    def raw_dir(self) -> str:
        return osp.join(self.dataset_dir, 'raw')

    @property
    def processed_dir(self) -> str:
        return osp.join(self.dataset_dir, 'processed')

    @property
    def processed_file_names(self) -> List[str]:
        return [self.cache_file]

    def required_paths(self) -> List[str]:
        """Absolute paths whose presence means "the data is here"."""
        return self.raw_paths

    def expected_tree(self) -> str:
        """The expected directory tree, for error messages."""
        return '\n'.join(osp.relpath(p, self.root) for p in self.required_paths())

    def looked_in(self) -> List[str]:
        return [self.dataset_dir]

    # -- download / process ------------------------------------------------------------------------
    def download(self) -> None:
        r"""Never downloads: raises :class:`FileNotFoundError` listing each missing file."""
        from graphkit.data.io import missing_files_error

        missing = [p for p in self.required_paths() if not osp.exists(p)]
        raise missing_files_error(
            f'{self.__class__.__name__} ({self.name})',
            missing,
            self.looked_in(),
            self.expected_tree(),
        )

    def _download(self) -> None:  # no makedirs in the user's tree, no network
        if any(not osp.exists(p) for p in self.required_paths()):
            self.download()

    def process(self) -> None:
        r"""Read the raw files, apply ``pre_transform``, validate, and cache if the folder is
        writable."""
        data, extra = self.read()
        if self.pre_transform is not None:
            data = self.pre_transform(data)
        validate_data(data, self.name)
        self._data, self.slices, self._extra = data, None, extra
        self._loaded = (data, None, extra)
        if is_writable_dir(self.processed_dir):
            try:
                self.save_cache(self.processed_paths[0])
            except OSError as e:  # pragma: no cover - e.g. disk full; fall back to memory
                print(
                    f'graphkit: could not write cache {self.processed_paths[0]} ({e}); continuing in memory',
                    file=sys.stderr,
                )

    def _process(self) -> None:
        path = self.processed_paths[0]
        if not self.force_reload and osp.isfile(path):
            try:
                self.load(path)
                self.cache_used = True
                return
            except _StaleCache as e:  # a different pre_transform: rebuild (and overwrite) the cache
                print(f'graphkit: {e}; re-processing', file=sys.stderr)
        if self.log and 'PYTEST_CURRENT_TEST' not in os.environ:
            print(f'Processing {self.name}...', file=sys.stderr)
        self.process()

    def read(self) -> Tuple[Union[Data, HeteroData], Dict[str, Any]]:
        raise NotImplementedError

    # -- cache -------------------------------------------------------------------------------------
    def source_files(self) -> List[str]:
        """The files the cache depends on: every file under ``raw/`` and ``split/`` (at any depth) and the
        required paths."""
        files = {p for p in self.required_paths() if osp.isfile(p)}
        for sub in (self.raw_dir, osp.join(self.dataset_dir, 'split')):
            for folder, _, names in os.walk(sub):
                files.update(osp.join(folder, n) for n in names if not n.startswith('.'))
        return sorted(files)

    def source_signature(self) -> List[List[Any]]:
        """:func:`~graphkit.data.io.file_signature` of every source file, and the loader's class and format:
        a cache with another signature is stale and rebuilt."""
        root = self.dataset_dir
        return [[type(self).__name__, CACHE_FORMAT]] + [file_signature(p, root) for p in self.source_files()]

    def save_cache(self, path: str) -> None:
        """Write data and extras as plain containers of tensors, atomically."""
        payload = {
            'format': CACHE_FORMAT,
            'sources': self.source_signature(),
            'data_cls': 'HeteroData' if isinstance(self._data, HeteroData) else 'Data',
            'data': self._data.to_dict(),
            'extra': self._extra,
            'pre_transform': repr(self.pre_transform),
        }
        atomic_torch_save(payload, path)

    @classmethod
    def save(cls, data_list: Any, path: str) -> None:
        """PyG's ``save`` in graphkit's cache format (tensors and plain containers only)."""
        data, _ = cls.collate(list(data_list))
        atomic_torch_save(
            {
                'format': CACHE_FORMAT,
                'data_cls': type(data).__name__,
                'data': data.to_dict(),
                'extra': {},
                'pre_transform': 'None',
                'sources': None,
            },
            path,
        )

    def load(self, path: str, data_cls: Any = None) -> None:
        r"""Load a cache written by :meth:`save_cache` with ``weights_only=True`` only."""
        hint = (
            ' Delete it (graphkit datasets --clear-cache, or graphkit train --force-reload) to rebuild it from the '
            'raw files.'
        )
        out = safe_torch_load(path, hint=hint)
        if isinstance(out, dict) and str(out.get('format', '')).startswith('graphkit-dataset-cache-v1'):
            raise _StaleCache(f"'{path}' is a cache of an older graphkit version")
        if not isinstance(out, dict) or out.get('format') != CACHE_FORMAT:
            raise ValueError(f"'{path}' is not a graphkit cache (format {CACHE_FORMAT!r}).{hint}")
        sources = out.get('sources')
        if sources is not None:
            now = self.source_signature()
            if sources != now:
                changed = {f[0] for f in now[1:] if f not in sources} | {f[0] for f in sources[1:] if f not in now}
                shown = ', '.join(sorted(changed)[:5]) or 'the loader'
                raise _StaleCache(f"the source files of '{path}' changed since it was written ({shown})")
        if out.get('pre_transform') != repr(self.pre_transform):
            raise _StaleCache(
                f"'{path}' was processed with pre_transform={out.get('pre_transform')}, not {self.pre_transform!r}"
            )
        cls = HeteroData if out['data_cls'] == 'HeteroData' else Data
        self._data = cls.from_dict(out['data'])
        self.slices = None
        self._extra = out['extra']
        self._loaded = (self._data, None, self._extra)

    def __repr__(self) -> str:
        return f'{self.name}()'
