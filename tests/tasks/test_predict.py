"""graphkit predict / recommend from a run directory (graphkit.tasks.predict), against Python's Result."""

import csv
import json

import pytest
import torch

from graphkit.api import Result
from graphkit.cli import main
from graphkit.io import safe_torch_load

NCN = ['--epochs', '2', '--quiet', '--set', 'model.hidden_channels=8', '--set', 'train.batch_size=16']
ULTRA = ['--epochs', '3', '--quiet'] + [
    x
    for kv in (
        'model.embedding_dim=8',
        'model.negative_num=5',
        'model.ii_neighbor_num=3',
        'train.eval_every_from=null',
        'train.lr=0.01',
    )
    for x in ('--set', kv)
]


def edge_lines(n=30, seed=0):
    """A random graph with string ids (a ring, so that every node appears, plus 40 random edges)."""
    g = torch.Generator().manual_seed(seed)
    extra = torch.randint(0, n, (2, 40), generator=g).t().tolist()
    edges = [(f'v{i}', f'v{(i + 1) % n}') for i in range(n)] + [(f'v{a}', f'v{b}') for a, b in extra if a != b]
    return 'source\ttarget\n' + ''.join(f'{a}\t{b}\n' for a, b in edges)


@pytest.fixture(scope='module')
def link_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('link')
    graph = tmp / 'Graph.tsv'
    graph.write_text(edge_lines())
    out = tmp / 'run'
    assert main(['train', 'ncn', '--dataset', f'edges:{graph}', '--out', str(out), *NCN]) == 0
    return tmp, graph, out


def read_scores(path):
    with open(path) as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def test_cli_predict_equals_result_predict(link_run, capsys):
    tmp, graph, out = link_run
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['data_source']['path'] == str(graph) and summary['data_source']['format'] == 'edges'
    assert (out / 'node_ids.csv').read_text().splitlines()[:2] == ['index,id', '0,v0']
    pairs = tmp / 'pairs.csv'
    pairs.write_text('src,dst\nv3,v17\nv0,v1\nv29,v2\nv3,v17\n')
    assert main(['predict', str(out), '--pairs', str(pairs), '--quiet', '--chunk-size', '2']) == 0
    header, rows = read_scores(out / 'scores.csv')
    assert header == ['src', 'dst', 'score']
    assert [r[:2] for r in rows] == [['v3', 'v17'], ['v0', 'v1'], ['v29', 'v2'], ['v3', 'v17']]
    cli = torch.tensor([float(r[2]) for r in rows])
    result = Result.load(out)
    py = result.predict([('v3', 'v17'), ('v0', 'v1'), ('v29', 'v2'), ('v3', 'v17')])
    assert torch.allclose(cli, py, atol=1e-6) and bool(((py > 0) & (py < 1)).all())
    assert result.task.x is None  # featureless: NCN's learnable node table
    assert any(isinstance(m, torch.nn.Embedding) for m in result.model.modules())


def test_predict_unknown_id_names_file_and_line(link_run, capsys):
    tmp, _, out = link_run
    pairs = tmp / 'bad.txt'
    pairs.write_text('v1 v2\nv1 nobody\n')
    target = tmp / 'never.csv'
    assert main(['predict', str(out), '--pairs', str(pairs), '--out', str(target)]) == 2
    err = capsys.readouterr().err
    assert "graphkit predict: error: '" in err and "bad.txt' line 2: node id 'nobody'" in err
    assert not target.exists()


def test_predict_refuses_changed_data_and_follows_a_moved_file(link_run, capsys):
    tmp, graph, out = link_run
    pairs = tmp / 'p.txt'
    pairs.write_text('v1 v2\n')
    moved = tmp / 'moved.tsv'
    moved.write_text(graph.read_text())
    assert main(['predict', str(out), '--pairs', str(pairs), '--dataset', f'edges:{moved}', '--quiet']) == 0
    moved.write_text(graph.read_text() + 'v1\tv20\n')
    assert main(['predict', str(out), '--pairs', str(pairs), '--dataset', f'edges:{moved}']) == 2
    assert 'differs from the file the run was trained on' in capsys.readouterr().err


def test_bad_features_leave_nothing_behind(tmp_path, capsys):
    graph = tmp_path / 'g.tsv'
    graph.write_text(edge_lines())
    feats = tmp_path / 'x.csv'
    feats.write_text(''.join(f'v{i},1.0\n' for i in range(30)) + 'ghost,2.0\n')
    out = tmp_path / 'run'
    args = ['train', 'ncn', '--dataset', f'edges:{graph}', '--out', str(out), '--set', f'data.features={feats}', *NCN]
    assert main(args) == 2
    assert "x.csv' line 31: node id 'ghost' is not in the graph" in capsys.readouterr().err
    assert not out.exists()


def test_data_features_on_a_named_dataset_is_refused(tmp_path, capsys):
    args = ['train', 'ncn', '--dataset', 'cora', '--out', str(tmp_path / 'r'), '--set', 'data.features=x.npy', *NCN]
    assert main(args) == 2
    assert "'data.features' applies to datasets given by path" in capsys.readouterr().err


def test_recommend_equals_brute_force_top_k(tmp_path, capsys):
    lines = ['user,item'] + [f'u{u},it{(3 * u + t) % 25}' for u in range(20) for t in range(6)]
    data = tmp_path / 'inter.csv'
    data.write_text('\n'.join(lines) + '\n')
    out = tmp_path / 'rec'
    assert main(['train', 'ultragcn', '--dataset', f'interactions:{data}', '--out', str(out), *ULTRA]) == 0
    users = tmp_path / 'users.txt'
    users.write_text('user\nu3\nu0\n')
    assert main(['recommend', str(out), '--users', str(users), '--k', '4', '--quiet']) == 0
    assert main(['recommend', str(out), '--users', 'all', '--k', '4', '--quiet', '--out', str(tmp_path / 'a.csv')]) == 0
    with open(out / 'recs.csv') as f:
        rows = list(csv.DictReader(f))
    assert [r['user'] for r in rows] == ['u3'] * 4 + ['u0'] * 4
    with open(tmp_path / 'a.csv') as f:
        assert len(list(csv.DictReader(f))) == 20 * 4

    # brute force on the saved embeddings: all items scored, training items excluded
    emb = safe_torch_load(out / 'best_run0.pt')['embedding.weight']
    result = Result.load(out)
    ds = result.task.ds
    user_ids = [line.split(',')[1] for line in (out / 'user_ids.csv').read_text().splitlines()[1:]]
    item_ids = [line.split(',')[1] for line in (out / 'item_ids.csv').read_text().splitlines()[1:]]
    U = ds.num_users
    for name in ('u3', 'u0'):
        u = user_ids.index(name)
        scores = emb[U:] @ emb[u]
        scores[ds.train[1, ds.train[0] == u]] = float('-inf')
        expected = [item_ids[i] for i in torch.argsort(-scores, stable=True)[:4].tolist()]
        assert [r['item'] for r in rows if r['user'] == name] == expected
    items, _ = result.recommend(['u3'], k=4)
    assert [item_ids[i] for i in items[0].tolist()] == [r['item'] for r in rows if r['user'] == 'u3']
    assert main(['recommend', str(out), '--users', str(tmp_path / 'missing.txt')]) == 2
    users.write_text('u3\nstranger\n')
    assert main(['recommend', str(out), '--users', str(users)]) == 2
    assert "users.txt' line 2: user id 'stranger'" in capsys.readouterr().err


def test_predict_needs_a_link_run(tmp_path, capsys):
    lines = [f'u{u},it{(u + t) % 9}' for u in range(8) for t in range(4)]
    data = tmp_path / 'inter.csv'
    data.write_text('\n'.join(lines) + '\n')
    out = tmp_path / 'rec'
    assert main(['train', 'ultragcn', '--dataset', f'interactions:{data}', '--out', str(out), *ULTRA]) == 0
    pairs = tmp_path / 'p.txt'
    pairs.write_text('u1 u2\n')
    assert main(['predict', str(out), '--pairs', str(pairs)]) == 2
    assert 'is a run of the recommend task, not of the link task' in capsys.readouterr().err


def test_gcn_on_a_pyg_node_dataset(tmp_path):
    from torch_geometric.data import Data

    n = 30
    ei = torch.tensor([[i, (i + 1) % n] for i in range(n)] + [[(i + 1) % n, i] for i in range(n)]).t()
    torch.save(Data(edge_index=ei, x=torch.randn(n, 4), y=torch.arange(n) % 2, num_nodes=n), tmp_path / 'g.pt')
    out = tmp_path / 'node'
    args = ['train', 'gcn', '--dataset', f'pyg:{tmp_path}/g.pt', '--out', str(out), '--epochs', '2', '--quiet']
    assert main([*args, '--set', 'model.hidden_channels=8']) == 0
    summary = json.loads((out / 'summary.json').read_text())
    source = summary['data']['data_source']
    assert source['format'] == 'pyg' and 'random 60/20/20' in source['split']
    assert main(['evaluate', str(out)]) == 0


def test_temporal_split_is_stated_in_the_summary(tmp_path):
    lines = ['user,item,timestamp'] + [f'u{u},it{(u + t) % 9},{100 - t}' for u in range(8) for t in range(4)]
    data = tmp_path / 'inter.csv'
    data.write_text('\n'.join(lines) + '\n')
    out = tmp_path / 'rec'
    args = ['train', 'ultragcn', '--dataset', f'interactions:{data}', '--out', str(out), *ULTRA]
    assert main([*args, '--set', 'data.temporal_split=true']) == 0
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['data_source']['split'] == 'temporal leave-last-out' and summary['data']['test'] == 8
    assert sorted(summary['data_source']['id_files']) == ['item_ids.csv', 'user_ids.csv']
