r"""A folder cache of pre-computed tensors (RpHGNN's groups), shared by several ``graphkit train`` calls.

An entry is a folder ``<cache_dir>/<key>/`` holding ``manifest.json`` and one ``.npy`` file per tensor. The key
is a hash of the graph (node types, features, edge types and edges) and of the pre-computation's settings,
including the seed of its random projections; anything that changes the output changes the key.

* **Writing** streams: :meth:`PrecomputeCache.store` opens every tensor as a memory-mapped ``.npy`` file and
  hands them to the computation, which fills them one slice at a time; nothing but the working state of the
  computation lives in memory. The entry is written to a temporary folder and renamed into place once complete
  (with the manifest last), so an interrupted write never leaves an entry that looks valid.
* **Reading** maps the files copy-on-write (``mmap_mode='c'``): a batch reads only its rows. An entry that is
  incomplete, truncated or does not match its manifest is reported (the reason names the file) and recomputed.

Nothing here unpickles: the manifest is JSON and ``.npy`` files are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

__all__ = ['PrecomputeCache', 'hash_graph']

FORMAT = 'graphkit-precompute-cache-v1'
MANIFEST = 'manifest.json'

# torch storage dtype -> (numpy dtype on disk, name in the manifest); bfloat16 is stored as its raw 16 bits
_DTYPES: Dict[torch.dtype, Tuple[Any, str]] = {
    torch.float16: (np.float16, 'float16'),
    torch.bfloat16: (np.uint16, 'bfloat16'),
    torch.float32: (np.float32, 'float32'),
}
_BY_NAME = {name: (np_dtype, dtype) for dtype, (np_dtype, name) in _DTYPES.items()}

Layout = Sequence[Tuple[Tuple[int, ...], torch.dtype]]


def _update(h: Any, tensor: Tensor) -> None:
    arr = np.ascontiguousarray(tensor.detach().cpu().contiguous().view(torch.uint8).numpy())
    h.update(f'{tuple(tensor.shape)}|{tensor.dtype}|'.encode())
    h.update(arr)


def hash_graph(data: Any) -> str:
    r"""A hex digest of a :class:`~torch_geometric.data.HeteroData` graph: node types with their numbers of
    nodes and features ``x``, edge types with their ``edge_index``, in metadata order."""
    h = hashlib.blake2b(digest_size=16)
    node_types, edge_types = data.metadata()
    for t in node_types:
        h.update(f'node:{t}:{data[t].num_nodes}|'.encode())
        x = data[t].get('x')
        if x is not None:
            _update(h, x)
    for e in edge_types:
        h.update(f'edge:{"__".join(e)}|'.encode())
        _update(h, data[e].edge_index)
    return h.hexdigest()


class PrecomputeCache:
    r"""Pre-computed tensors on disk, keyed by graph and settings (see the module docstring).

    Args:
        folder (str): The cache folder (created on the first write).
        log (Callable[[str], None], optional): Where to report a damaged entry. (default: :obj:`print`)
    """

    def __init__(self, folder: str, log: Optional[Callable[[str], None]] = None) -> None:
        self.folder = os.fspath(folder)
        self._log = log or print

    @staticmethod
    def key(graph: str, settings: Dict[str, Any]) -> str:
        """The entry name of a graph (its :func:`hash_graph`) pre-computed with :obj:`settings` (plain JSON
        values, including the seed of the random draws)."""
        h = hashlib.blake2b(digest_size=16)
        h.update(FORMAT.encode())
        h.update(graph.encode())
        h.update(json.dumps(settings, sort_keys=True, default=str).encode())
        return h.hexdigest()

    def path(self, key: str) -> str:
        return osp.join(self.folder, key)

    # Reading -------------------------------------------------------------------------------------------------
    def load(self, key: str, layout: Layout) -> Optional[List[Tensor]]:
        r"""The tensors of entry :obj:`key` (memory-mapped, copy-on-write), or :obj:`None` if there is none or
        it is damaged (reported through ``log``; the entry is then replaced by the next :meth:`store`)."""
        entry = self.path(key)
        if not osp.isdir(entry):
            return None
        try:
            return self._read(entry, key, layout)
        except (OSError, ValueError, KeyError, TypeError) as e:
            self._log(f'Pre-compute cache entry {entry} is damaged ({e}); recomputing it')
            return None

    @staticmethod
    def _read(entry: str, key: str, layout: Layout) -> List[Tensor]:
        path = osp.join(entry, MANIFEST)
        try:
            with open(path) as f:
                manifest = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{path}: not valid JSON (line {e.lineno})') from None
        if not isinstance(manifest, dict) or manifest.get('format') != FORMAT or manifest.get('key') != key:
            raise ValueError(f'{path}: not a {FORMAT} manifest for key {key}')
        files = manifest['tensors']
        if not isinstance(files, list) or len(files) != len(layout):
            raise ValueError(
                f'{path}: lists {len(files) if isinstance(files, list) else "no"} tensors, expected {len(layout)}'
            )
        out = []
        for i, (item, (shape, dtype)) in enumerate(zip(files, layout)):
            np_dtype, torch_dtype = _BY_NAME[item['dtype']]
            if torch_dtype != dtype or tuple(item['shape']) != tuple(shape):
                raise ValueError(f'{path}: tensor {i} is {item["dtype"]} {item["shape"]}, expected {dtype} {shape}')
            file = osp.join(entry, f'{i}.npy')
            try:
                arr = np.load(file, mmap_mode='c', allow_pickle=False)
            except (OSError, ValueError) as e:  # missing, truncated, not a .npy file
                raise ValueError(f'{file}: {e}') from None
            if arr.dtype != np.dtype(np_dtype) or arr.shape != tuple(shape):
                raise ValueError(f'{file}: holds {arr.dtype} {arr.shape}, the manifest says {item["dtype"]} {shape}')
            t = torch.from_numpy(arr)
            out.append(t.view(torch.bfloat16) if torch_dtype == torch.bfloat16 else t)
        return out

    # Writing -------------------------------------------------------------------------------------------------
    def store(self, key: str, layout: Layout, compute: Callable[[List[Tensor]], None]) -> List[Tensor]:
        r"""Creates entry :obj:`key`: :obj:`compute` fills the memory-mapped tensors of :obj:`layout` it is given;
        the complete entry is renamed into place and returned (re-opened as by :meth:`load`)."""
        for _, dtype in layout:
            if dtype not in _DTYPES:
                raise ValueError(f'PrecomputeCache stores {[str(d) for d in _DTYPES]} tensors (got {dtype})')
        os.makedirs(self.folder, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f'.{key}.', dir=self.folder)
        try:
            maps, tensors = [], []
            for i, (shape, dtype) in enumerate(layout):
                np_dtype = _DTYPES[dtype][0]
                mm = np.lib.format.open_memmap(osp.join(tmp, f'{i}.npy'), mode='w+', dtype=np_dtype, shape=shape)
                t = torch.from_numpy(mm)
                maps.append(mm)
                tensors.append(t.view(torch.bfloat16) if dtype == torch.bfloat16 else t)
            compute(tensors)
            for mm in maps:
                mm.flush()
            del maps, tensors
            manifest = {
                'format': FORMAT,
                'key': key,
                'tensors': [{'shape': list(shape), 'dtype': _DTYPES[dtype][1]} for shape, dtype in layout],
            }
            with open(osp.join(tmp, MANIFEST), 'w') as f:
                json.dump(manifest, f)
            entry = self.path(key)
            if osp.isdir(entry):  # a damaged entry (or one another process just finished): replace it
                shutil.rmtree(entry, ignore_errors=True)
            try:
                os.replace(tmp, entry)
            except OSError:
                if not osp.isdir(entry):
                    raise
                shutil.rmtree(tmp, ignore_errors=True)  # another process won the race with the same key
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return self._read(entry, key, layout)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}('{self.folder}')"
