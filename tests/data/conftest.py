"""Builders of tiny datasets in the real on-disk layouts (OGB, Planetoid) under ``tmp_path``.

The files themselves are written by :mod:`graphkit.testing` (the one OGB-layout writer); the builders
here only choose the tiny contents the tests in this folder check against."""

import os
import os.path as osp
from pathlib import Path

import numpy as np
import pytest

from graphkit.testing import write_csv_gz, write_ogbl_dataset

# the name test_io.py imports (tests elsewhere import graphkit.testing.write_csv_gz directly)
write_csv = write_csv_gz

REPO = Path(__file__).resolve().parents[2]
CORA_RAW = REPO / 'datasets' / 'cora' / 'raw'
SHARED_DATA = REPO.parent / 'shared' / 'data'


def make_ogbl(
    root,
    name='ogbl-tiny',
    split_type='target',
    num_nodes=12,
    train_pt=True,
    feats=False,
    collab=False,
    citation=False,
    seed=0,
):
    """A tiny ogbl dataset in root/<name with _>/ (written by :func:`write_ogbl_dataset`); returns
    (dataset dir, dict of what was written)."""
    rng = np.random.default_rng(seed)
    pairs = np.array([(i, j) for i in range(num_nodes) for j in range(i + 1, num_nodes)], dtype=np.int64)
    pairs = pairs[rng.permutation(len(pairs))]
    train, valid, test, neg = pairs[:20], pairs[20:25], pairs[25:30], pairs[30:40]
    out = {'train': train, 'valid': valid, 'test': test, 'neg': neg}
    x = edge_attrs = None
    if feats:
        x = out['x'] = rng.standard_normal((num_nodes, 3)).round(4)
    if collab:
        out.update(weight=rng.integers(1, 4, len(train)), year=rng.integers(2000, 2020, len(train)))
        edge_attrs = {'edge_weight': out['weight'], 'edge_year': out['year']}
    if citation:
        tneg = out['target_node_neg'] = rng.integers(0, num_nodes, (len(valid), 4))
        split = {
            s: {'source_node': e[:, 0], 'target_node': e[:, 1], 'target_node_neg': tneg}
            for s, e in (('valid', valid), ('test', test))
        }
        train_split = {'source_node': train[:, 0], 'target_node': train[:, 1]}
    else:
        split = {
            'valid': {'edge': valid, 'edge_neg': neg[:5]},
            'test': {'edge': test, 'edge_neg': neg[5:]},
        }
        train_split = {'edge': train}
        if collab:
            train_split.update(weight=out['weight'], year=out['year'])
    if train_pt:
        split['train'] = train_split
    d = write_ogbl_dataset(root, name, num_nodes, split, x=x, split_type=split_type, edges=train, edge_attrs=edge_attrs)
    return str(d), out


def make_ogbn_arxiv(root, num_nodes=10, seed=0):
    rng = np.random.default_rng(seed)
    d = osp.join(str(root), 'ogbn_arxiv')
    edges = rng.integers(0, num_nodes, (25, 2))
    write_csv_gz(osp.join(d, 'raw', 'edge.csv.gz'), edges)
    write_csv_gz(osp.join(d, 'raw', 'num-node-list.csv.gz'), [num_nodes])
    write_csv_gz(osp.join(d, 'raw', 'num-edge-list.csv.gz'), [len(edges)])
    x = rng.standard_normal((num_nodes, 4)).round(3)
    write_csv_gz(osp.join(d, 'raw', 'node-feat.csv.gz'), x)
    y = rng.integers(0, 3, num_nodes)
    write_csv_gz(osp.join(d, 'raw', 'node-label.csv.gz'), y)
    write_csv_gz(osp.join(d, 'raw', 'node_year.csv.gz'), rng.integers(2000, 2020, num_nodes))
    perm = rng.permutation(num_nodes)
    idx = {'train': perm[:6], 'valid': perm[6:8], 'test': perm[8:]}
    for s, v in idx.items():
        write_csv_gz(osp.join(d, 'split', 'time', f'{s}.csv.gz'), v)
    return d, {'edges': edges, 'x': x, 'y': y, 'idx': idx}


def make_ogbn_mag(root, seed=0):
    rng = np.random.default_rng(seed)
    d = osp.join(str(root), 'ogbn_mag')
    num = {'author': 5, 'field_of_study': 3, 'institution': 2, 'paper': 8}
    write_csv_gz(osp.join(d, 'raw', 'num-node-dict.csv.gz'), [[num[k] for k in num]], header=','.join(num))
    rels = {
        ('author', 'affiliated_with', 'institution'),
        ('author', 'writes', 'paper'),
        ('paper', 'cites', 'paper'),
        ('paper', 'has_topic', 'field_of_study'),
    }
    written = {}
    for s, r, t in sorted(rels):
        e = np.stack([rng.integers(0, num[s], 7), rng.integers(0, num[t], 7)], 1)
        rd = osp.join(d, 'raw', 'relations', f'{s}___{r}___{t}')
        write_csv_gz(osp.join(rd, 'edge.csv.gz'), e)
        write_csv_gz(osp.join(rd, 'num-edge-list.csv.gz'), [len(e)])
        written[(s, r, t)] = e
    x = rng.standard_normal((num['paper'], 4)).round(3)
    write_csv_gz(osp.join(d, 'raw', 'node-feat', 'paper', 'node-feat.csv.gz'), x)
    y = rng.integers(0, 5, num['paper'])
    write_csv_gz(osp.join(d, 'raw', 'node-label', 'paper', 'node-label.csv.gz'), y)
    write_csv_gz(osp.join(d, 'raw', 'node_year', 'paper', 'node_year.csv.gz'), rng.integers(2010, 2020, 8))
    idx = {'train': np.arange(5), 'valid': np.array([5, 6]), 'test': np.array([7])}
    for s, v in idx.items():
        write_csv_gz(osp.join(d, 'split', 'time', 'paper', f'{s}.csv.gz'), v)
    return d, {'num': num, 'edges': written, 'x': x, 'y': y, 'idx': idx}


def link_cora(dst) -> str:
    """Symlink the repo's Cora raw files into ``dst`` (a folder); returns it."""
    os.makedirs(dst, exist_ok=True)
    for f in os.listdir(CORA_RAW):
        os.symlink(CORA_RAW / f, osp.join(dst, f))
    return str(dst)


class Evil:
    """Unpickling this would call ``_pwned``; safe loaders must refuse it."""

    def __reduce__(self):
        return (_pwned, ('x',))


PWNED = []


def _pwned(arg):
    PWNED.append(arg)
    return arg


@pytest.fixture
def cora_root(tmp_path):
    link_cora(tmp_path / 'cora' / 'raw')
    return str(tmp_path)


def read_only(path) -> None:
    os.chmod(path, 0o555)


def cleanup_mode(path) -> None:
    for dirpath, dirnames, _ in os.walk(path):
        os.chmod(dirpath, 0o755)
