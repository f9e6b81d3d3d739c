"""Dataset caches are keyed by their source files: a replaced or edited raw / split file is noticed and the cache
rebuilt; ``graphkit train --force-reload`` and ``graphkit datasets --clear-cache`` delete them."""

import os
import os.path as osp

import numpy as np
import torch

from graphkit.cli import main
from graphkit.data import OGBLinkDataset, clear_dataset_cache
from graphkit.data.io import clear_caches, file_signature, load_legacy_split
from graphkit.testing import write_csv_gz

from .conftest import make_ogbl


def _edges(ds):
    return {tuple(e) for e in ds[0].edge_index.t().tolist()}


def test_a_replaced_raw_file_rebuilds_the_cache(tmp_path, capfd):
    d, w = make_ogbl(tmp_path)
    first = OGBLinkDataset(str(tmp_path), 'ogbl-tiny')
    assert not first.cache_used and _edges(first) >= {tuple(e) for e in w['train'].tolist()}
    assert OGBLinkDataset(str(tmp_path), 'ogbl-tiny').cache_used  # unchanged files: the cache is used
    # the same number of edges, other endpoints: same size, new content
    moved = w['train'].copy()
    moved[0] = [w['train'][0, 0], (w['train'][0, 1] + 1) % 12 or 1]
    write_csv_gz(osp.join(d, 'raw', 'edge.csv.gz'), moved)
    capfd.readouterr()
    again = OGBLinkDataset(str(tmp_path), 'ogbl-tiny')
    assert not again.cache_used and 'raw/edge.csv.gz' in capfd.readouterr().err
    assert tuple(moved[0]) in _edges(again)
    assert OGBLinkDataset(str(tmp_path), 'ogbl-tiny').cache_used


def test_an_edited_split_file_rebuilds_the_cache(tmp_path):
    d, w = make_ogbl(tmp_path)
    OGBLinkDataset(str(tmp_path), 'ogbl-tiny')
    split_dir = osp.join(d, 'split', 'target')
    path = osp.join(split_dir, 'valid.pt')
    valid = load_legacy_split(path)  # numpy arrays inside, as OGB writes them
    valid['edge'] = valid['edge'][:2]
    torch.save(valid, path)
    ds = OGBLinkDataset(str(tmp_path), 'ogbl-tiny')
    assert not ds.cache_used and ds.get_edge_split()['valid']['edge'].size(0) == 2


def test_file_signature_sees_content_size_and_time(tmp_path):
    path = tmp_path / 'f.bin'
    path.write_bytes(b'a' * 1000)
    sig = file_signature(str(path))
    path.write_bytes(b'b' * 1000)
    os.utime(path, ns=(sig[2], sig[2]))  # same size, same mtime: the content hash still differs
    assert file_signature(str(path)) != sig
    big = tmp_path / 'big.bin'
    data = np.random.default_rng(0).bytes(300_000)
    big.write_bytes(data)
    before = file_signature(str(big))
    big.write_bytes(data[:-1] + b'x')  # the last byte: in the hashed tail
    os.utime(big, ns=(before[2], before[2]))
    assert file_signature(str(big)) != before


def test_clear_caches_and_force_reload(tmp_path, capsys):
    make_ogbl(tmp_path)
    processed = tmp_path / 'ogbl_tiny' / 'processed'
    OGBLinkDataset(str(tmp_path), 'ogbl-tiny')
    caches = sorted(str(p) for p in processed.iterdir())
    assert caches and all(osp.basename(p).startswith('graphkit_') for p in caches)
    (tmp_path / 'ogbl_tiny' / 'raw' / 'notes.pt').write_bytes(b'keep me')  # not a cache: never touched
    assert clear_dataset_cache('ogbl-tiny', str(tmp_path)) == caches
    assert not any(processed.iterdir()) and (tmp_path / 'ogbl_tiny' / 'raw' / 'notes.pt').exists()
    out = tmp_path / 'run'
    argv = ['train', 'cn', '--dataset', 'ogbl-tiny', '--root', str(tmp_path), '--out', str(out), '--quiet']
    assert main(argv) == 0
    written = sorted(str(p) for p in processed.iterdir())
    assert written
    assert main(argv[:-3] + ['--out', str(tmp_path / 'run2'), '--quiet', '--force-reload']) == 0
    err = capsys.readouterr().err
    assert all(f'Removed the cache {p}' in err for p in written)
    assert sorted(str(p) for p in processed.iterdir()) == written  # written again by the load
    assert main(['datasets', '--root', str(tmp_path), '--clear-cache']) == 0
    shown = capsys.readouterr().out
    assert all(f'removed {p}' in shown for p in written) and not any(processed.iterdir())
    assert clear_caches(str(tmp_path)) == []
