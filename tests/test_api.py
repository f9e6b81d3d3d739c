"""graphkit.fit and graphkit.Result (graphkit/api.py)."""

import os

import pytest
import torch
from torch_geometric.data import Data, HeteroData

import graphkit
from graphkit.cli import main

TINY = {'epochs': 2, 'model.hidden_channels': 8, 'train__batch_size': 16}


def ring_data(n=30, x=None):
    ei = torch.tensor([[i, (i + 1) % n] for i in range(n)] + [[i, (i + 7) % n] for i in range(0, n, 2)]).t()
    return Data(edge_index=ei, num_nodes=n, x=x)


def test_fit_featureless_data_then_predict(tmp_path, capsys):
    out = tmp_path / 'run'
    result = graphkit.fit('ncn', ring_data(), out=str(out), **TINY)
    assert isinstance(result, graphkit.Result) and result.run_dir == str(out)
    assert result.summary['model'] == 'ncn' and result.summary['task'] == 'link'
    assert result.summary['data_source']['format'] == 'pyg'
    assert os.path.isfile(f'{out}.input.pt')
    by_id = result.predict([(0, 1), (5, 20)])
    by_index = result.predict(torch.tensor([[0, 5], [1, 20]]))
    assert by_id.shape == (2,) and torch.equal(by_id, by_index)
    assert torch.equal(result.predict([(torch.tensor(0), torch.tensor(1))]), by_id[:1])
    # the same run from the command line
    pairs = tmp_path / 'p.txt'
    pairs.write_text('0 1\n5 20\n')
    assert main(['predict', str(out), '--pairs', str(pairs), '--quiet']) == 0
    scores = [float(line.split(',')[2]) for line in (out / 'scores.csv').read_text().splitlines()[1:]]
    assert torch.allclose(torch.tensor(scores), by_id, atol=1e-6)
    with pytest.raises(ValueError, match="node id 99 is not in the run's data"):
        result.predict([(0, 99)])
    with pytest.raises(ValueError, match='needs a recommend run'):
        result.recommend()


def test_fit_with_features_and_a_named_result(tmp_path):
    result = graphkit.fit('ncn', ring_data(x=torch.randn(30, 4)), out=str(tmp_path / 'r'), **TINY)
    assert result.task.x.shape == (30, 4)
    again = graphkit.Result.load(tmp_path / 'r')
    assert torch.equal(again.predict([(1, 2)]), result.predict([(1, 2)]))


def test_fit_hetero_user_item(tmp_path):
    data = HeteroData()
    data['user'].num_nodes, data['item'].num_nodes = 10, 12
    users = [u for u in range(10) for _ in range(4)]
    items = [(u + t) % 12 for u in range(10) for t in range(4)]
    data['user', 'buys', 'item'].edge_index = torch.tensor([users, items])
    sets = {
        'model.embedding_dim': 8,
        'model.negative_num': 4,
        'model.ii_neighbor_num': 3,
        'train.eval_every_from': None,
    }
    result = graphkit.fit('ultragcn', data, out=str(tmp_path / 'rec'), epochs=2, **sets)
    items, scores = result.recommend(k=3)
    assert items.shape == (10, 3) and scores.shape == (10, 3)
    train = result.task.ds.train
    for u in range(10):
        assert not set(items[u].tolist()) & set(train[1, train[0] == u].tolist())


def test_fit_validates_before_writing(tmp_path):
    out = tmp_path / 'busy'
    out.mkdir()
    (out / 'something').write_text('x')
    with pytest.raises(FileExistsError):
        graphkit.fit('ncn', ring_data(), out=str(out), **TINY)
    assert not os.path.exists(f'{out}.input.pt')
    with pytest.raises(ValueError, match="'data' must be a torch_geometric Data"):
        graphkit.fit('ncn', [1, 2], out=str(tmp_path / 'a'))
    with pytest.raises(ValueError, match='train.nonsense'):
        graphkit.fit('ncn', ring_data(), out=str(tmp_path / 'b'), train__nonsense=1)
    assert not os.path.exists(tmp_path / 'b.input.pt')
    selfloops = Data(edge_index=torch.tensor([[0, 1], [0, 1]]), num_nodes=2)
    with pytest.raises(ValueError, match='only self-loops'):
        graphkit.fit('ncn', selfloops, out=str(tmp_path / 'c'), **TINY)
    assert not os.path.exists(tmp_path / 'c.input.pt') and not os.path.exists(tmp_path / 'c')
