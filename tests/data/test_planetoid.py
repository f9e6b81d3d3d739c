import os
import os.path as osp
import pickle
import shutil

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from graphkit.data import PlanetoidRaw

from .conftest import CORA_RAW, PWNED, Evil, cleanup_mode, link_cora, read_only


def test_cora(cora_root):
    ds = PlanetoidRaw(cora_root, 'Cora')
    assert str(ds) == 'Cora()' and len(ds) == 1 and not ds.cache_used
    data = ds[0]
    assert data.num_nodes == 2708 and data.x.shape == (2708, 1433)
    assert data.edge_index.shape == (2, 10556)
    assert int(data.y.max()) + 1 == 7 == ds.num_classes
    assert (int(data.train_mask.sum()), int(data.val_mask.sum()), int(data.test_mask.sum())) == (
        140,
        500,
        1000,
    )
    ei = data.edge_index
    assert not bool((ei[0] == ei[1]).any())
    fwd = set(map(tuple, ei.t().tolist()))
    assert fwd == {(j, i) for i, j in fwd}
    assert int((ei[0] < ei[1]).sum()) == 5278
    assert osp.isfile(osp.join(cora_root, 'cora', 'processed', 'planetoid_cora.pt'))

    again = PlanetoidRaw(cora_root, 'cora')
    assert again.cache_used
    for key in ('x', 'edge_index', 'y', 'train_mask', 'val_mask', 'test_mask'):
        assert torch.equal(again[0][key], data[key])


@pytest.mark.parametrize('layout', ['cora/raw', 'Cora/raw', 'planetoid/raw', 'raw', '.'])
def test_layouts(tmp_path, layout):
    link_cora(tmp_path / layout)
    ds = PlanetoidRaw(str(tmp_path), 'cora')
    assert ds[0].num_nodes == 2708
    assert osp.normpath(ds.raw_dir) == osp.normpath(str(tmp_path / layout))


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        PlanetoidRaw(str(tmp_path), 'citeseer')
    msg = str(e.value)
    for key in ('x', 'tx', 'allx', 'y', 'ty', 'ally', 'graph', 'test.index'):
        assert f'ind.citeseer.{key}' in msg
    assert 'Looked in' in msg and osp.join(str(tmp_path), 'citeseer', 'raw') in msg
    # a partial folder names only what is missing there
    link_cora(tmp_path / 'cora' / 'raw')
    os.unlink(tmp_path / 'cora' / 'raw' / 'ind.cora.tx')
    with pytest.raises(FileNotFoundError, match='ind.cora.tx') as e:
        PlanetoidRaw(str(tmp_path), 'cora')
    assert 'ind.cora.allx' not in str(e.value).split('Looked in')[0]
    assert not osp.exists(tmp_path / 'cora' / 'processed')


def test_bad_name(tmp_path):
    with pytest.raises(ValueError, match="'name'"):
        PlanetoidRaw(str(tmp_path), 'karate')


def test_cache_errors(cora_root):
    PlanetoidRaw(cora_root, 'cora')
    cache = osp.join(cora_root, 'cora', 'processed', 'planetoid_cora.pt')
    with open(cache, 'wb') as f:
        f.write(b'garbage')
    with pytest.raises(ValueError, match='--force-reload') as e:
        PlanetoidRaw(cora_root, 'cora')
    assert cache in str(e.value)
    torch.save({'format': 'graphkit-dataset-cache-v1', 'data': Evil()}, cache)
    PWNED.clear()
    with pytest.raises(ValueError, match='not executed.*--force-reload'):
        PlanetoidRaw(cora_root, 'cora')
    assert PWNED == []
    torch.save({'a': torch.ones(1)}, cache)
    with pytest.raises(ValueError, match='not a graphkit cache'):
        PlanetoidRaw(cora_root, 'cora')
    ds = PlanetoidRaw(cora_root, 'cora', force_reload=True)
    assert not ds.cache_used and ds[0].num_nodes == 2708
    assert PlanetoidRaw(cora_root, 'cora').cache_used


def test_pre_transform_mismatch(cora_root):
    PlanetoidRaw(cora_root, 'cora')

    def pre(d):
        d.flag = torch.ones(1)
        return d

    ds = PlanetoidRaw(cora_root, 'cora', pre_transform=pre)  # stale cache: rebuilt, not an error
    assert not ds.cache_used and 'flag' in ds[0]
    again = PlanetoidRaw(cora_root, 'cora', pre_transform=pre)
    assert again.cache_used and 'flag' in again[0]


def test_read_only_root(tmp_path):
    d = tmp_path / 'cora'
    shutil.copytree(CORA_RAW, d / 'raw')
    read_only(d)
    try:
        ds = PlanetoidRaw(str(tmp_path), 'cora')
        assert ds[0].num_nodes == 2708 and not ds.cache_used
        assert not osp.exists(d / 'processed')
    finally:
        cleanup_mode(d)


def test_refuses_malicious_pickle(tmp_path):
    d = tmp_path / 'cora' / 'raw'
    shutil.copytree(CORA_RAW, d)
    (d / 'ind.cora.graph').write_bytes(pickle.dumps(Evil(), protocol=2))
    PWNED.clear()
    with pytest.raises(ValueError, match='ind.cora.graph.*not executed'):
        PlanetoidRaw(str(tmp_path), 'cora')
    assert PWNED == []


def _dump(path, obj):
    with open(path, 'wb') as f:
        pickle.dump(obj, f, protocol=2)


def test_isolated_test_nodes(tmp_path):
    # CiteSeer-style: test ids 6..9 with node 8 unlisted (isolated) -> zero features, 10 nodes.
    d = tmp_path / 'citeseer' / 'raw'
    d.mkdir(parents=True)
    allx = sp.csr_matrix(np.arange(12, dtype=np.float32).reshape(6, 2))
    tx = sp.csr_matrix(np.array([[100, 1], [200, 2], [300, 3]], dtype=np.float32))
    ally = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    ty = np.eye(3)[[2, 1, 0]]
    import collections

    graph = collections.defaultdict(list, {0: [1, 9], 1: [0], 2: [2], 9: [0], 7: [6]})
    for key, obj in (
        ('x', allx[:2]),
        ('allx', allx),
        ('tx', tx),
        ('y', ally[:2]),
        ('ally', ally),
        ('ty', ty),
        ('graph', graph),
    ):
        _dump(d / f'ind.citeseer.{key}', obj)
    (d / 'ind.citeseer.test.index').write_text('9\n6\n7\n')
    data = PlanetoidRaw(str(tmp_path), 'citeseer')[0]
    assert data.num_nodes == 10
    assert data.x[9].tolist() == [100, 1] and data.x[6].tolist() == [200, 2] and data.x[7].tolist() == [300, 3]
    assert data.x[8].tolist() == [0, 0]
    assert data.y[9] == 2 and data.y[6] == 1 and data.y[7] == 0
    assert sorted(map(tuple, data.edge_index.t().tolist())) == [
        (0, 1),
        (0, 9),
        (1, 0),
        (6, 7),
        (7, 6),
        (9, 0),
    ]
    assert data.test_mask.nonzero().view(-1).tolist() == [6, 7, 9]
    assert data.train_mask.nonzero().view(-1).tolist() == [0, 1]
