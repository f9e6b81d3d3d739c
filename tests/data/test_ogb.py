import os
import os.path as osp

import numpy as np
import pytest
import torch
from torch_geometric.data import HeteroData

from graphkit.data import OGBLinkDataset, OGBNodeDataset
from graphkit.testing import write_csv_gz, write_split

from .conftest import PWNED, Evil, cleanup_mode, make_ogbl, make_ogbn_arxiv, make_ogbn_mag, read_only


def t(a):
    return torch.as_tensor(np.asarray(a), dtype=torch.long)


@pytest.mark.parametrize('train_pt', [True, False])
def test_link_dataset(tmp_path, train_pt):
    d, w = make_ogbl(tmp_path, 'ogbl-ddi', train_pt=train_pt)
    ds = OGBLinkDataset(str(tmp_path), 'ogbl-ddi')
    assert str(ds) == 'ogbl-ddi()' and ds.split_type == 'target' and not ds.cache_used
    data = ds[0]
    assert data.num_nodes == 12 and data.x is None
    assert data.edge_index.shape == (2, 40)  # both directions
    assert torch.equal(data.edge_index[:, :20], t(w['train']).t())
    assert torch.equal(data.edge_index[:, 20:], t(w['train']).t().flip(0))
    split = ds.get_edge_split()
    assert torch.equal(split['train']['edge'], t(w['train']))
    assert torch.equal(split['valid']['edge'], t(w['valid']))
    assert torch.equal(split['valid']['edge_neg'], t(w['neg'][:5]))
    assert torch.equal(split['test']['edge_neg'], t(w['neg'][5:]))
    assert split['test']['edge'].dtype == torch.long

    again = OGBLinkDataset(str(tmp_path), 'ogbl-ddi')
    assert again.cache_used
    assert torch.equal(again[0].edge_index, data.edge_index)
    assert torch.equal(again.get_edge_split()['valid']['edge'], split['valid']['edge'])


def test_root_is_dataset_dir(tmp_path):
    d, _ = make_ogbl(tmp_path, 'ogbl-ddi')
    ds = OGBLinkDataset(d, 'ogbl-ddi')
    assert ds[0].num_nodes == 12 and osp.normpath(ds.dataset_dir) == osp.normpath(d)


def test_collab_extras_and_missing_train(tmp_path):
    make_ogbl(tmp_path, 'ogbl-collab', split_type='time', collab=True, feats=True, train_pt=False)
    ds = OGBLinkDataset(str(tmp_path), 'ogbl-collab')
    data = ds[0]
    _, w = make_ogbl(tmp_path / 'again', 'ogbl-collab', split_type='time', collab=True, feats=True)
    assert ds.split_type == 'time'
    assert data.x.shape == (12, 3) and data.x.dtype == torch.float
    assert torch.allclose(data.x, torch.as_tensor(w['x'], dtype=torch.float))
    assert data.edge_weight.shape == (40,) and data.edge_year.shape == (40,)
    train = ds.get_edge_split()['train']
    assert torch.equal(train['edge'], t(w['train']))
    assert torch.equal(train['weight'], torch.as_tensor(w['weight'], dtype=torch.float))
    assert torch.equal(train['year'], t(w['year']))


@pytest.mark.parametrize('train_pt', [True, False])
def test_citation2(tmp_path, train_pt):
    _, w = make_ogbl(tmp_path, 'ogbl-citation2', split_type='time', citation=True, train_pt=train_pt)
    ds = OGBLinkDataset(str(tmp_path), 'ogbl-citation2')
    assert ds[0].edge_index.shape == (2, 20)  # directed
    split = ds.get_edge_split()
    assert set(split['valid']) == {'source_node', 'target_node', 'target_node_neg'}
    assert split['test']['target_node_neg'].shape == (5, 4)
    assert torch.equal(split['train']['source_node'], t(w['train'][:, 0]))
    assert torch.equal(split['train']['target_node'], t(w['train'][:, 1]))


def test_unknown_ogbl_name_any_split_type(tmp_path):
    make_ogbl(tmp_path, 'ogbl-tiny', split_type='whatever')
    ds = OGBLinkDataset(str(tmp_path), 'ogbl-tiny')
    assert ds.split_type == 'whatever' and ds[0].edge_index.shape == (2, 40)
    assert OGBLinkDataset(str(tmp_path), 'ogbl-tiny', add_inverse_edge=False)[0].edge_index.shape == (2, 20)


def test_bad_name(tmp_path):
    with pytest.raises(ValueError, match="'ogbl-\\*'"):
        OGBLinkDataset(str(tmp_path), 'ogbn-arxiv')
    with pytest.raises(ValueError, match="'ogbn-\\*'"):
        OGBNodeDataset(str(tmp_path), 'ogbl-ddi')


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        OGBLinkDataset(str(tmp_path), 'ogbl-ddi')
    msg = str(e.value)
    for f in (
        'raw/edge.csv.gz',
        'raw/num-node-list.csv.gz',
        'split/target/valid.pt',
        'split/target/test.pt',
    ):
        assert osp.join(str(tmp_path), 'ogbl_ddi', f) in msg
    assert 'Expected layout' in msg and 'Looked in' in msg
    d, _ = make_ogbl(tmp_path, 'ogbl-ddi')
    os.unlink(osp.join(d, 'split', 'target', 'valid.pt'))
    with pytest.raises(FileNotFoundError, match='valid.pt') as e:
        OGBLinkDataset(str(tmp_path), 'ogbl-ddi')
    assert 'test.pt' not in str(e.value).split('Looked in')[0]


def test_malformed_csv(tmp_path):
    d, _ = make_ogbl(tmp_path, 'ogbl-ddi')
    write_csv_gz(osp.join(d, 'raw', 'edge.csv.gz'), [[0, 1], [1, 'a'], [2, 3]])
    with pytest.raises(ValueError, match=r'edge\.csv\.gz.*line 2'):
        OGBLinkDataset(str(tmp_path), 'ogbl-ddi')
    write_csv_gz(osp.join(d, 'raw', 'edge.csv.gz'), [[0, 1, 5], [1, 2, 3]])
    with pytest.raises(ValueError, match=r'edge\.csv\.gz.*line 1: expected 2 columns'):
        OGBLinkDataset(str(tmp_path), 'ogbl-ddi')


def test_out_of_range(tmp_path):
    d, w = make_ogbl(tmp_path, 'ogbl-ddi')
    bad = w['train'].copy()
    bad[3, 1] = 12
    write_csv_gz(osp.join(d, 'raw', 'edge.csv.gz'), bad)
    with pytest.raises(ValueError, match=r'edge\.csv\.gz.*outside'):
        OGBLinkDataset(str(tmp_path), 'ogbl-ddi')
    write_csv_gz(osp.join(d, 'raw', 'edge.csv.gz'), w['train'])
    write_split(osp.join(d, 'split', 'target', 'test.pt'), {'edge': w['test'], 'edge_neg': w['neg'] + 5})
    with pytest.raises(ValueError, match=r"test\.pt.*'edge_neg'.*outside \[0, 12\)"):
        OGBLinkDataset(str(tmp_path), 'ogbl-ddi')


def test_edge_count_mismatch(tmp_path):
    d, _ = make_ogbl(tmp_path, 'ogbl-ddi')
    write_csv_gz(osp.join(d, 'raw', 'num-edge-list.csv.gz'), [21])
    with pytest.raises(ValueError, match='num-edge-list'):
        OGBLinkDataset(str(tmp_path), 'ogbl-ddi')


def test_nan_features(tmp_path):
    d, _ = make_ogbl(tmp_path, 'ogbl-ddi', feats=True)
    x = np.ones((12, 3))
    x[4, 1] = np.nan
    write_csv_gz(osp.join(d, 'raw', 'node-feat.csv.gz'), x)
    with pytest.raises(ValueError, match="'x' holds NaN"):
        OGBLinkDataset(str(tmp_path), 'ogbl-ddi')


def test_refuses_malicious_split(tmp_path):
    d, w = make_ogbl(tmp_path, 'ogbl-ddi')
    path = osp.join(d, 'split', 'target', 'valid.pt')
    write_split(path, {'edge': w['valid'], 'edge_neg': Evil()})
    PWNED.clear()
    with pytest.raises(ValueError, match='valid.pt.*not executed'):
        OGBLinkDataset(str(tmp_path), 'ogbl-ddi')
    assert PWNED == []


def test_read_only(tmp_path):
    d, _ = make_ogbl(tmp_path, 'ogbl-ddi')
    read_only(d)
    try:
        ds = OGBLinkDataset(str(tmp_path), 'ogbl-ddi')
        assert ds[0].num_nodes == 12 and not ds.cache_used
        assert not osp.exists(osp.join(d, 'processed'))
    finally:
        cleanup_mode(d)


def test_ogbn_arxiv(tmp_path):
    _, w = make_ogbn_arxiv(tmp_path)
    ds = OGBNodeDataset(str(tmp_path), 'ogbn-arxiv')
    data = ds[0]
    assert data.num_nodes == 10 and data.edge_index.shape == (2, 25)  # directed
    assert torch.allclose(data.x, torch.as_tensor(w['x'], dtype=torch.float))
    assert data.y.shape == (10, 1) and torch.equal(data.y.view(-1), t(w['y']))
    assert data.node_year.shape == (10,)
    idx = ds.get_idx_split()
    for s in ('train', 'valid', 'test'):
        assert torch.equal(idx[s], t(w['idx'][s]))
    assert ds.num_classes == int(w['y'].max()) + 1
    assert OGBNodeDataset(str(tmp_path), 'ogbn-arxiv').cache_used


def test_ogbn_mag(tmp_path):
    _, w = make_ogbn_mag(tmp_path)
    for cached in (False, True):
        ds = OGBNodeDataset(str(tmp_path), 'ogbn-mag')
        assert ds.cache_used == cached
        data = ds[0]
        assert isinstance(data, HeteroData)
        assert {k: data[k].num_nodes for k in w['num']} == w['num']
        assert set(data.edge_types) == set(w['edges'])
        for et, e in w['edges'].items():
            assert torch.equal(data[et].edge_index, t(e).t())
        assert torch.allclose(data['paper'].x, torch.as_tensor(w['x'], dtype=torch.float))
        assert torch.equal(data['paper'].y, t(w['y']))
        assert data['paper'].year.shape == (8,)
        idx = ds.get_idx_split()
        assert torch.equal(idx['valid']['paper'], t(w['idx']['valid']))


def test_ogbn_mag_bad_relation(tmp_path):
    d, _ = make_ogbn_mag(tmp_path)
    write_csv_gz(osp.join(d, 'raw', 'relations', 'author___writes___paper', 'edge.csv.gz'), [[0, 8]])
    with pytest.raises(ValueError, match='author___writes___paper.*outside'):
        OGBNodeDataset(str(tmp_path), 'ogbn-mag')


def test_ogbn_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match='ogbn_arxiv'):
        OGBNodeDataset(str(tmp_path), 'ogbn-arxiv')
