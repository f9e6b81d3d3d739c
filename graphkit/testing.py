"""Helpers for tests: tiny datasets written in the real on-disk layouts.

The one place that writes OGB-style files: gzip'ed CSV tables (:func:`write_csv_gz`), split files
(:func:`write_split`), whole ``ogbl-*`` dataset folders (:func:`write_ogbl_dataset`) and homogeneous ``ogbn-*``
folders (:func:`random_node_dataset`). Tests anywhere
(``tests/data``, ``tests/tasks``, ...) build their fixtures from these.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Union

import numpy as np
import torch

__all__ = ['write_csv_gz', 'write_split', 'write_ogbl_dataset', 'random_link_dataset', 'random_node_dataset']

PathLike = Union[str, Path]


def write_csv_gz(path: PathLike, rows: Iterable[Any], header: Optional[str] = None, fmt: Optional[str] = None) -> None:
    r"""Write :obj:`rows` to the gzip'ed CSV file :obj:`path` (parent folders are created), one line a row.

    A row is a scalar or a sequence; each value is written with ``fmt % value`` when :obj:`fmt` is given (e.g.
    ``'%.6f'``), else with :func:`str`, so malformed tables (strings, ragged rows, NaN) can be written too.
    :obj:`header`, if given, is written as the first line (as in ``ogbn-mag``'s ``num-node-dict.csv.gz``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, 'wt') as f:
        if header is not None:
            f.write(header + '\n')
        for row in rows:
            f.write(','.join(str(v) if fmt is None else fmt % v for v in np.atleast_1d(row)) + '\n')


def write_split(path: PathLike, split: Dict[str, Any]) -> None:
    r"""Save :obj:`split` (a dict, usually of numpy arrays) to :obj:`path` like OGB's legacy split files: a
    non-zip :func:`torch.save`. Values are saved as given (no dtype conversion), so a test can also plant objects
    that a safe loader must refuse."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(split, path, _use_new_zipfile_serialization=False)


def write_ogbl_dataset(
    root: PathLike,
    name: str,
    num_nodes: int,
    split: Dict[str, Dict[str, np.ndarray]],
    x: Optional[np.ndarray] = None,
    split_type: str = 'target',
    edges: Optional[np.ndarray] = None,
    edge_attrs: Optional[Dict[str, np.ndarray]] = None,
) -> Path:
    r"""Write an ``ogbl-*`` dataset in OGB's on-disk layout under :obj:`root` and return its folder
    (``root/<name with '-' replaced by '_'>``).

    Args:
        root: the folder that holds the dataset folder.
        name: the dataset name, e.g. ``'ogbl-ddi'``.
        num_nodes: written to ``raw/num-node-list.csv.gz``.
        split: maps ``'train' / 'valid' / 'test'`` to dicts of arrays (``'edge'``, ``'edge_neg'``, or
            ``'source_node'``, ``'target_node'``, ``'target_node_neg'`` as in ``ogbl-citation2``), each saved as
            ``split/<split_type>/<key>.pt`` with :func:`write_split` after a cast to ``int64``. Leave
            ``'train'`` out to write a dataset without ``train.pt`` (OGB's loaders then use the raw edges).
        x: node features, written to ``raw/node-feat.csv.gz`` (``'%.6f'``) when given.
        split_type: the split folder's name (``'target'``, ``'time'``, ...).
        edges: the ``[num_edges, 2]`` edges written to ``raw/edge.csv.gz`` (and counted in
            ``raw/num-edge-list.csv.gz``); by default the train split's ``'edge'``, or its
            ``'source_node' / 'target_node'`` pairs.
        edge_attrs: per-edge columns, each written to ``raw/<key>.csv.gz`` (e.g. ``{'edge_weight': w,
            'edge_year': y}`` as in ``ogbl-collab``).
    """
    folder = Path(root) / name.replace('-', '_')
    if edges is None:
        if 'train' not in split:
            raise ValueError("write_ogbl_dataset: pass 'edges' when the split has no 'train' part")
        train = split['train']
        edges = train['edge'] if 'edge' in train else np.stack([train['source_node'], train['target_node']], 1)
    edges = np.asarray(edges, dtype=np.int64)
    raw = folder / 'raw'
    write_csv_gz(raw / 'edge.csv.gz', edges, fmt='%d')
    write_csv_gz(raw / 'num-node-list.csv.gz', [num_nodes])
    write_csv_gz(raw / 'num-edge-list.csv.gz', [len(edges)])
    if x is not None:
        write_csv_gz(raw / 'node-feat.csv.gz', np.asarray(x), fmt='%.6f')
    for key, value in (edge_attrs or {}).items():
        write_csv_gz(raw / f'{key}.csv.gz', np.asarray(value))
    for key, value in split.items():
        write_split(
            folder / 'split' / split_type / f'{key}.pt', {k: np.asarray(v, dtype=np.int64) for k, v in value.items()}
        )
    return folder


def random_link_dataset(
    root: PathLike,
    name: str = 'ogbl-tiny',
    num_nodes: int = 60,
    num_edges: int = 240,
    num_features: Optional[int] = 8,
    seed: int = 0,
) -> Path:
    r"""A random ``ogbl-*`` dataset with a 80/10/10 split of unique undirected edges and fixed negatives."""
    rng = np.random.default_rng(seed)
    pairs = set()
    while len(pairs) < num_edges:
        i, j = sorted(rng.integers(0, num_nodes, size=2).tolist())
        if i != j:
            pairs.add((i, j))
    edges = np.array(sorted(pairs), dtype=np.int64)
    edges = edges[rng.permutation(len(edges))]
    n_val = num_edges // 10
    non_edges = []
    while len(non_edges) < 2 * n_val:
        i, j = sorted(rng.integers(0, num_nodes, size=2).tolist())
        if i != j and (i, j) not in pairs:
            non_edges.append((i, j))
    non_edges = np.array(non_edges, dtype=np.int64)
    split = {
        'train': {'edge': edges[2 * n_val :]},
        'valid': {'edge': edges[:n_val], 'edge_neg': non_edges[:n_val]},
        'test': {'edge': edges[n_val : 2 * n_val], 'edge_neg': non_edges[n_val:]},
    }
    x = None if num_features is None else rng.random((num_nodes, num_features)).astype(np.float32)
    return write_ogbl_dataset(root, name, num_nodes, split, x=x)


def random_node_dataset(
    root: PathLike,
    name: str = 'ogbn-tiny',
    num_nodes: int = 80,
    num_edges: int = 240,
    num_features: int = 8,
    num_classes: int = 3,
    seed: int = 0,
) -> Path:
    r"""A random homogeneous ``ogbn-*`` node-classification dataset in OGB's layout: features that carry the
    class (a shifted first :obj:`num_classes` dimensions plus noise), homophilous edges (both ends in one class),
    and a 50/25/25 node split under ``split/random``. A GCN learns it; a random guess gets
    :math:`1 / C`."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / name.replace('-', '_')
    y = rng.integers(0, num_classes, num_nodes)
    x = rng.standard_normal((num_nodes, num_features)).astype(np.float32)
    x[np.arange(num_nodes), y] += 2.0
    src = rng.integers(0, num_nodes, num_edges)
    members = [np.flatnonzero(y == c) for c in range(num_classes)]
    dst = np.array([rng.choice(members[y[i]]) for i in src])
    edges = np.stack([src, dst], axis=1)
    write_csv_gz(folder / 'raw' / 'edge.csv.gz', edges)
    write_csv_gz(folder / 'raw' / 'num-node-list.csv.gz', [num_nodes])
    write_csv_gz(folder / 'raw' / 'num-edge-list.csv.gz', [num_edges])
    write_csv_gz(folder / 'raw' / 'node-feat.csv.gz', x)
    write_csv_gz(folder / 'raw' / 'node-label.csv.gz', y)
    perm = rng.permutation(num_nodes)
    a, b = num_nodes // 2, (3 * num_nodes) // 4
    for split, idx in (('train', perm[:a]), ('valid', perm[a:b]), ('test', perm[b:])):
        write_csv_gz(folder / 'split' / 'random' / f'{split}.csv.gz', np.sort(idx))
    return folder
