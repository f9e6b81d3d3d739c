"""Datasets given by path (graphkit.data.custom): edges:, pyg:, interactions:, and their errors."""

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from graphkit.data import choose_kind, load_dataset
from graphkit.data.custom import IdMap, loader_kwargs, read_edge_list, read_pairs, split_spec
from tests.data.conftest import PWNED, Evil


def ring(n=30, prefix='n', extra=()):
    """A ring plus chords: 30 nodes with string ids, enough edges for the 70/10/20 split."""
    edges = [(f'{prefix}{i}', f'{prefix}{(i + 1) % n}') for i in range(n)]
    edges += [(f'{prefix}{i}', f'{prefix}{(i + 7) % n}') for i in range(0, n, 2)]
    return edges + list(extra)


def write(path, lines):
    path.write_text(''.join(line + '\n' for line in lines))
    return str(path)


def test_split_spec_keeps_the_path_case():
    assert split_spec('EDGES:/Data/My.csv') == ('edges', '/Data/My.csv')
    assert split_spec('cora') is None
    with pytest.raises(ValueError, match='empty'):
        split_spec('edges:')


def test_edge_list_string_ids_header_and_weights(tmp_path):
    path = write(tmp_path / 'g.csv', ['src,dst,weight', 'b,a,1.5', 'a,c,2', 'c,c,1'])
    ids, ei, w, info = read_edge_list(path)
    assert ids.ids == ['a', 'b', 'c']
    assert ei.tolist() == [[1, 0], [0, 2]]
    assert w.tolist() == [1.5, 2.0]
    assert info['self_loops_dropped'] == 1


@pytest.mark.parametrize('sep', ['\t', ' ', '  '])
def test_edge_list_tab_and_whitespace_integer_ids(tmp_path, sep):
    path = write(tmp_path / 'g.txt', ['# comment', f'10{sep}2', f'2{sep}7'])
    ids, ei, _, _ = read_edge_list(path)
    assert ids.ids == ['2', '7', '10'] and ids.integer  # numeric order
    assert ei.tolist() == [[2, 0], [0, 1]]


def test_only_the_first_line_may_be_a_header(tmp_path):
    ids, ei, _, _ = read_edge_list(write(tmp_path / 'g.txt', ['src dst', 'user item', 'item node']))
    assert ids.ids == ['item', 'node', 'user'] and ei.size(1) == 2


def test_load_edges_dataset_featureless_and_split(tmp_path):
    path = write(tmp_path / 'G.csv', [f'{a},{b}' for a, b in ring()])
    assert choose_kind(f'edges:{path}', ('link',)) == 'link'
    ds = load_dataset(f'EDGES:{path}', 'link', seed=1)
    assert ds.name == f'edges:{path}' and ds.data.num_nodes == 30 and ds.data.get('x') is None
    sizes = [ds.split_edge[s]['edge'].size(0) for s in ('train', 'valid', 'test')]
    assert sum(sizes) == 45 and sizes[2] == 9  # 20 % test (NCN)
    again = load_dataset(f'edges:{path}', 'link', seed=1)
    assert torch.equal(again.split_edge['test']['edge'], ds.split_edge['test']['edge'])
    assert ds.extra['source']['fingerprint'].startswith('blake2b:')


@pytest.mark.parametrize(
    'lines, match',
    [
        (['a,b', 'b,c,1', 'c,d'], r'line 2: 3 columns, expected 2 as on line 1 \(a ragged row\)'),
        ([], 'is empty'),
        (['# only a comment', 'src,dst'], 'is empty'),
        (['a,a', 'b,b'], 'only self-loops'),
        (['a,b,heavy'], "line 1: weight 'heavy' is not a number"),
        (['a,b,c,d'], 'line 1: 4 columns, expected 2 to 3'),
        (['a,,b'], 'line 1: an empty field'),
    ],
)
def test_edge_list_errors_name_file_and_line(tmp_path, lines, match):
    path = write(tmp_path / 'bad.csv', lines)
    with pytest.raises(ValueError, match=match) as e:
        read_edge_list(path)
    assert 'bad.csv' in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.csv'):
        load_dataset(f'edges:{tmp_path}/nope.csv', 'link')


def test_features_csv_and_npy(tmp_path):
    g = write(tmp_path / 'g.csv', [f'{a},{b}' for a, b in ring(prefix='')])
    feats = write(tmp_path / 'x.csv', [f'{i},{i},{-i}' for i in reversed(range(30))])
    ds = load_dataset(f'edges:{g}', 'link', features=feats)
    assert ds.data.x.shape == (30, 2) and ds.data.x[5].tolist() == [5.0, -5.0]
    np.save(tmp_path / 'x.npy', np.arange(60, dtype=np.float32).reshape(30, 2))
    ds = load_dataset(f'edges:{g}', 'link', features=str(tmp_path / 'x.npy'))
    assert ds.data.x[3].tolist() == [6.0, 7.0]


def test_features_whose_ids_do_not_match(tmp_path):
    g = write(tmp_path / 'g.csv', [f'{a},{b}' for a, b in ring()])
    unknown = write(tmp_path / 'x.csv', [f'n{i},1' for i in range(30)] + ['zz,1'])
    with pytest.raises(ValueError, match=r"x.csv' line 31: node id 'zz' is not in the graph"):
        load_dataset(f'edges:{g}', 'link', features=unknown)
    missing = write(tmp_path / 'y.csv', [f'n{i},1' for i in range(29)])
    with pytest.raises(ValueError, match=r"y.csv': 1 graph nodes have no feature row \(e.g. \['n29'\]\)"):
        load_dataset(f'edges:{g}', 'link', features=missing)
    np.save(tmp_path / 'x.npy', np.zeros((30, 2)))
    with pytest.raises(ValueError, match='integer node ids'):
        load_dataset(f'edges:{g}', 'link', features=str(tmp_path / 'x.npy'))
    gi = write(tmp_path / 'gi.csv', [f'{a},{b}' for a, b in ring(prefix='')])
    np.save(tmp_path / 'short.npy', np.zeros((10, 2)))
    with pytest.raises(ValueError, match='has 10 rows, but the graph has node id 29'):
        load_dataset(f'edges:{gi}', 'link', features=str(tmp_path / 'short.npy'))


def test_read_pairs_unknown_id(tmp_path):
    ids = IdMap(['a', 'b'])
    path = write(tmp_path / 'p.txt', ['src dst', 'a b', 'b q'])
    with pytest.raises(ValueError, match=r"p.txt' line 3: node id 'q' is not in the run's graph"):
        read_pairs(path, ids)


def test_pyg_data_round_trip(tmp_path):
    n = 30
    ei = torch.tensor([[i, (i + 1) % n] for i in range(n)] + [[i, (i + 5) % n] for i in range(n)]).t()
    torch.save(Data(edge_index=ei, x=torch.randn(n, 3), num_nodes=n), tmp_path / 'd.pt')
    ds = load_dataset(f'pyg:{tmp_path}/d.pt', 'link')
    assert ds.data.x.shape == (n, 3) and ds.split_edge['test']['edge'].size(0) == 12


def test_pyg_malicious_file_is_refused_without_running_code(tmp_path):
    PWNED.clear()
    torch.save({'edge_index': Evil()}, tmp_path / 'evil.pt')
    with pytest.raises(ValueError, match='Refused to load'):
        load_dataset(f'pyg:{tmp_path}/evil.pt', 'link')
    assert PWNED == []
    torch.save({'edge_index': torch.zeros(2, 1, dtype=torch.long)}, tmp_path / 'dict.pt')
    with pytest.raises(ValueError, match='not a torch_geometric.data.Data'):
        load_dataset(f'pyg:{tmp_path}/dict.pt', 'link')


def test_interactions_random_and_temporal_split(tmp_path):
    lines = ['user,item,timestamp'] + [f'u{u},i{(u + t) % 12},{t}' for u in range(10) for t in range(5)]
    path = write(tmp_path / 'r.csv', lines + ['u0,i0,99'])  # a duplicate pair is dropped
    ds = load_dataset(f'interactions:{path}', 'recommend', seed=0, test_ratio=0.2)
    assert (ds.num_users, ds.num_items) == (10, 12)
    assert ds.train.size(1) + ds.test.size(1) == 50 and ds.test.size(1) == 10
    ds = load_dataset(f'interactions:{path}', 'recommend', temporal_split=True)
    users = IdMap([f'u{u}' for u in range(10)])
    items = IdMap([f'i{i}' for i in range(12)])
    last = {(users.index[f'u{u}'], items.index[f'i{(u + 4) % 12}']) for u in range(10)}
    assert set(map(tuple, ds.test.t().tolist())) == last
    assert 'leave-last-out' in ds.extra['source']['split']


def test_interactions_errors(tmp_path):
    path = write(tmp_path / 'r.csv', [f'u{u},i{u}' for u in range(5)])
    with pytest.raises(ValueError, match='no user has two or more interactions'):
        load_dataset(f'interactions:{path}', 'recommend')
    with pytest.raises(ValueError, match='needs a third'):
        load_dataset(f'interactions:{path}', 'recommend', temporal_split=True)


def test_data_keys_only_for_datasets_given_by_path():
    with pytest.raises(ValueError, match="'data.features' applies to datasets given by path"):
        loader_kwargs('cora', {'features': 'x.npy'}, ('features',))
    assert loader_kwargs('cora', {'features': None}, ('features',)) == {}


def test_pyg_node_dataset_for_node_models(tmp_path):
    n = 30
    ei = torch.tensor([[i, (i + 1) % n] for i in range(n)]).t()
    torch.save(Data(edge_index=ei, x=torch.randn(n, 3), y=torch.arange(n) % 3, num_nodes=n), tmp_path / 'd.pt')
    name = f'pyg:{tmp_path}/d.pt'
    assert choose_kind(name, ('node',)) == 'node' and choose_kind(name, ('link',)) == 'link'
    ds = load_dataset(name, 'node', seed=0)
    assert ds.num_classes == 3 and [ds.split[s].numel() for s in ('train', 'valid', 'test')] == [18, 6, 6]
    torch.save(Data(edge_index=ei, x=torch.randn(n, 3), num_nodes=n), tmp_path / 'nolabels.pt')
    with pytest.raises(ValueError, match='needs integer class labels'):
        load_dataset(f'pyg:{tmp_path}/nolabels.pt', 'node')
