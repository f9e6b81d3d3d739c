r"""Datasets given by path: ``edges:PATH``, ``pyg:PATH`` and ``interactions:PATH``.

A dataset name with one of these prefixes is read from the file after the prefix (the path keeps its case):

* ``edges:PATH``: an edge list, one edge per line, comma-, tab- or whitespace-separated (decided by the first
  line), with an optional header line (every token a known column name such as ``src,dst,weight``), an optional
  third weight column and ``#`` comment lines. Node ids may be arbitrary strings or integers; they are mapped to
  ``0..N-1`` in sorted order (numeric order when every id is an integer). Self-loops are dropped. Node features
  come from ``data.features`` (a ``.npy`` array whose row ``i`` belongs to the integer id ``i``, or a CSV keyed by
  node id); without them the model's featureless input is used (NCN: a learnable per-node embedding, as on
  ogbl-ddi). The link split is the seeded NCN split (``data.val_ratio`` / ``data.test_ratio``, 70/10/20 by
  default).
* ``pyg:PATH``: a :class:`~torch_geometric.data.Data` saved with :func:`torch.save`, loaded with
  ``weights_only=True``: only tensors and the storage classes :mod:`torch_geometric` registers as safe globals
  are allowed, so a malicious file is refused without running code.
* ``interactions:PATH``: user-item pairs (``user,item[,timestamp]``) for the recommendation task, with a seeded
  per-user test split (``data.test_ratio``) or, with ``data.temporal_split=true``, leave-last-out by timestamp.

Every reader parses in one place (:func:`read_table`) and a bad input is a :class:`ValueError` naming the file and
the line. A run on such a dataset records the file's path and a content fingerprint in ``summary.json``
(``data_source``) and writes the id mapping next to the run (``node_ids.csv``, or ``user_ids.csv`` /
``item_ids.csv``).
"""

from __future__ import annotations

import hashlib
import math
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from graphkit.io import atomic_write_text, safe_torch_load

__all__ = [
    'PREFIXES',
    'split_spec',
    'is_custom',
    'file_fingerprint',
    'read_table',
    'read_edge_list',
    'read_pairs',
    'IdMap',
    'load_edges_dataset',
    'load_pyg_dataset',
    'load_pyg_node_dataset',
    'load_interactions_dataset',
    'loader_kwargs',
    'source_summary',
]

#: The dataset-name prefixes that name a file.
PREFIXES = ('edges', 'pyg', 'interactions')

#: Tokens that make the first line a header.
HEADER_TOKENS = frozenset(
    'src dst source target from to node node_id id weight user item user_id item_id timestamp time ts head tail'.split()
)


def split_spec(name: str) -> Optional[Tuple[str, str]]:
    r"""``('edges', PATH)`` for ``'edges:PATH'`` (the prefix case-insensitive, the path as given); :obj:`None` for a
    name without a known prefix."""
    prefix, sep, path = str(name).partition(':')
    if not sep or prefix.lower() not in PREFIXES:
        return None
    if not path:
        raise ValueError(f"Dataset '{name}': the path after '{prefix}:' is empty")
    return prefix.lower(), path


def is_custom(name: str) -> bool:
    """Whether :obj:`name` names a file (``edges:`` / ``pyg:`` / ``interactions:``)."""
    return split_spec(name) is not None


def file_fingerprint(path: str) -> str:
    """``'blake2b:<hex>'`` of the file's whole content."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return f'blake2b:{h.hexdigest()}'


def _check_file(path: str, what: str) -> None:
    if not osp.isfile(path):
        raise FileNotFoundError(f"{what} '{path}' does not exist (or is not a file)")


def read_table(
    path: str, min_cols: int, max_cols: int, what: str = 'file', header_tokens: frozenset = HEADER_TOKENS
) -> Tuple[List[List[str]], List[int]]:
    r"""The rows of a small delimited text file and their line numbers (1-based).

    The delimiter is that of the first non-comment line: a comma, else a tab, else whitespace. Blank lines and
    lines starting with ``#`` are skipped; the first line is a header (and skipped) when every token is a known
    column name. Every row must have as many columns as the first one, between :obj:`min_cols` and
    :obj:`max_cols`.

    Raises:
        FileNotFoundError: If :obj:`path` does not exist.
        ValueError: Naming the file and the line: undecodable text, an empty file, a ragged row.
    """
    _check_file(path, what.capitalize())
    try:
        with open(path, encoding='utf-8') as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError as e:
        raise ValueError(f"'{path}': not UTF-8 text ({e.reason} at byte {e.start})") from None
    rows: List[List[str]] = []
    numbers: List[int] = []
    delim: Any = None
    ncols, first = 0, True
    for lineno, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith('#'):
            continue
        if first:  # the first line decides the delimiter, and may be a header
            first = False
            delim = ',' if ',' in text else '\t' if '\t' in text else None
            toks = [t.strip() for t in text.split(delim)]
            if all(t.lower() in header_tokens for t in toks):
                continue
        else:
            toks = [t.strip() for t in text.split(delim)]
        if not rows:
            ncols = len(toks)
            if not min_cols <= ncols <= max_cols:
                want = str(min_cols) if min_cols == max_cols else f'{min_cols} to {max_cols}'
                raise ValueError(f"'{path}' line {lineno}: {ncols} columns, expected {want} ({what})")
        elif len(toks) != ncols:
            raise ValueError(
                f"'{path}' line {lineno}: {len(toks)} columns, expected {ncols} as on line {numbers[0]} (a ragged row)"
            )
        if any(t == '' for t in toks):
            raise ValueError(f"'{path}' line {lineno}: an empty field")
        rows.append(toks)
        numbers.append(lineno)
    if not rows:
        raise ValueError(f"'{path}' is empty: it holds no {what} rows")
    return rows, numbers


def _float(tok: str, path: str, lineno: int, what: str) -> float:
    try:
        value = float(tok)
    except ValueError:
        raise ValueError(f"'{path}' line {lineno}: {what} {tok!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"'{path}' line {lineno}: {what} {tok!r} is not finite")
    return value


class IdMap:
    r"""Original ids (strings) ↔ indices ``0..N-1``, in sorted order (numeric when every id is an integer)."""

    def __init__(self, ids: Sequence[str]) -> None:
        distinct = set(ids)
        try:
            self.integer = True
            ordered = sorted(distinct, key=int)
        except ValueError:
            self.integer = False
            ordered = sorted(distinct)
        self.ids: List[str] = ordered
        self.index: Dict[str, int] = {s: i for i, s in enumerate(ordered)}
        if self.integer:  # '07' and '7' are the same integer id
            self.index.update({str(int(s)): i for i, s in enumerate(ordered)})

    def __len__(self) -> int:
        return len(self.ids)

    def get(self, token: str) -> Optional[int]:
        """The index of :obj:`token`, or :obj:`None`."""
        i = self.index.get(token)
        if i is None and self.integer:
            try:
                i = self.index.get(str(int(token)))
            except ValueError:
                return None
        return i

    def to_csv(self) -> str:
        """``index,id`` lines with a header."""
        return 'index,id\n' + ''.join(f'{i},{s}\n' for i, s in enumerate(self.ids))


def read_edge_list(path: str) -> Tuple[IdMap, Tensor, Optional[Tensor], Dict[str, Any]]:
    r"""An edge list file: the id map, the ``(2, E)`` edges (self-loops dropped, as given otherwise), the edge
    weights (or :obj:`None`) and counts of what was dropped.

    Raises:
        ValueError: Naming the file and line: a ragged or empty file, a non-numeric weight, a graph with fewer
            than two nodes or only self-loops.
    """
    rows, lines = read_table(path, 2, 3, 'edge list (src, dst[, weight])')
    ids = IdMap([t for r in rows for t in r[:2]])
    src = torch.tensor([ids.index[r[0]] for r in rows], dtype=torch.long)
    dst = torch.tensor([ids.index[r[1]] for r in rows], dtype=torch.long)
    weight = None
    if len(rows[0]) == 3:
        weight = torch.tensor([_float(r[2], path, n, 'weight') for r, n in zip(rows, lines)])
    keep = src != dst
    if not bool(keep.any()):
        raise ValueError(f"'{path}' holds only self-loops (lines {lines[0]}-{lines[-1]}): there is no edge to learn")
    if len(ids) < 2:
        raise ValueError(f"'{path}' line {lines[0]}: the graph needs at least two nodes")
    edge_index = torch.stack([src[keep], dst[keep]])
    return ids, edge_index, None if weight is None else weight[keep], {'self_loops_dropped': int((~keep).sum())}


def read_features(path: str, ids: IdMap) -> Tensor:
    r"""Node features for the nodes of :obj:`ids`: a ``.npy`` array whose row ``i`` is the integer id ``i``, or a
    CSV ``id,f1,f2,...`` keyed by node id (every graph node exactly once; extra ids are an error)."""
    _check_file(path, 'data.features file')
    if path.endswith('.npy'):
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception as e:  # a damaged array, an object array
            raise ValueError(f"data.features '{path}': not a readable numeric .npy array ({e})") from None
        if arr.ndim not in (1, 2) or not np.issubdtype(arr.dtype, np.number):
            raise ValueError(f"data.features '{path}': expected a numeric [N, F] array (got {arr.dtype} {arr.shape})")
        if not ids.integer:
            raise ValueError(
                f"data.features '{path}': a .npy array is indexed by integer node ids, but the graph's ids are "
                f'strings (e.g. {ids.ids[0]!r}); give a CSV keyed by node id instead'
            )
        rows = np.array([int(s) for s in ids.ids])
        if rows.min() < 0 or rows.max() >= arr.shape[0]:
            bad = int(rows.max()) if rows.max() >= arr.shape[0] else int(rows.min())
            raise ValueError(
                f"data.features '{path}' has {arr.shape[0]} rows, but the graph has node id {bad}: the feature ids "
                'do not match the graph'
            )
        x = torch.from_numpy(np.ascontiguousarray(arr[rows])).float()
    else:
        table, lines = read_table(path, 2, 1 << 20, 'feature (id, f1, f2, ...)', frozenset())
        x = torch.empty(len(ids), len(table[0]) - 1)
        seen = torch.zeros(len(ids), dtype=torch.bool)
        for row, n in zip(table, lines):
            i = ids.get(row[0])
            if i is None:
                raise ValueError(f"'{path}' line {n}: node id {row[0]!r} is not in the graph (feature ids must match)")
            if seen[i]:
                raise ValueError(f"'{path}' line {n}: node id {row[0]!r} is given twice")
            seen[i] = True
            x[i] = torch.tensor([_float(t, path, n, 'feature') for t in row[1:]])
        if not bool(seen.all()):
            missing = [ids.ids[i] for i in (~seen).nonzero().view(-1)[:5].tolist()]
            raise ValueError(
                f"'{path}': {int((~seen).sum())} graph nodes have no feature row (e.g. {missing}): the feature ids "
                'do not match the graph'
            )
    if x.dim() == 1:
        x = x.view(-1, 1)
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"data.features '{path}' holds NaN or infinite values")
    return x


def read_pairs(path: str, ids: IdMap, what: str = 'node') -> Tuple[Tensor, List[Tuple[str, str]]]:
    r"""A two-column pair file in the original id namespace: the ``(2, B)`` indices and the pairs as written.

    Raises:
        ValueError: Naming the file and line of an unknown id, a ragged row or an empty file.
    """
    rows, lines = read_table(path, 2, 2, 'pair (src, dst)')
    out = torch.empty(2, len(rows), dtype=torch.long)
    for j, (row, n) in enumerate(zip(rows, lines)):
        for side in (0, 1):
            i = ids.get(row[side])
            if i is None:
                raise ValueError(f"'{path}' line {n}: {what} id {row[side]!r} is not in the run's graph")
            out[side, j] = i
    return out, [(r[0], r[1]) for r in rows]


def _source(kind: str, path: str, **more: Any) -> Dict[str, Any]:
    out = {'format': kind, 'path': osp.abspath(path), 'fingerprint': file_fingerprint(path)}
    out.update({k: v for k, v in more.items() if v is not None})
    return out


def _link_split(edge_index: Tensor, num_nodes: int, val_ratio: float, test_ratio: float, seed: int, where: str):
    from graphkit.data.link_split import ncn_link_split, random_link_split, undirected_pairs

    E = undirected_pairs(edge_index, num_nodes).size(1)
    if math.floor(val_ratio * E) < 1 or math.floor(test_ratio * E) < 1:
        raise ValueError(
            f'{where}: {E} undirected edges are too few for a split with data.val_ratio={val_ratio} and '
            f'data.test_ratio={test_ratio} (each needs at least one edge)'
        )
    if val_ratio <= test_ratio < 0.5:
        return ncn_link_split(edge_index, num_nodes, val_ratio=val_ratio, test_ratio=test_ratio, seed=seed)
    return random_link_split(edge_index, num_nodes, val_ratio=val_ratio, test_ratio=test_ratio, seed=seed)


def load_edges_dataset(
    name: str,
    root: Optional[str] = None,
    seed: int = 0,
    features: Optional[str] = None,
    val_ratio: Optional[float] = None,
    test_ratio: Optional[float] = None,
    **kwargs: Any,
):
    r"""The link dataset of ``edges:PATH`` (see the module docstring); :obj:`root` is not used."""
    from graphkit.data.registry import LinkDataset

    _, path = split_spec(name)
    ids, edge_index, weight, info = read_edge_list(path)
    x = None if features is None else read_features(features, ids)
    data = Data(edge_index=edge_index, num_nodes=len(ids))
    if x is not None:
        data.x = x
    if weight is not None:
        data.edge_weight = weight
    vr = 0.1 if val_ratio is None else val_ratio
    tr = 0.2 if test_ratio is None else test_ratio
    split = _link_split(edge_index, len(ids), vr, tr, seed, f"'{path}'")
    source = _source(
        'edges',
        path,
        features=None if features is None else osp.abspath(features),
        features_fingerprint=None if features is None else file_fingerprint(features),
        val_ratio=vr,
        test_ratio=tr,
        **info,
    )
    extra = {'source': source, 'ids': {'node_ids.csv': ids}}
    return LinkDataset(
        f'edges:{path}', data, split, 'hits@100', 'ogbl-ppa', osp.dirname(osp.abspath(path)), extra, True
    )


def pyg_safe_globals() -> List[Any]:
    r"""The classes a :func:`torch.save` of a :class:`~torch_geometric.data.Data` pickles besides tensors: the
    storage classes of :mod:`torch_geometric.data` (data only: their unpickling runs no user code), and nothing
    else."""
    from torch_geometric.data import data as data_mod
    from torch_geometric.data import storage

    return [
        Data,
        data_mod.DataEdgeAttr,
        data_mod.DataTensorAttr,
        storage.GlobalStorage,
        storage.NodeStorage,
        storage.EdgeStorage,
        storage.BaseStorage,
    ]


def _load_pyg(path: str) -> Data:
    with torch.serialization.safe_globals(pyg_safe_globals()):
        obj = safe_torch_load(path, hint=' Only a torch_geometric Data of tensors is accepted.')
    if not isinstance(obj, Data):
        raise ValueError(f"'{path}' holds a {type(obj).__name__}, not a torch_geometric.data.Data")
    ei = obj.edge_index
    if not isinstance(ei, Tensor) or ei.dim() != 2 or ei.size(0) != 2 or ei.is_floating_point():
        raise ValueError(f"'{path}': data.edge_index must be an integer tensor of shape (2, E)")
    n = int(obj.num_nodes)
    if ei.numel() and (int(ei.min()) < 0 or int(ei.max()) >= n):
        raise ValueError(f"'{path}': data.edge_index holds node ids outside [0, {n})")
    if not bool((ei[0] != ei[1]).any()):
        raise ValueError(f"'{path}' holds only self-loops: there is no edge to learn")
    x = obj.get('x')
    if x is not None and (x.size(0) != n or not bool(torch.isfinite(x.float()).all())):
        raise ValueError(f"'{path}': data.x must have num_nodes={n} rows of finite values")
    return obj


def load_pyg_dataset(
    name: str,
    root: Optional[str] = None,
    seed: int = 0,
    val_ratio: Optional[float] = None,
    test_ratio: Optional[float] = None,
    **kwargs: Any,
):
    r"""The link dataset of ``pyg:PATH``: a safely loaded :class:`~torch_geometric.data.Data` and the seeded NCN
    link split of its edges."""
    from graphkit.data.registry import LinkDataset

    _, path = split_spec(name)
    data = _load_pyg(path)
    n = int(data.num_nodes)
    vr = 0.1 if val_ratio is None else val_ratio
    tr = 0.2 if test_ratio is None else test_ratio
    split = _link_split(data.edge_index.long(), n, vr, tr, seed, f"'{path}'")
    out = Data(edge_index=data.edge_index.long(), num_nodes=n)
    if data.get('x') is not None:
        out.x = data.x.float()
    ids = IdMap([str(i) for i in range(n)])
    extra = {'source': _source('pyg', path, val_ratio=vr, test_ratio=tr), 'ids': {'node_ids.csv': ids}}
    return LinkDataset(
        f'pyg:{osp.abspath(path)}', out, split, 'hits@100', 'ogbl-ppa', osp.dirname(osp.abspath(path)), extra, True
    )


def load_pyg_node_dataset(name: str, root: Optional[str] = None, seed: int = 0, **kwargs: Any):
    r"""The node dataset of ``pyg:PATH`` (for node models such as ``gcn``): the :class:`Data` needs class labels
    ``y`` and features ``x``; its ``train_mask`` / ``val_mask`` / ``test_mask`` give the split when present, else a
    seeded 60/20/20 random split of the labelled nodes (``y >= 0``)."""
    from graphkit.data.registry import NodeDataset

    _, path = split_spec(name)
    data = _load_pyg(path)
    y, x, n = data.get('y'), data.get('x'), int(data.num_nodes)
    if y is None or y.dim() != 1 or y.size(0) != n or y.is_floating_point():
        raise ValueError(f"'{path}': a node dataset needs integer class labels data.y of shape [num_nodes={n}]")
    if x is None:
        raise ValueError(f"'{path}': a node dataset needs node features data.x")
    masks = [data.get(m) for m in ('train_mask', 'val_mask', 'test_mask')]
    if all(isinstance(m, Tensor) and m.dtype == torch.bool and m.numel() == n for m in masks):
        split = {s: m.nonzero().view(-1) for s, m in zip(('train', 'valid', 'test'), masks)}
        how = 'the masks of the file'
    else:
        labelled = (y >= 0).nonzero().view(-1)
        perm = labelled[torch.randperm(labelled.numel(), generator=torch.Generator().manual_seed(int(seed)))]
        a, b = int(0.6 * perm.numel()), int(0.8 * perm.numel())
        split = {'train': perm[:a].sort().values, 'valid': perm[a:b].sort().values, 'test': perm[b:].sort().values}
        how = f'random 60/20/20 of the labelled nodes, seed {seed}'
    if any(v.numel() == 0 for v in split.values()):
        raise ValueError(f"'{path}': the node split ({how}) leaves a split empty")
    out = Data(edge_index=data.edge_index.long(), x=x.float(), y=y.long(), num_nodes=n)
    extra = {'data_source': _source('pyg', path, split=how)}  # NodeTask writes ds.info into the summary
    num_classes = int(y.max()) + 1
    where = osp.abspath(path)
    return NodeDataset(f'pyg:{where}', out, split, num_classes, root=osp.dirname(where), seeded_split=True, info=extra)


def load_interactions_dataset(
    name: str,
    root: Optional[str] = None,
    seed: int = 0,
    val_ratio: float = 0.0,
    test_ratio: Optional[float] = None,
    temporal_split: bool = False,
    **kwargs: Any,
):
    r"""The recommendation dataset of ``interactions:PATH``: ``user,item[,timestamp]`` rows (duplicates dropped),
    user and item ids mapped to ``0..U-1`` / ``0..I-1``; per user, a seeded :obj:`test_ratio` of the
    interactions (at least one for users with two or more; default 0.2) is held out for test, or with
    :obj:`temporal_split` the last one by timestamp (leave-last-out); then :obj:`val_ratio` of the rest for
    validation."""
    from graphkit.data.recsys import RecSysDataset, _carve_valid, _sort_pairs

    _, path = split_spec(name)
    rows, lines = read_table(path, 2, 3, 'interaction (user, item[, timestamp])')
    if temporal_split and len(rows[0]) < 3:
        raise ValueError(f"'{path}' line {lines[0]}: data.temporal_split needs a third (timestamp) column")
    users, items = IdMap([r[0] for r in rows]), IdMap([r[1] for r in rows])
    u = torch.tensor([users.index[r[0]] for r in rows], dtype=torch.long)
    i = torch.tensor([items.index[r[1]] for r in rows], dtype=torch.long)
    ts = None
    if len(rows[0]) == 3:
        ts = torch.tensor([_float(r[2], path, n, 'timestamp') for r, n in zip(rows, lines)], dtype=torch.float64)
    U, num_items = len(users), len(items)
    code = u * num_items + i
    uniq, inv = torch.unique(code, return_inverse=True)
    first = torch.full((uniq.numel(),), code.numel(), dtype=torch.long).scatter_reduce_(
        0, inv, torch.arange(code.numel()), reduce='amin'
    )
    u, i = u[first], i[first]
    ts = None if ts is None else ts[first]
    ratio = 0.2 if test_ratio is None else float(test_ratio)
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"Config key 'data.test_ratio' must be in (0, 1) (got {ratio})")
    g = torch.Generator().manual_seed(int(seed))
    key = ts if temporal_split else torch.rand(u.numel(), generator=g, dtype=torch.float64)
    order = torch.argsort(key, stable=True)
    order = order[torch.argsort(u[order], stable=True)]  # by user, then by time / random key
    user = u[order]
    deg = torch.bincount(user, minlength=U)
    rank = torch.arange(order.numel()) - (deg.cumsum(0) - deg)[user]
    n_test = torch.ones_like(deg) if temporal_split else torch.round(deg.double() * ratio).long().clamp(min=1)
    n_test = torch.where(deg >= 2, n_test, torch.zeros_like(n_test))
    to_test = rank >= (deg - n_test)[user]  # the last n_test of each user (by time, or random order)
    pairs = torch.stack([u, i])
    test, train = pairs[:, order[to_test]], pairs[:, order[~to_test]]
    if test.size(1) == 0:
        raise ValueError(f"'{path}': no user has two or more interactions, so nothing is held out for test")
    valid = None
    train = _sort_pairs(train)
    if val_ratio > 0:
        train, valid = _carve_valid(train, U, val_ratio, seed)
    source = _source(
        'interactions',
        path,
        split='temporal leave-last-out' if temporal_split else f'random per user, test_ratio={ratio}, seed={seed}',
        duplicates_dropped=int(code.numel() - uniq.numel()),
    )
    return RecSysDataset(
        name=f'interactions:{osp.abspath(path)}',
        num_users=U,
        num_items=num_items,
        train=train,
        test=_sort_pairs(test),
        valid=valid,
        root=osp.dirname(osp.abspath(path)),
        extra={'source': source, 'ids': {'user_ids.csv': users, 'item_ids.csv': items}},
    )


def loader_kwargs(name: str, data_cfg: Dict[str, Any], keys: Sequence[str]) -> Dict[str, Any]:
    r"""The ``data.*`` values among :obj:`keys` that the loader of :obj:`name` reads; a value set (not null)
    for a dataset that is not given by path is an error naming the key."""
    given = {k: data_cfg.get(k) for k in keys if data_cfg.get(k) not in (None, False)}
    spec = split_spec(name)
    if spec is None:
        if given:
            raise ValueError(
                f"Config key 'data.{sorted(given)[0]}' applies to datasets given by path (edges:PATH, pyg:PATH, "
                f"interactions:PATH), not to '{name}'"
            )
        return {}
    if spec[0] == 'pyg' and 'features' in given:
        raise ValueError("Config key 'data.features' applies to edges:PATH (a pyg: Data carries its own x)")
    return given


def source_summary(extra: Dict[str, Any], out: str) -> Dict[str, Any]:
    r"""For a dataset given by path: write its id mappings into the run directory :obj:`out` (atomically) and
    return ``{'data_source': ...}`` for the summary; ``{}`` otherwise."""
    source = extra.get('source') if extra else None
    if source is None:
        return {}
    for fname, ids in extra.get('ids', {}).items():
        atomic_write_text(os.path.join(out, fname), ids.to_csv())
    return {'data_source': dict(source, id_files=sorted(extra.get('ids', {})))}
