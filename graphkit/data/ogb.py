r"""Open Graph Benchmark datasets read from the official on-disk layout (no ``ogb`` import, no
download)."""

from __future__ import annotations

import os
import os.path as osp
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData

from graphkit.data.base import LocalDataset, check_index
from graphkit.data.io import load_legacy_split, read_csv, read_header

__all__ = ['OGBLinkDataset', 'OGBNodeDataset', 'OGB_LINK_INFO', 'OGB_NODE_INFO', 'ogb_candidates']

#: name -> (evaluation metric, edges stored once and made undirected by adding inverses, split type)
OGB_LINK_INFO: Dict[str, Tuple[str, bool, str]] = {
    'ogbl-ddi': ('hits@20', True, 'target'),
    'ogbl-collab': ('hits@50', True, 'time'),
    'ogbl-ppa': ('hits@100', True, 'throughput'),
    'ogbl-citation2': ('mrr', False, 'time'),
    'ogbl-vessel': ('rocauc', False, 'spatial'),
}
#: name -> (add inverse edges, split type)
OGB_NODE_INFO: Dict[str, Tuple[bool, str]] = {
    'ogbn-arxiv': (False, 'time'),
    'ogbn-mag': (False, 'time'),
    'ogbn-products': (True, 'sales_ranking'),
    'ogbn-proteins': (True, 'species'),
}
#: split-file keys that hold node ids (checked against the number of nodes)
_INDEX_KEYS = ('edge', 'edge_neg', 'source_node', 'target_node', 'target_node_neg')


def ogb_candidates(root: str, name: str) -> List[str]:
    r"""Folders searched for an OGB dataset: ``root/<name with - as _>``, ``root/<name>``,
    ``root``."""
    return [osp.join(root, name.replace('-', '_')), osp.join(root, name), root]


def _locate(root: str, name: str) -> str:
    cands = ogb_candidates(root, name)
    for d in cands:
        if osp.isdir(osp.join(d, 'raw')) and (d != root or osp.isdir(osp.join(d, 'split'))):
            return d
    return cands[0]


def _split_type(dataset_dir: str, preferred: Optional[str]) -> Optional[str]:
    split = osp.join(dataset_dir, 'split')
    if not osp.isdir(split):
        return preferred
    types = sorted(d for d in os.listdir(split) if osp.isdir(osp.join(split, d)))
    if not types or preferred in types:
        return preferred
    if len(types) == 1:
        return types[0]
    raise ValueError(f"'{split}' holds several split types {types}; expected one (or '{preferred}')")


def _read_optional(path: str, rows: int, dtype: str, field: str) -> Optional[Tensor]:
    if not osp.isfile(path):
        return None
    arr = read_csv(path, dtype=dtype)
    if arr.shape[0] != rows:
        raise ValueError(f"'{path}' has {arr.shape[0]} rows for '{field}'; expected {rows}")
    t = torch.from_numpy(arr)
    if arr.shape[1] == 1 and field not in ('x', 'edge_attr'):
        t = t.view(-1)
    return t


def _read_count(path: str) -> int:
    arr = read_csv(path, ncols=1)
    if arr.shape[0] < 1:
        raise ValueError(f"'{path}' is empty; expected one count per line")
    return int(arr[0, 0])


def _read_edges(path: str, num_src: int, num_dst: Optional[int] = None) -> np.ndarray:
    edges = read_csv(path, ncols=2)
    num_dst = num_src if num_dst is None else num_dst
    if edges.size and (edges.min() < 0 or edges[:, 0].max() >= num_src or edges[:, 1].max() >= num_dst):
        raise ValueError(f"'{path}' holds node ids outside [0, {num_src}) x [0, {num_dst}) given by the node counts")
    return edges


class _OGBBase(LocalDataset):
    _info_split: Optional[str] = None

    def __init__(
        self,
        root: str,
        name: str,
        transform: Optional[Callable] = None,
        pre_transform: Optional[Callable] = None,
        force_reload: bool = False,
        add_inverse_edge: Optional[bool] = None,
    ) -> None:
        self.name = name.lower()
        self._root_arg = os.fspath(root)
        self._dir = _locate(self._root_arg, self.name)
        self.add_inverse_edge = self._default_inverse() if add_inverse_edge is None else add_inverse_edge
        self.split_type = _split_type(self._dir, self._info_split)
        super().__init__(self._root_arg, transform, pre_transform, force_reload)

    def _default_inverse(self) -> bool:
        raise NotImplementedError

    @property
    def dataset_dir(self) -> str:
        return self._dir

    @property
    def processed_file_names(self) -> List[str]:
        return [f'graphkit_{"undirected" if self.add_inverse_edge else "directed"}.pt']

    def looked_in(self) -> List[str]:
        return ogb_candidates(self._root_arg, self.name)

    def split_path(self, *parts: str) -> str:
        return osp.join(self._dir, 'split', self.split_type or '<type>', *parts)

    def expected_tree(self) -> str:
        base = f'<root>/{self.name.replace("-", "_")}/'
        return base + '\n' + '\n'.join('    ' + osp.relpath(p, self._dir) for p in self.required_paths())


class OGBLinkDataset(_OGBBase):
    r"""A link-property-prediction dataset of the `Open Graph Benchmark <https://ogb.stanford.edu>`_
    (`"Open Graph Benchmark: Datasets for Machine Learning on Graphs"
    <https://arxiv.org/abs/2005.00687>`_), read from its official on-disk layout without importing
    or downloading anything:

    .. code-block:: none

        <root>/<name with - as _>/   (or <root>/<name>/, or <root> if it holds raw/ and split/)
            raw/edge.csv.gz                 src,dst per line (training graph)
            raw/num-node-list.csv.gz        one line: #nodes
            raw/num-edge-list.csv.gz        one line: #edges
            raw/node-feat.csv.gz            optional, -> data.x
            raw/node_year.csv.gz            optional, -> data.node_year
            raw/edge_weight.csv.gz          optional (collab), -> data.edge_weight
            raw/edge_year.csv.gz            optional (collab), -> data.edge_year
            split/<type>/{train,valid,test}.pt   legacy torch.save dicts of numpy arrays

    ``<type>`` is whichever folder exists (``target`` for ddi, ``time`` for collab and citation2,
    ``throughput`` for ppa). Split files are read with ``weights_only=True`` and an explicit list of
    numpy globals (:func:`graphkit.data.io.load_legacy_split`); anything else is refused,
    unexecuted.

    .. note::
        A missing ``split/<type>/train.pt`` is rebuilt from ``raw/edge.csv.gz`` (in OGB the training
        split holds exactly those edges, with ``weight`` / ``year`` from the raw edge files when
        present, or ``source_node`` / ``target_node`` for citation2-style splits). ``valid.pt`` and
        ``test.pt`` are required.

    For ddi, collab and ppa the raw edges are stored once and ``data.edge_index`` holds both
    directions (OGB's ``add_inverse_edge``); citation2 stays directed. Processed tensors are cached
    (atomically) in ``processed/`` when writable, and loaded with ``weights_only=True``.

    Args:
        root (str): Root directory (see above).
        name (str): Dataset name, *e.g.* :obj:`"ogbl-ddi"`; any ``ogbl-*`` in this layout works.
        transform (callable, optional): Applied to the data object on every access. (default:
            :obj:`None`)
        pre_transform (callable, optional): Applied once before caching. (default: :obj:`None`)
        force_reload (bool, optional): Re-process the raw files. (default: :obj:`False`)
        add_inverse_edge (bool, optional): Add reversed edges to ``data.edge_index``. (default: the
            dataset's OGB setting; :obj:`True` for unknown names)

    **STATS:**

    .. list-table::
        :widths: 14 10 12 8 22 22 22
        :header-rows: 1

        * - Name
          - #nodes
          - #edges (raw)
          - #features
          - train
          - valid (pos / neg)
          - test (pos / neg)
        * - ogbl-ddi
          - 4,267
          - 1,067,911
          - 0
          - 1,067,911
          - 133,489 / 101,882
          - 133,489 / 95,599
        * - ogbl-collab
          - 235,868
          - 1,285,465
          - 128
          - 1,179,052
          - 60,084 / 100,000
          - 46,329 / 100,000
        * - ogbl-ppa
          - 576,289
          - 30,326,273
          - 58
          - 21,231,931
          - 3,000,000 / 3,000,000
          - 3,000,000 / 3,000,000
        * - ogbl-citation2
          - 2,927,963
          - 30,561,187
          - 128
          - 30,387,995
          - 86,596 / 86,596 x 1,000
          - 86,596 / 86,596 x 1,000
    """

    def __init__(
        self,
        root: str,
        name: str,
        transform: Optional[Callable] = None,
        pre_transform: Optional[Callable] = None,
        force_reload: bool = False,
        add_inverse_edge: Optional[bool] = None,
    ) -> None:
        if not name.lower().startswith('ogbl-'):
            raise ValueError(f"'{self.__class__.__name__}' expects an 'ogbl-*' name (got '{name}')")
        self._info_split = OGB_LINK_INFO.get(name.lower(), (None, None, None))[2]
        super().__init__(root, name, transform, pre_transform, force_reload, add_inverse_edge)

    def _default_inverse(self) -> bool:
        return OGB_LINK_INFO.get(self.name, ('', True, ''))[1]

    @property
    def raw_file_names(self) -> List[str]:
        return ['edge.csv.gz', 'num-node-list.csv.gz', 'num-edge-list.csv.gz']

    def required_paths(self) -> List[str]:
        return self.raw_paths + [self.split_path(f'{s}.pt') for s in ('valid', 'test')]

    def read(self) -> Tuple[Data, Dict[str, Any]]:
        raw = self.raw_dir
        num_nodes = _read_count(osp.join(raw, 'num-node-list.csv.gz'))
        num_edges = _read_count(osp.join(raw, 'num-edge-list.csv.gz'))
        edge_path = osp.join(raw, 'edge.csv.gz')
        edges = _read_edges(edge_path, num_nodes)
        if edges.shape[0] != num_edges:
            raise ValueError(f"'{edge_path}' has {edges.shape[0]} edges but num-edge-list.csv.gz says {num_edges}")
        E = edges.shape[0]
        x = _read_optional(osp.join(raw, 'node-feat.csv.gz'), num_nodes, 'float', 'x')
        node_year = _read_optional(osp.join(raw, 'node_year.csv.gz'), num_nodes, 'int', 'node_year')
        weight = _read_optional(osp.join(raw, 'edge_weight.csv.gz'), E, 'float', 'edge_weight')
        year = _read_optional(osp.join(raw, 'edge_year.csv.gz'), E, 'int', 'edge_year')
        edge_attr = _read_optional(osp.join(raw, 'edge-feat.csv.gz'), E, 'float', 'edge_attr')

        edge_index = torch.from_numpy(edges).t().contiguous()
        data = Data(x=x, num_nodes=num_nodes)
        attrs = {'edge_weight': weight, 'edge_year': year, 'edge_attr': edge_attr}
        if self.add_inverse_edge:
            edge_index = torch.cat([edge_index, edge_index.flip(0)], dim=1)
            attrs = {k: None if v is None else torch.cat([v, v], dim=0) for k, v in attrs.items()}
        data.edge_index = edge_index
        for k, v in attrs.items():
            if v is not None:
                data[k] = v
        if node_year is not None:
            data.node_year = node_year

        split: Dict[str, Dict[str, Tensor]] = {}
        for s in ('valid', 'test'):
            split[s] = self._read_split(self.split_path(f'{s}.pt'), num_nodes)
        train_path = self.split_path('train.pt')
        if osp.isfile(train_path):
            split['train'] = self._read_split(train_path, num_nodes)
        else:
            e = torch.from_numpy(edges)
            if 'source_node' in split['valid']:
                split['train'] = {
                    'source_node': e[:, 0].contiguous(),
                    'target_node': e[:, 1].contiguous(),
                }
            else:
                split['train'] = {'edge': e}
                if weight is not None:
                    split['train']['weight'] = weight[:E]
                if year is not None:
                    split['train']['year'] = year[:E]
        return data, {'split_edge': {k: split[k] for k in ('train', 'valid', 'test')}}

    @staticmethod
    def _read_split(path: str, num_nodes: int) -> Dict[str, Tensor]:
        out = load_legacy_split(path)
        for key in _INDEX_KEYS:
            if key in out:
                check_index(out[key], num_nodes, key, f"split file '{path}'")
        return out

    def get_edge_split(self) -> Dict[str, Dict[str, Tensor]]:
        r"""The OGB split dict: ``{'train': {'edge': (E, 2)}, 'valid': {'edge', 'edge_neg'}, 'test':
        ...}`` (citation2: ``source_node``, ``target_node``, ``target_node_neg``). Returns a fresh
        dict."""
        return {s: dict(v) for s, v in self._extra['split_edge'].items()}


class OGBNodeDataset(_OGBBase):
    r"""A node-property-prediction dataset of the `Open Graph Benchmark <https://ogb.stanford.edu>`_
    (`"Open Graph Benchmark: Datasets for Machine Learning on Graphs"
    <https://arxiv.org/abs/2005.00687>`_), read from its official on-disk layout. Homogeneous
    datasets (``ogbn-arxiv``) give a :class:`~torch_geometric.data.Data`; heterogeneous ones
    (``ogbn-mag``, recognised by ``raw/num-node-dict.csv.gz``) give a
    :class:`~torch_geometric.data.HeteroData`.

    .. code-block:: none

        homogeneous                            heterogeneous
        raw/edge.csv.gz                        raw/num-node-dict.csv.gz  (node types, then counts)
        raw/num-node-list.csv.gz               raw/relations/<src>___<rel>___<dst>/edge.csv.gz
        raw/num-edge-list.csv.gz               raw/node-feat/<type>/node-feat.csv.gz    (optional)
        raw/node-feat.csv.gz    (optional)     raw/node-label/<type>/node-label.csv.gz  (optional)
        raw/node-label.csv.gz   (optional)     raw/node_year/<type>/node_year.csv.gz    (optional)
        raw/node_year.csv.gz    (optional)     split/<type>/<node type>/{train,valid,test}.csv.gz
        split/<type>/{train,valid,test}.csv.gz

    Args:
        root (str): Root directory; the dataset lives in ``root/<name with - as _>`` (or
            ``root/<name>``, or ``root`` itself).
        name (str): Dataset name, *e.g.* :obj:`"ogbn-arxiv"` or :obj:`"ogbn-mag"`.
        transform (callable, optional): Applied to the data object on every access. (default:
            :obj:`None`)
        pre_transform (callable, optional): Applied once before caching. (default: :obj:`None`)
        force_reload (bool, optional): Re-process the raw files. (default: :obj:`False`)
        add_inverse_edge (bool, optional): Add reversed edges (homogeneous only). (default: OGB's
            setting)

    **STATS:**

    .. list-table::
        :widths: 14 22 22 10 10 26
        :header-rows: 1

        * - Name
          - #nodes
          - #edges
          - #features
          - #classes
          - train / valid / test
        * - ogbn-arxiv
          - 169,343
          - 1,166,243
          - 128
          - 40
          - 90,941 / 29,799 / 48,603
        * - ogbn-mag
          - 1,939,743 (736,389 papers)
          - 21,111,007 (4 relations)
          - 128 (papers)
          - 349
          - 629,571 / 64,879 / 41,939
    """

    def __init__(
        self,
        root: str,
        name: str,
        transform: Optional[Callable] = None,
        pre_transform: Optional[Callable] = None,
        force_reload: bool = False,
        add_inverse_edge: Optional[bool] = None,
    ) -> None:
        if not name.lower().startswith('ogbn-'):
            raise ValueError(f"'{self.__class__.__name__}' expects an 'ogbn-*' name (got '{name}')")
        self._info_split = OGB_NODE_INFO.get(name.lower(), (False, None))[1]
        super().__init__(root, name, transform, pre_transform, force_reload, add_inverse_edge)

    def _default_inverse(self) -> bool:
        return OGB_NODE_INFO.get(self.name, (False, ''))[0]

    @property
    def is_hetero(self) -> bool:
        return osp.isfile(osp.join(self.raw_dir, 'num-node-dict.csv.gz'))

    @property
    def raw_file_names(self) -> List[str]:
        if self.is_hetero:
            return ['num-node-dict.csv.gz', 'relations']
        return ['edge.csv.gz', 'num-node-list.csv.gz']

    def _split_node_types(self) -> List[str]:
        base = self.split_path()
        if not osp.isdir(base):
            return ['<node type>']
        return sorted(d for d in os.listdir(base) if osp.isdir(osp.join(base, d))) or ['<node type>']

    def required_paths(self) -> List[str]:
        files = ('train.csv.gz', 'valid.csv.gz', 'test.csv.gz')
        if self.is_hetero:
            return self.raw_paths + [self.split_path(t, f) for t in self._split_node_types() for f in files]
        return self.raw_paths + [self.split_path(f) for f in files]

    def read(self) -> Tuple[Any, Dict[str, Any]]:
        return self._read_hetero() if self.is_hetero else self._read_homo()

    def _read_idx(self, path: str, num_nodes: int) -> Tensor:
        idx = torch.from_numpy(read_csv(path, ncols=1)).view(-1)
        check_index(idx, num_nodes, 'index', f"split file '{path}'")
        return idx

    def _read_homo(self) -> Tuple[Data, Dict[str, Any]]:
        raw = self.raw_dir
        num_nodes = _read_count(osp.join(raw, 'num-node-list.csv.gz'))
        edges = _read_edges(osp.join(raw, 'edge.csv.gz'), num_nodes)
        edge_index = torch.from_numpy(edges).t().contiguous()
        if self.add_inverse_edge:
            edge_index = torch.cat([edge_index, edge_index.flip(0)], dim=1)
        data = Data(edge_index=edge_index, num_nodes=num_nodes)
        for field, fname, dtype in (
            ('x', 'node-feat', 'float'),
            ('y', 'node-label', 'int'),
            ('node_year', 'node_year', 'int'),
        ):
            v = _read_optional(osp.join(raw, f'{fname}.csv.gz'), num_nodes, dtype, field)
            if v is not None:
                data[field] = v.view(-1, 1) if field == 'y' else v
        split = {s: self._read_idx(self.split_path(f'{s}.csv.gz'), num_nodes) for s in ('train', 'valid', 'test')}
        return data, {'split_idx': split}

    def _read_hetero(self) -> Tuple[HeteroData, Dict[str, Any]]:
        raw = self.raw_dir
        path = osp.join(raw, 'num-node-dict.csv.gz')
        types = read_header(path)
        counts = read_csv(path, header=True)
        if counts.shape != (1, len(types)):
            raise ValueError(f"'{path}' should hold a header of node types and one row of counts")
        num = {t: int(c) for t, c in zip(types, counts[0])}
        data = HeteroData()
        for t in types:
            data[t].num_nodes = num[t]
        rel_dir = osp.join(raw, 'relations')
        for rel in sorted(os.listdir(rel_dir)):
            parts = rel.split('___')
            if len(parts) != 3 or parts[0] not in num or parts[2] not in num:
                raise ValueError(
                    f"'{osp.join(rel_dir, rel)}': expected a folder named "
                    f'<src>___<relation>___<dst> with node types in {types}'
                )
            src, r, dst = parts
            edges = _read_edges(osp.join(rel_dir, rel, 'edge.csv.gz'), num[src], num[dst])
            data[src, r, dst].edge_index = torch.from_numpy(edges).t().contiguous()
        for field, fname, dtype in (
            ('x', 'node-feat', 'float'),
            ('y', 'node-label', 'int'),
            ('year', 'node_year', 'int'),
        ):
            for t in types:
                v = _read_optional(osp.join(raw, fname, t, f'{fname}.csv.gz'), num[t], dtype, field)
                if v is not None:
                    data[t][field] = v
        split: Dict[str, Dict[str, Tensor]] = {'train': {}, 'valid': {}, 'test': {}}
        for t in self._split_node_types():
            for s in split:
                split[s][t] = self._read_idx(self.split_path(t, f'{s}.csv.gz'), num[t])
        return data, {'split_idx': split}

    def get_idx_split(self) -> Dict[str, Any]:
        r"""``{'train', 'valid', 'test'}`` -> LongTensor of node ids (heterogeneous: a dict per node
        type)."""
        return {s: (dict(v) if isinstance(v, dict) else v) for s, v in self._extra['split_idx'].items()}

    @property
    def num_classes(self) -> int:
        data = self._data
        if isinstance(data, HeteroData):
            ys = [data[t].y for t in data.node_types if 'y' in data[t]]
            return max(int(v.max()) for v in ys) + 1 if ys else 0
        return int(data.y.max()) + 1 if 'y' in data else 0
