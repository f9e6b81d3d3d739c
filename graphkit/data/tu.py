r"""TU graph-classification datasets read from their raw text files, and :class:`GraphDataset`, the many-graph
dataset of the graph task.

The `"TUDataset: A collection of benchmark datasets for learning with graphs" <https://arxiv.org/abs/2007.08663>`_
layout, for any dataset ``NAME`` (the folder and file names matched case-insensitively, so ``proteins`` finds
``PROTEINS/``): ``ROOT/NAME/raw/NAME_*.txt`` (or ``ROOT/NAME/NAME_*.txt``, or ``ROOT/tu/NAME/...``):

=============================  ===================================================================  =========
file                           one line per                                                         required
=============================  ===================================================================  =========
``NAME_A.txt``                 edge: ``i, j`` (1-based node ids, every undirected edge both ways)    yes
``NAME_graph_indicator.txt``   node: its graph id, ``1..G``, non-decreasing and without gaps         yes
``NAME_graph_labels.txt``      graph: its class label (any integer coding)                          yes
``NAME_node_labels.txt``       node: an integer label                                               no
``NAME_node_attributes.txt``   node: comma-separated floats                                         no
=============================  ===================================================================  =========

Node inputs ``x`` are the one-hot node labels concatenated with the node attributes, where present; a dataset with
neither gets a one-hot of the degree capped at ``degree_cap`` (its last column is "``degree_cap`` or more").
Graph labels of any coding (``{-1, 1}``, ``{1, 2}``, ...) are mapped to ``0..C-1`` in sorted order. Edge labels
and attributes are not read. Raw files are parsed on every load (MUTAG: milliseconds); nothing is written.

**STATS** (``../shared/data/tu``):

.. list-table::
    :header-rows: 1

    * - Name
      - #graphs
      - #nodes
      - #edges (both directions)
      - #features
      - #classes
    * - MUTAG
      - 188
      - 3,371
      - 7,442
      - 7 (node labels)
      - 2

Every malformed input is a :class:`ValueError` (a missing file a :class:`FileNotFoundError`) naming the file and
the line.
"""

from __future__ import annotations

import io
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from graphkit.data.io import missing_files_error

__all__ = ['GraphDataset', 'TU_NAMES', 'tu_candidates', 'locate_tu', 'read_tu', 'load_tu_dataset']

#: TU datasets registered by name (any other TU folder loads as ``tu-<name>``).
TU_NAMES = (
    'mutag',
    'proteins',
    'enzymes',
    'nci1',
    'nci109',
    'dd',
    'ptc_mr',
    'imdb-binary',
    'imdb-multi',
    'collab',
    'reddit-binary',
)
REQUIRED = ('A', 'graph_indicator', 'graph_labels')
#: Default cap of the one-hot degree input of datasets without node labels or attributes.
DEGREE_CAP = 32


@dataclass
class GraphDataset:
    r"""Many graphs with graph-level or node-level targets, for the graph task.

    Attributes:
        name (str): Dataset name (lower case).
        graphs (list of Data): Each with ``x`` ``[n, F]`` (float), ``edge_index`` and ``y`` (``[1]`` per graph or
            ``[n]`` per node; class indices, or floats for regression).
        num_classes (int): Classes; 0 for regression.
        level (str): ``'graph'`` or ``'node'``: what ``y`` labels.
        metric (str): Headline metric (``'acc'``, ``'rmse'``).
        split (dict, optional): A fixed ``'train'`` / ``'valid'`` / ``'test'`` split of graph indices
            (synthetic tasks); :obj:`None`: the task's stratified cross-validation folds.
        root (str): Where the data came from.
        info (dict): Plain facts for the summary (label coding, feature source, generator settings).
    """

    name: str
    graphs: List[Data]
    num_classes: int
    level: str = 'graph'
    metric: str = 'acc'
    split: Optional[Dict[str, Tensor]] = None
    root: str = ''
    info: Dict[str, Any] = field(default_factory=dict)

    @property
    def num_features(self) -> int:
        return int(self.graphs[0].x.size(-1))

    @property
    def regression(self) -> bool:
        return self.num_classes == 0

    @property
    def num_outputs(self) -> int:
        """Output width of a model: the classes, or 1 regression target."""
        return self.num_classes if self.num_classes else 1

    def labels(self) -> Tensor:
        """The graph labels ``[G]`` (graph-level classification), for stratified folds."""
        return torch.cat([g.y.view(-1)[:1] for g in self.graphs])

    def __len__(self) -> int:
        return len(self.graphs)

    def __repr__(self) -> str:
        n, c = len(self.graphs), self.num_classes
        return f"GraphDataset({self.name}, graphs={n}, num_classes={c}, level='{self.level}')"


# ----------------------------------------------------------------------------------------------------------
# finding the files
# ----------------------------------------------------------------------------------------------------------
def _strip(name: str) -> str:
    return name[3:] if name.lower().startswith('tu-') else name


def _match_dir(folder: str, name: str) -> Optional[str]:
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return None
    for e in entries:
        if e.lower() == name.lower() and osp.isdir(osp.join(folder, e)):
            return osp.join(folder, e)
    return None


def tu_candidates(root: str, name: str) -> List[str]:
    r"""The dataset folders searched for TU dataset :obj:`name`, in order: ``root/NAME``, ``root/tu/NAME`` (each
    matched case-insensitively), and ``root`` itself when its name is :obj:`name`."""
    name, root = _strip(name), os.fspath(root)
    out = []
    for base in (root, osp.join(root, 'tu')):
        out.append(_match_dir(base, name) or osp.join(base, name.upper()))
    if osp.basename(osp.normpath(root)).lower() == name.lower():
        out.append(root)
    return out


def _files(folder: str, name: str) -> Tuple[Optional[str], Dict[str, str]]:
    """``(the folder holding NAME_A.txt, {suffix: path})`` in ``folder/raw`` or ``folder``."""
    for d in (osp.join(folder, 'raw'), folder):
        try:
            entries = sorted(os.listdir(d))
        except OSError:
            continue
        prefix = f'{name.lower()}_'
        found = {
            e[len(prefix) : -4].lower(): osp.join(d, e)
            for e in entries
            if e.lower().startswith(prefix) and e.lower().endswith('.txt')
        }
        if found:
            return d, found
    return None, {}


def locate_tu(name: str, root: str) -> Tuple[Optional[str], List[str]]:
    r"""``(the folder holding NAME_A.txt, or None; the folders searched)``."""
    cands = tu_candidates(root, name)
    for c in cands:
        d, files = _files(c, _strip(name))
        if d is not None and 'a' in files:
            return d, cands
    return None, cands


# ----------------------------------------------------------------------------------------------------------
# parsing: every file in one place
# ----------------------------------------------------------------------------------------------------------
def _first_bad_line(text: str, path: str, ncols: Optional[int], kind: str) -> ValueError:
    conv = int if kind == 'int' else float
    for i, line in enumerate(text.splitlines(), start=1):
        parts = [p.strip() for p in line.split(',')]
        if ncols is not None and len(parts) != ncols:
            return ValueError(f"'{path}' line {i}: expected {ncols} comma-separated values, got {line.strip()!r}")
        try:
            vals = [conv(p) for p in parts]
        except ValueError:
            return ValueError(f"'{path}' line {i}: expected {kind} values, got {line.strip()[:80]!r}")
        if kind == 'float' and not all(np.isfinite(vals)):
            return ValueError(f"'{path}' line {i}: NaN or infinite value")
    return ValueError(f"'{path}': lines have different numbers of values")


def _read(path: str, ncols: Optional[int], kind: str = 'int') -> np.ndarray:
    r"""A TU text file as a ``[lines, cols]`` array; a bad line is an error naming the file and the line.
    Trailing blank lines are allowed; a blank line inside the file is an error."""
    import pandas as pd

    with open(path, 'rb') as f:
        text = f.read().decode('utf-8', 'replace')
    body = text.rstrip('\n\r ')
    lines = body.split('\n') if body else []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            raise ValueError(f"'{path}' line {i}: blank line")
    if not lines:
        return np.zeros((0, ncols or 1), dtype=np.int64 if kind == 'int' else np.float32)
    dtype = np.int64 if kind == 'int' else np.float64
    try:
        df = pd.read_csv(io.StringIO(body), header=None, sep=',', skipinitialspace=True, dtype=dtype, engine='c')
        arr = df.to_numpy()
        if (ncols is not None and arr.shape[1] != ncols) or not np.isfinite(arr).all() or len(arr) != len(lines):
            raise ValueError
    except (ValueError, TypeError, OverflowError, pd.errors.ParserError):
        raise _first_bad_line(body, path, ncols, kind) from None
    return arr


def _check_count(arr: np.ndarray, expected: int, path: str, what: str) -> None:
    if len(arr) != expected:
        raise ValueError(f"'{path}' has {len(arr)} lines, expected {expected} (one per {what})")


def read_tu(folder: str, name: str, degree_cap: int = DEGREE_CAP) -> Tuple[List[Data], Dict[str, Any]]:
    r"""Read TU dataset :obj:`name` from :obj:`folder` (the one holding ``NAME_A.txt``).

    Returns:
        ``(graphs, info)``: one :class:`~torch_geometric.data.Data` per graph (``x``, ``edge_index``, ``y`` ``[1]``
        in ``0..C-1``) and plain facts (label coding, feature source, counts).
    """
    name = _strip(name)
    d, files = _files(folder, name)
    missing = [f'{name.upper()}_{s}.txt' for s in REQUIRED if s.lower() not in files]
    if d is None or missing:
        raise missing_files_error(
            f"TU dataset '{name}'",
            missing or [f'{name.upper()}_{s}.txt' for s in REQUIRED],
            [folder],
            f'{name.upper()}/raw/{name.upper()}_A.txt\n{name.upper()}/raw/{name.upper()}_graph_indicator.txt\n'
            f'{name.upper()}/raw/{name.upper()}_graph_labels.txt\n{name.upper()}/raw/{name.upper()}_node_labels.txt '
            f'(optional)\n{name.upper()}/raw/{name.upper()}_node_attributes.txt (optional)',
        )
    p_ind, p_lab, p_a = files['graph_indicator'], files['graph_labels'], files['a']
    ind = _read(p_ind, 1)[:, 0]
    n = len(ind)
    if n == 0:
        raise ValueError(f"'{p_ind}' holds no nodes")
    if ind[0] != 1:
        raise ValueError(f"'{p_ind}' line 1: graph ids must start at 1 (got {ind[0]})")
    step = np.diff(ind)
    bad = np.nonzero((step != 0) & (step != 1))[0]
    if len(bad):
        i = int(bad[0]) + 2
        raise ValueError(
            f"'{p_ind}' line {i}: graph ids must be contiguous and non-decreasing (1, 1, 2, ...): "
            f'{ind[i - 2]} is followed by {ind[i - 1]}'
        )
    num_graphs = int(ind[-1])
    labels = _read(p_lab, 1)[:, 0]
    _check_count(labels, num_graphs, p_lab, f'graph in {osp.basename(p_ind)}')
    edges = _read(p_a, 2)
    if len(edges):
        out = (edges < 1) | (edges > n)
        if out.any():
            i = int(np.nonzero(out.any(1))[0][0])
            raise ValueError(f"'{p_a}' line {i + 1}: node id {edges[i].tolist()} outside 1..{n}")
        cross = ind[edges[:, 0] - 1] != ind[edges[:, 1] - 1]
        if cross.any():
            i = int(np.nonzero(cross)[0][0])
            raise ValueError(f"'{p_a}' line {i + 1}: the edge {edges[i].tolist()} joins two graphs")
    cols, source = [], []
    if 'node_labels' in files:
        nl = _read(files['node_labels'], None)
        _check_count(nl, n, files['node_labels'], 'node')
        nl = nl[:, 0]
        _, inv = np.unique(nl, return_inverse=True)
        cols.append(np.eye(int(inv.max()) + 1, dtype=np.float32)[inv])
        source.append('node_labels (one-hot)')
    if 'node_attributes' in files:
        na = _read(files['node_attributes'], None, 'float')
        _check_count(na, n, files['node_attributes'], 'node')
        cols.append(na.astype(np.float32))
        source.append('node_attributes')
    ptr = np.concatenate([[0], np.cumsum(np.bincount(ind - 1, minlength=num_graphs))])
    if not cols:
        deg = np.bincount(edges[:, 0] - 1, minlength=n) if len(edges) else np.zeros(n, dtype=np.int64)
        cols.append(np.eye(degree_cap + 1, dtype=np.float32)[np.minimum(deg, degree_cap)])
        source.append(f'one-hot degree capped at {degree_cap}')
    x = torch.from_numpy(np.concatenate(cols, axis=1))
    classes, y = np.unique(labels, return_inverse=True)
    y = torch.from_numpy(y.astype(np.int64))
    ei = torch.from_numpy(edges.T.copy() - 1) if len(edges) else torch.zeros(2, 0, dtype=torch.long)
    edge_graph = torch.from_numpy(ind - 1)[ei[0]] if ei.numel() else torch.zeros(0, dtype=torch.long)
    order = torch.sort(edge_graph, stable=True).indices
    ei, edge_graph = ei[:, order], edge_graph[order]
    eptr = torch.cat([torch.zeros(1, dtype=torch.long), torch.bincount(edge_graph, minlength=num_graphs).cumsum(0)])
    graphs = []
    for g in range(num_graphs):  # one slice per graph
        a, b = int(ptr[g]), int(ptr[g + 1])
        graphs.append(Data(x=x[a:b], edge_index=ei[:, eptr[g] : eptr[g + 1]] - a, y=y[g : g + 1], num_nodes=b - a))
    info = {
        'label_coding': [int(c) for c in classes],
        'features': ' + '.join(source),
        'num_graphs': num_graphs,
        'num_nodes': n,
        'num_edges': int(len(edges)),
    }
    return graphs, info


def load_tu_dataset(name: str, root: str, seed: int = 0, degree_cap: int = DEGREE_CAP, **kwargs: Any) -> GraphDataset:
    r"""The :class:`GraphDataset` of TU dataset :obj:`name` under :obj:`root` (see :func:`tu_candidates`);
    :obj:`seed` is unused (the task draws the folds)."""
    if degree_cap < 1:
        raise ValueError(f"'degree_cap' must be >= 1 (got {degree_cap})")
    folder, looked = locate_tu(name, root)
    if folder is None:
        nm = _strip(name).upper()
        raise missing_files_error(
            f"TU dataset '{_strip(name)}'",
            [f'{nm}_A.txt'],
            looked,
            f'{nm}/raw/{nm}_A.txt\n{nm}/raw/{nm}_graph_indicator.txt\n{nm}/raw/{nm}_graph_labels.txt',
        )
    graphs, info = read_tu(folder, name, degree_cap)
    return GraphDataset(name.lower(), graphs, len(info['label_coding']), 'graph', 'acc', None, folder, info)
