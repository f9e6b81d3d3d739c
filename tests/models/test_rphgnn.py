import inspect
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml
from torch_geometric.data import Data, HeteroData

import graphkit
from graphkit.configs import load_config
from graphkit.data import NodeDataset
from graphkit.models.registry import MODELS
from graphkit.models.rphgnn import RpHGNN

SHAPES = [('a:odd', 3, 6), ('a:even', 4, 5), ('b:odd', 1, 2)]
CONFIGS = Path(graphkit.__file__).parent / 'configs' / 'rphgnn'


def _groups(batch=9, shapes=SHAPES, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, s, w, generator=gen).half() for _, s, w in shapes]


def _dataset(num_papers=40, seed=0):
    gen = torch.Generator().manual_seed(seed)
    data = HeteroData()
    data['paper'].x = torch.randn(num_papers, 4, generator=gen)
    data['author'].x = torch.randn(30, 3, generator=gen)
    data['paper'].y = (data['paper'].x[:, 0] > 0).long() + (data['paper'].x[:, 1] > 0).long()
    cite = torch.randint(num_papers, (2, 60), generator=gen)
    data['paper', 'cite', 'paper'].edge_index = torch.cat([cite, cite.flip(0)], dim=1)
    writes = torch.stack([torch.randint(30, (80,), generator=gen), torch.randint(num_papers, (80,), generator=gen)])
    data['author', 'to', 'paper'].edge_index = writes
    data['paper', 'rev_to', 'author'].edge_index = writes.flip(0)
    perm = torch.randperm(num_papers, generator=gen)
    split = {'train': perm[:24], 'valid': perm[24:32], 'test': perm[32:]}
    return NodeDataset('tiny', data, split, 3, target='paper')


@pytest.mark.parametrize('merge', ['concat', 'mean'])
@pytest.mark.parametrize('layers', [(1, 1), (2, 2)])
def test_rphgnn_forward(merge, layers):
    model = RpHGNN(SHAPES, 3, hidden_channels=8, num_group_layers=layers[0], num_global_layers=layers[1], merge=merge)
    assert str(model) == f"RpHGNN(3, 3, hidden_channels=8, merge='{merge}')"
    out = model(_groups())
    assert out.shape == (9, 3) and out.dtype == torch.float32 and torch.isfinite(out).all()
    # A single-slice group gets one filter, the others conv_filters.
    assert [c.out_channels for c in model.convs] == [2, 2, 1]
    assert [c.in_channels for c in model.convs] == [3, 4, 1]
    assert model.group_mlps[0][0].in_features == 2 * 6 and model.group_mlps[2][0].in_features == 1 * 2
    expected = 8 * (3 if merge == 'concat' else 1)
    first = model.global_mlp[0]
    assert first.in_features == expected
    assert len([m for m in model.global_mlp if isinstance(m, torch.nn.Linear)]) == layers[1]
    # Module order of a group encoder: Linear -> PReLU -> Dropout per block, the last block included.
    kinds = [type(m).__name__ for m in model.group_mlps[0]]
    assert kinds == ['Linear', 'PReLU', 'Dropout'] * layers[0]


def test_rphgnn_eval_is_deterministic_and_train_drops():
    model = RpHGNN(SHAPES, 3, hidden_channels=8, input_dropout=0.5, dropout=0.5)
    x = _groups()
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


def test_rphgnn_reset_parameters():
    model = RpHGNN(SHAPES, 3, hidden_channels=8)
    for m in model.modules():
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv1d)):
            assert (m.bias == 0).all()
        if isinstance(m, torch.nn.PReLU):
            assert m.weight.numel() == 1 and float(m.weight.detach()) == 0.25
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    before = model.convs[0].weight.detach().clone()
    model.reset_parameters()
    assert not torch.equal(before, model.convs[0].weight)
    assert all((m.bias == 0).all() for m in model.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv1d)))
    assert all(float(m.weight.detach()) == 0.25 for m in model.modules() if isinstance(m, torch.nn.PReLU))


def test_rphgnn_from_config_and_precompute():
    ds = _dataset()
    cls = MODELS.get('rphgnn')
    assert cls is RpHGNN and cls.task == 'node' and cls.kinds == ('hetero-node',) and cls.trainable
    model = cls.from_config({'hidden_channels': 8, 'num_iterations': 3, 'precompute_seed': 1}, ds)
    assert model.precompute_seed == 1 and model.target == 'paper'
    assert model.group_shapes == [
        ('paper__cite__paper:odd', 3, 4),
        ('paper__cite__paper:even', 4, 4),
        ('author__to__paper:odd', 3, 3),
        ('paper__rev_to__author:even', 4, 4),
    ]
    groups = model.precompute(ds.data, torch.Generator().manual_seed(model.precompute_seed))
    assert [tuple(g.shape) for g in groups] == [(40, s, w) for _, s, w in model.group_shapes]
    assert all(g.dtype == torch.float16 for g in groups)
    idx = ds.split['train'][:5]
    assert model([g[idx] for g in groups]).shape == (5, 3)

    with pytest.raises(ValueError, match='unknown config keys'):
        cls.from_config({'hidden': 8}, ds)
    with pytest.raises(ValueError, match="'merge'"):
        cls.from_config({'merge': 'sum'}, ds)
    with pytest.raises(ValueError, match="'precompute_dtype'"):
        cls.from_config({'precompute_dtype': 'int8'}, ds)
    with pytest.raises(ValueError, match='heterogeneous'):
        cls.from_config({}, NodeDataset('homo', Data(x=torch.randn(3, 2)), {}, 2))


def test_rphgnn_training_decreases_loss():
    ds = _dataset()
    torch.manual_seed(0)
    model = RpHGNN.from_config({'hidden_channels': 16, 'num_iterations': 2, 'input_dropout': 0.0, 'dropout': 0.0}, ds)
    groups = model.precompute(ds.data, torch.Generator().manual_seed(0))
    idx = ds.split['train']
    batch, y = [g[idx] for g in groups], ds.y[idx]
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = F.cross_entropy(model(batch), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize(
    'kwargs, match',
    [
        ({'group_shapes': []}, "'group_shapes'"),
        ({'group_shapes': [('a', 0, 3)]}, "'group_shapes'"),
        ({'out_channels': 0}, "'out_channels'"),
        ({'hidden_channels': 0}, "'hidden_channels'"),
        ({'num_group_layers': 0}, "'num_group_layers'"),
        ({'num_global_layers': 0}, "'num_global_layers'"),
        ({'conv_filters': 0}, "'conv_filters'"),
        ({'num_iterations': 0}, "'num_iterations'"),
        ({'input_dropout': 1.0}, "'input_dropout'"),
        ({'dropout': -0.1}, "'dropout'"),
        ({'merge': 'sum'}, "'merge'"),
        ({'projection': 'dense'}, "'projection'"),
        ({'precompute_dtype': 'int8'}, "'precompute_dtype'"),
        ({'precompute_seed': 1.5}, "'precompute_seed'"),
    ],
)
def test_rphgnn_validation(kwargs, match):
    args = {'group_shapes': SHAPES, 'out_channels': 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        RpHGNN(**args)


def test_rphgnn_precompute_needs_target():
    with pytest.raises(ValueError, match="'target'"):
        RpHGNN(SHAPES, 3).precompute(_dataset().data, torch.Generator())


def test_rphgnn_presets_list_every_argument():
    default = yaml.safe_load((CONFIGS / 'default.yaml').read_text())
    args = set(inspect.signature(RpHGNN.__init__).parameters) - {'self', 'group_shapes', 'out_channels', 'target'}
    assert set(default['model']) == args
    for key, value in default['model'].items():
        assert inspect.signature(RpHGNN.__init__).parameters[key].default == value, key
    assert set(default['train']) == {'epochs', 'lr', 'weight_decay', 'eval_every', 'early_stop', 'batch_size'}

    # the per-dataset presets: the official values of the spec (A.5), each building a model
    official = {  # K, use_input, hidden, input dropout, dropout, group / global layers, merge, batch, metric
        'hgb-acm': (6, True, 64, 0.8, 0.7, 2, 2, 'mean', 1000, 'mean_f1'),
        'hgb-dblp': (5, False, 512, 0.8, 0.8, 2, 2, 'concat', 10000, 'loss'),
        'hgb-imdb': (3, True, 256, 0.8, 0.7, 2, 2, 'concat', 10000, 'mean_f1'),
        'hgb-freebase': (6, False, 256, 0.7, 0.7, 1, 1, 'concat', 10000, 'mean_f1'),
        'ogbn-mag': (5, True, 512, 0.0, 0.5, 2, 2, 'concat', 10000, 'acc'),
    }
    assert {p.stem for p in CONFIGS.glob('*.yaml')} == {'default', *official}
    for name, values in official.items():
        cfg = load_config('rphgnn', name)
        m = cfg['model']
        got = (
            m['num_iterations'],
            m['use_input'],
            m['hidden_channels'],
            m['input_dropout'],
            m['dropout'],
            m['num_group_layers'],
            m['num_global_layers'],
            m['merge'],
            cfg['train']['batch_size'],
            cfg['eval']['metric'],
        )
        assert got == values, name
        assert m['precompute_seed'] == (2 if name == 'ogbn-mag' else 1)
        RpHGNN([('g', 7, 4)], 3, **m)  # the preset builds
