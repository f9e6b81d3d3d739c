import os.path as osp
import time
from pathlib import Path

import pytest
import torch

import graphkit
from graphkit.data import (
    DATASETS,
    choose_kind,
    dataset_info,
    default_root,
    load_dataset,
    load_link_dataset,
    load_node_dataset,
    resolve_root,
)

from .conftest import SHARED_DATA, link_cora, make_ogbl


def test_registry_names():
    assert DATASETS.names('link') == [
        'citeseer',
        'cora',
        'ogbl-citation2',
        'ogbl-collab',
        'ogbl-ddi',
        'ogbl-ppa',
        'pubmed',
    ]
    assert DATASETS.names('node') == ['citeseer', 'cora', 'ogbn-arxiv', 'ogbn-products', 'pubmed']
    assert DATASETS.names('hetero-node') == ['hgb-acm', 'hgb-dblp', 'hgb-freebase', 'hgb-imdb', 'ogbn-mag']
    assert 'ml-1m' in DATASETS.names('recommend') and 'cora' not in DATASETS.names('recommend')
    assert DATASETS.get('cora').kinds == ('link', 'node')
    assert DATASETS.entry('ogbl-anything').kinds == ('link',)  # a family: any ogbl-* folder
    assert DATASETS.entry('ogbn-anything').kinds == ('node', 'hetero-node')
    with pytest.raises(ValueError, match='link datasets: citeseer, cora'):
        load_link_dataset('karate', root='.')


def test_kind_mismatch_names_the_kinds():
    assert choose_kind('cora', ('link',)) == 'link'
    assert choose_kind('cora', ('node', 'hetero-node')) == 'node'
    assert choose_kind('my-folder', ('recommend',)) == 'recommend'  # any LightGCN-format folder
    with pytest.raises(
        ValueError,
        match=r"model ncn needs a link dataset, but 'ml-1m' serves recommend; "
        r'link datasets: citeseer, cora',
    ):
        choose_kind('ml-1m', ('link',), 'model ncn')
    with pytest.raises(ValueError, match="'ogbn-mag' serves hetero-node; node datasets"):
        choose_kind('ogbn-mag', ('node',))
    with pytest.raises(ValueError, match="'kind' must be one of"):
        load_dataset('cora', 'nodes')


def test_cora_node_view_is_the_public_split(cora_root):
    ds = load_node_dataset('cora', root=cora_root)
    assert (ds.num_classes, ds.metric, ds.target, ds.multi_label) == (7, 'acc', None, False)
    assert [ds.split[s].numel() for s in ('train', 'valid', 'test')] == [140, 500, 1000]
    assert torch.equal(ds.split['train'], torch.arange(140))
    assert ds.y.shape == (2708,) and not ds.is_hetero
    assert repr(ds) == 'NodeDataset(cora, num_classes=7, train=140, valid=500, test=1000)'


def test_resolve_root(monkeypatch, tmp_path):
    assert default_root() == str(Path(graphkit.__file__).resolve().parents[1] / 'datasets')
    monkeypatch.delenv('GRAPHKIT_DATA', raising=False)
    assert resolve_root() == default_root()
    monkeypatch.setenv('GRAPHKIT_DATA', str(tmp_path))
    assert resolve_root() == str(tmp_path)
    assert resolve_root('/x') == '/x'


def test_load_cora(cora_root):
    ds = load_link_dataset('Cora', root=cora_root, seed=0)
    assert ds.name == 'cora' and ds.metric == 'hits@100' and ds.eval_name == 'ogbl-ppa'
    assert ds.data.edge_index.shape == (2, 10556)  # the full graph, as loaded
    assert ds.split_edge['train']['edge'].shape == (3696, 2)
    assert repr(ds) == "LinkDataset(cora, num_nodes=2708, metric='hits@100')"
    assert ds.seeded_split  # the Planetoid link split is drawn per seed (OGB splits are fixed)
    other = load_link_dataset('cora', root=cora_root, seed=1)
    assert not torch.equal(other.split_edge['test']['edge'], ds.split_edge['test']['edge'])


def test_env_var(monkeypatch, tmp_path):
    link_cora(tmp_path / 'planetoid' / 'raw')
    monkeypatch.setenv('GRAPHKIT_DATA', str(tmp_path))
    assert load_link_dataset('cora').data.num_nodes == 2708


@pytest.mark.parametrize(
    'name,metric',
    [
        ('ogbl-ddi', 'hits@20'),
        ('ogbl-collab', 'hits@50'),
        ('ogbl-ppa', 'hits@100'),
        ('ogbl-citation2', 'mrr'),
    ],
)
def test_load_ogbl(tmp_path, name, metric):
    make_ogbl(tmp_path, name, split_type='x', citation=name == 'ogbl-citation2')
    ds = load_link_dataset(name, root=str(tmp_path))
    assert ds.metric == metric and ds.eval_name == name
    assert ds.data.num_nodes == 12 and set(ds.split_edge) == {'train', 'valid', 'test'}
    assert not ds.seeded_split


def test_unknown_ogbl_name_infers_the_metric(tmp_path):
    make_ogbl(tmp_path, 'ogbl-tiny')
    ds = load_link_dataset('ogbl-tiny', root=str(tmp_path))
    assert (ds.metric, ds.eval_name) == ('hits@50', 'ogbl-collab')


def test_dataset_info(tmp_path):
    link_cora(tmp_path / 'cora' / 'raw')
    make_ogbl(tmp_path, 'ogbl-ddi')
    rows = dataset_info(str(tmp_path))
    assert {(d['kind'], d['name']) for d in rows} == {
        (k, n) for k in ('link', 'recommend', 'node', 'hetero-node', 'graph') for n in DATASETS.names(k)
    }
    assert {d['name'] for d in rows if d['kind'] == 'node' and d['found']} == {'cora'}
    info = {d['name']: d for d in rows if d['kind'] == 'link'}
    assert info['cora']['found'] and info['ogbl-ddi']['found']
    assert not info['pubmed']['found'] and info['pubmed']['path'] is None
    assert info['ogbl-ddi']['path'] == osp.join(str(tmp_path), 'ogbl_ddi')
    assert info['ogbl-ddi']['metric'] == 'hits@20'
    assert osp.join(str(tmp_path), 'pubmed', 'raw') in info['pubmed']['looks_in']


@pytest.mark.dataset
@pytest.mark.skipif(not (SHARED_DATA / 'ogbl_ddi').is_dir(), reason='../shared/data/ogbl_ddi not present')
def test_real_ogbl_ddi(tmp_path):
    t0 = time.perf_counter()
    ds = load_link_dataset('ogbl-ddi', root=str(SHARED_DATA))
    first = time.perf_counter() - t0
    assert ds.data.num_nodes == 4267 and ds.metric == 'hits@20'
    s = ds.split_edge
    assert s['train']['edge'].shape == (1067911, 2)
    assert s['valid']['edge'].shape == (133489, 2) and s['valid']['edge_neg'].shape == (101882, 2)
    assert s['test']['edge'].shape == (133489, 2) and s['test']['edge_neg'].shape == (95599, 2)
    assert ds.data.edge_index.shape == (2, 2 * 1067911)
    # cached load: same files through a writable folder of symlinks
    (tmp_path / 'ogbl_ddi').mkdir()
    for sub in ('raw', 'split'):
        (tmp_path / 'ogbl_ddi' / sub).symlink_to(SHARED_DATA / 'ogbl_ddi' / sub)
    load_link_dataset('ogbl-ddi', root=str(tmp_path))
    t0 = time.perf_counter()
    cached = load_link_dataset('ogbl-ddi', root=str(tmp_path))
    second = time.perf_counter() - t0
    assert torch.equal(cached.split_edge['test']['edge_neg'], s['test']['edge_neg'])
    print(f'\nogbl-ddi: first load (no cache, read-only root) {first:.2f}s; cached load {second:.2f}s')


def test_datasets_command_groups_every_kind(tmp_path, capsys):
    from graphkit.cli import main

    link_cora(tmp_path / 'cora' / 'raw')
    assert main(['datasets', '--root', str(tmp_path)]) == 0
    out = capsys.readouterr().out
    headers = [line.split(' (')[0] for line in out.splitlines() if line.endswith(')') and 'datasets (' in line]
    assert headers == ['link datasets', 'recommend datasets', 'node datasets', 'hetero-node datasets', 'graph datasets']
    cora = [line for line in out.splitlines() if line.strip().startswith('cora ')]
    assert len(cora) == 2 and all('yes' in line for line in cora)  # found as a link and as a node dataset
    assert f'looked in {tmp_path / "ogbn_arxiv"}' in out


def test_ogbn_mag_is_ready_for_heterogeneous_models(tmp_path):
    from tests.data.conftest import make_ogbn_mag

    _, w = make_ogbn_mag(tmp_path)
    ds = load_dataset('ogbn-mag', 'hetero-node', str(tmp_path), seed=4)
    data = ds.data
    assert ds.target == 'paper' and ds.num_classes == int(w['y'].max()) + 1 and not ds.seeded_split
    assert {k: int(v.numel()) for k, v in ds.split.items()} == {k: len(v) for k, v in w['idx'].items()}
    # one direction per relation on disk: every bipartite relation gets its reverse, paper-cites-paper is symmetric
    for (s, r, t), e in w['edges'].items():
        if s == t:
            got = {tuple(p) for p in data[s, r, t].edge_index.t().tolist()}
            assert got == {(a, b) for a, b in e.tolist()} | {(b, a) for a, b in e.tolist()}
        else:
            fwd = data[s, r, t].edge_index
            assert torch.equal(data[t, f'rev_{r}', s].edge_index, fwd.flip(0))
    assert torch.allclose(data['paper'].x, torch.tensor(w['x'], dtype=torch.float))
    # featureless types: seeded N(0, 1/512) features, the same for the same seed
    assert ds.info['random_features'] == {'author': 512, 'field_of_study': 512, 'institution': 512}
    assert data['author'].x.shape == (w['num']['author'], 512)
    again = load_dataset('ogbn-mag', 'hetero-node', str(tmp_path), seed=4).data
    other = load_dataset('ogbn-mag', 'hetero-node', str(tmp_path), seed=5).data
    assert torch.equal(again['author'].x, data['author'].x) and not torch.equal(other['author'].x, data['author'].x)
    narrow = load_dataset('ogbn-mag', 'hetero-node', str(tmp_path), feature_dim=16).data
    assert narrow['institution'].x.shape == (w['num']['institution'], 16)
    with pytest.raises(ValueError, match="'feature_dim'"):
        load_dataset('ogbn-mag', 'hetero-node', str(tmp_path), feature_dim=0)
