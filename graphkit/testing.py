"""Helpers for tests: tiny datasets written in the real on-disk layouts."""
from __future__ import annotations

import gzip
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch

__all__ = ['write_ogbl_dataset', 'random_link_dataset']


def _write_csv_gz(path: Path, rows: np.ndarray, fmt: str = '%d') -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = np.asarray(rows)
    with gzip.open(path, 'wt') as f:
        np.savetxt(f, rows.reshape(len(rows), -1), fmt=fmt, delimiter=',')


def write_ogbl_dataset(root: Path, name: str, num_nodes: int, split: Dict[str, Dict[str, np.ndarray]],
                       x: Optional[np.ndarray] = None, split_type: str = 'target') -> Path:
    r"""Write an ``ogbl-*`` dataset in OGB's on-disk layout under :obj:`root` and return its folder.

    :obj:`split` maps ``'train' / 'valid' / 'test'`` to dicts of numpy arrays (``'edge'``, ``'edge_neg'``, ...),
    saved like OGB's legacy split files (a non-zip :func:`torch.save` of a dict of numpy arrays).
    """
    folder = Path(root) / name.replace('-', '_')
    train = np.asarray(split['train']['edge'], dtype=np.int64)
    _write_csv_gz(folder / 'raw' / 'edge.csv.gz', train)
    _write_csv_gz(folder / 'raw' / 'num-node-list.csv.gz', np.array([num_nodes]))
    _write_csv_gz(folder / 'raw' / 'num-edge-list.csv.gz', np.array([len(train)]))
    if x is not None:
        _write_csv_gz(folder / 'raw' / 'node-feat.csv.gz', x, fmt='%.6f')
    (folder / 'split' / split_type).mkdir(parents=True, exist_ok=True)
    for key, value in split.items():
        torch.save({k: np.asarray(v, dtype=np.int64) for k, v in value.items()},
                   folder / 'split' / split_type / f'{key}.pt', _use_new_zipfile_serialization=False)
    return folder


def random_link_dataset(root: Path, name: str = 'ogbl-tiny', num_nodes: int = 60, num_edges: int = 240,
                        num_features: Optional[int] = 8, seed: int = 0) -> Path:
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
        'train': {'edge': edges[2 * n_val:]},
        'valid': {'edge': edges[:n_val], 'edge_neg': non_edges[:n_val]},
        'test': {'edge': edges[n_val:2 * n_val], 'edge_neg': non_edges[n_val:]},
    }
    x = None if num_features is None else rng.random((num_nodes, num_features)).astype(np.float32)
    return write_ogbl_dataset(root, name, num_nodes, split, x=x)
