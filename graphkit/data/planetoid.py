r"""Planetoid citation graphs (Cora, CiteSeer, PubMed) read from the original ``ind.<name>.*``
files."""

from __future__ import annotations

import os
import os.path as osp
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch_geometric.data import Data

from graphkit.data.base import LocalDataset
from graphkit.data.io import read_planetoid_pickle

__all__ = ['PlanetoidRaw', 'PLANETOID_NAMES', 'planetoid_files', 'planetoid_candidates']

PLANETOID_NAMES = ('cora', 'citeseer', 'pubmed')
_KEYS = ('x', 'tx', 'allx', 'y', 'ty', 'ally', 'graph', 'test.index')
_CAPITALISED = {
    'cora': ('Cora',),
    'citeseer': ('CiteSeer', 'Citeseer'),
    'pubmed': ('PubMed', 'Pubmed'),
}


def planetoid_files(name: str) -> List[str]:
    r"""The eight raw file names of :obj:`name`: ``ind.<name>.{x,tx,allx,y,ty,ally,graph,test.index}``."""
    return [f'ind.{name.lower()}.{k}' for k in _KEYS]


def planetoid_candidates(root: str, name: str) -> List[str]:
    r"""The folders searched for ``ind.<name>.*``, in order."""
    name = name.lower()
    dirs = [osp.join(root, name, 'raw')]
    dirs += [osp.join(root, n, 'raw') for n in _CAPITALISED.get(name, (name.capitalize(),))]
    dirs += [osp.join(root, 'planetoid', 'raw'), osp.join(root, 'raw'), root]
    return dirs


def _dense(m: Any) -> np.ndarray:
    return np.asarray(m.toarray() if hasattr(m, 'toarray') else m, dtype=np.float32)


def _read_test_index(path: str) -> Tuple[np.ndarray, np.ndarray]:
    # One integer per line (blank lines skipped); returns the ids and their 1-based line numbers.
    try:
        with open(path, 'rb') as f:
            raw = f.read()
        text = raw.decode('ascii')
    except UnicodeDecodeError as e:
        line = raw.count(b'\n', 0, e.start) + 1
        raise ValueError(f"'{path}' line {line}: not an integer (byte {raw[e.start]:#04x})") from None
    ids, lines = [], []
    for lineno, line in enumerate(text.split('\n'), start=1):
        if line.strip():
            try:
                ids.append(int(line))
            except ValueError:
                raise ValueError(f"'{path}' line {lineno}: expected one integer per line (got {line[:40]!r})") from None
            lines.append(lineno)
    if not ids:
        raise ValueError(f"'{path}' lists no test node")
    return np.array(ids, dtype=np.int64), np.array(lines, dtype=np.int64)


class PlanetoidRaw(LocalDataset):
    r"""The citation networks "Cora", "CiteSeer" and "PubMed" from the `"Revisiting Semi-Supervised
    Learning with Graph Embeddings" <https://arxiv.org/abs/1603.08861>`_ paper, read from the
    original files of `kimiyoung/planetoid <https://github.com/kimiyoung/planetoid>`_ (MIT; the
    underlying data are the public LINQS citation datasets). Nodes are documents, edges citation
    links (made undirected, de-duplicated, self-loops removed); the standard public split is kept in
    ``train_mask`` / ``val_mask`` / ``test_mask``.

    Nothing is downloaded. The eight files ``ind.<name>.{x,tx,allx,y,ty,ally,graph,test.index}`` are
    looked up in ``root/<name>/raw``, ``root/<Name>/raw`` (*e.g.* ``CiteSeer``),
    ``root/planetoid/raw``, ``root/raw`` and ``root`` itself, in that order. The Python-2 pickles
    are read with a restricted unpickler (numpy arrays, scipy CSR/CSC matrices and ``defaultdict``
    only). The processed graph is cached in ``processed/`` next to ``raw/`` when that folder is
    writable.

    Args:
        root (str): Root directory (see above).
        name (str): :obj:`"cora"`, :obj:`"citeseer"` or :obj:`"pubmed"` (case-insensitive).
        transform (callable, optional): Applied to the data object on every access. (default:
            :obj:`None`)
        pre_transform (callable, optional): Applied once before caching. (default: :obj:`None`)
        force_reload (bool, optional): Re-process the raw files. (default: :obj:`False`)

    **STATS:**

    .. list-table::
        :widths: 10 10 10 10 10
        :header-rows: 1

        * - Name
          - #nodes
          - #edges (directed, both ways)
          - #features
          - #classes
        * - Cora
          - 2,708
          - 10,556
          - 1,433
          - 7
        * - CiteSeer
          - 3,327
          - 9,104
          - 3,703
          - 6
        * - PubMed
          - 19,717
          - 88,648
          - 500
          - 3
    """

    def __init__(
        self,
        root: str,
        name: str,
        transform: Optional[Callable] = None,
        pre_transform: Optional[Callable] = None,
        force_reload: bool = False,
    ) -> None:
        self.name = name.lower()
        if self.name not in PLANETOID_NAMES:
            raise ValueError(f"'{self.__class__.__name__}' expects 'name' in {list(PLANETOID_NAMES)} (got '{name}')")
        root = os.fspath(root)
        self._candidates = planetoid_candidates(root, self.name)
        self._raw_dir = self._locate()
        super().__init__(root, transform, pre_transform, force_reload)

    def _locate(self) -> str:
        files = self.raw_file_names
        for d in self._candidates:  # first folder with every file
            if all(osp.isfile(osp.join(d, f)) for f in files):
                return d
        for d in self._candidates:  # else the first with some of them (names what is missing there)
            if any(osp.isfile(osp.join(d, f)) for f in files):
                return d
        return self._candidates[0]

    @property
    def raw_dir(self) -> str:
        return self._raw_dir

    @property
    def dataset_dir(self) -> str:
        d = self._raw_dir
        return osp.dirname(d) if osp.basename(d) == 'raw' else d

    @property
    def raw_file_names(self) -> List[str]:
        return planetoid_files(self.name)

    @property
    def processed_file_names(self) -> List[str]:
        return [f'planetoid_{self.name}.pt']

    def looked_in(self) -> List[str]:
        return self._candidates

    def expected_tree(self) -> str:
        return f'<root>/{self.name}/raw/\n' + '\n'.join(f'    {f}' for f in self.raw_file_names)

    def read(self) -> Tuple[Data, Dict[str, Any]]:
        raw = {
            k: read_planetoid_pickle(osp.join(self.raw_dir, f'ind.{self.name}.{k}')) for k in _KEYS if k != 'test.index'
        }
        test_path = osp.join(self.raw_dir, f'ind.{self.name}.test.index')
        test_index, test_lines = _read_test_index(test_path)

        allx, tx = _dense(raw['allx']), _dense(raw['tx'])
        ally, ty = np.asarray(raw['ally']), np.asarray(raw['ty'])
        if tx.shape[0] != test_index.shape[0] or ty.shape[0] != test_index.shape[0]:
            raise ValueError(
                f"'{test_path}' lists {test_index.shape[0]} nodes but tx/ty have {tx.shape[0]}/{ty.shape[0]} rows"
            )
        num_train = np.asarray(raw['y']).shape[0]
        graph = raw['graph']
        # the node count the files imply: the adjacency dict (a key per node in the Planetoid releases) and the
        # allx + tx rows (CiteSeer lists a few isolated nodes in neither); ids in the graph may reach beyond
        # both by a small gap. A test id beyond all of that is an error, not a reason to allocate.
        graph_path = osp.join(self.raw_dir, f'ind.{self.name}.graph')
        if not isinstance(graph, dict):
            raise ValueError(f"'{graph_path}' should hold a dict")
        listed = max(len(graph), allx.shape[0] + tx.shape[0])
        top = -1
        try:
            for key, nbrs in graph.items():
                top = max(top, int(key), *(int(v) for v in nbrs))
        except (TypeError, ValueError):
            raise ValueError(f"'{graph_path}' should map node ids to lists of node ids") from None
        if top >= 2 * listed + 1000:
            raise ValueError(
                f"'{graph_path}': node id {top} is far beyond the {listed} nodes the graph and feature files list"
            )
        implied = max(listed, top + 1)
        bad = (test_index < 0) | (test_index >= implied)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"'{test_path}' line {int(test_lines[i])}: node id {int(test_index[i])} outside [0, {implied}), the "
                f'{implied} nodes the graph and feature files describe'
            )
        num_nodes = max(allx.shape[0], int(test_index.max()) + 1)
        # Node test_index[i] owns row i of tx/ty; test ids not listed (CiteSeer's isolated nodes)
        # stay zero.
        x = np.zeros((num_nodes, allx.shape[1]), dtype=np.float32)
        x[: allx.shape[0]] = allx
        x[test_index] = tx
        labels = np.zeros((num_nodes, ally.shape[1]), dtype=np.float32)
        labels[: ally.shape[0]] = ally
        labels[test_index] = ty
        y = torch.from_numpy(labels.argmax(1)).long()

        rows, cols = [], []
        for key, nbrs in graph.items():
            rows.extend([int(key)] * len(nbrs))
            cols.extend(int(v) for v in nbrs)
        ei = torch.tensor([rows, cols], dtype=torch.long).reshape(2, -1)
        if ei.numel() and (int(ei.min()) < 0 or int(ei.max()) >= num_nodes):
            raise ValueError(
                f"'{osp.join(self.raw_dir, f'ind.{self.name}.graph')}' references node ids outside [0, {num_nodes})"
            )
        ei = ei[:, ei[0] != ei[1]]
        ei = torch.cat([ei, ei.flip(0)], dim=1)
        code = torch.unique(ei[0] * num_nodes + ei[1])  # sorted, de-duplicated
        edge_index = torch.stack([code // num_nodes, code % num_nodes])

        def mask(idx: np.ndarray) -> torch.Tensor:
            m = torch.zeros(num_nodes, dtype=torch.bool)
            m[torch.from_numpy(np.asarray(idx, dtype=np.int64))] = True
            return m

        data = Data(
            x=torch.from_numpy(x),
            edge_index=edge_index,
            y=y,
            num_nodes=num_nodes,
            train_mask=mask(np.arange(num_train)),
            val_mask=mask(np.arange(num_train, min(num_train + 500, num_nodes))),
            test_mask=mask(test_index),
        )
        return data, {}

    def __repr__(self) -> str:
        return f'{_CAPITALISED[self.name][0]}()'
