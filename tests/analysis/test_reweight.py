"""TC-guided edge reweighting: column mass, schedule, weighted TC monitor (training with it: tests/tasks)."""

import pytest
import torch

from graphkit.analysis import TCReweighter, use_given_weights
from graphkit.metrics import topological_concentration
from graphkit.models.gae import GAE


def _split(n=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    e = torch.randint(0, n, (2, 4 * n), generator=g)
    e = torch.unique(torch.sort(e[:, e[0] != e[1]], dim=0).values, dim=1)
    e = e[:, torch.randperm(e.size(1), generator=g)]
    m = e.size(1)
    neg = torch.randint(0, n, (2, 30), generator=g)
    return {
        'train': {'edge': e[:, : int(0.7 * m)].t()},
        'valid': {'edge': e[:, int(0.7 * m) : int(0.8 * m)].t(), 'edge_neg': neg.t()},
        'test': {'edge': e[:, int(0.8 * m) :].t(), 'edge_neg': neg.t()},
    }


@pytest.mark.parametrize('aug_type', ['gcn', 'sage'])
@pytest.mark.parametrize('alpha', [0.5, 2.0])
def test_reweighting_preserves_column_mass(aug_type, alpha):
    torch.manual_seed(0)
    n, split = 50, _split()
    x = torch.randn(n, 8)
    rw = TCReweighter(split['train']['edge'].t(), n, alpha=alpha, aug_type=aug_type)
    model = use_given_weights(GAE(8, n, hidden_channels=16, encoder=aug_type))
    v = rw.edge_index[1]
    before = torch.zeros(n).index_add_(0, v, rw.edge_weight)
    for _ in range(2):  # updates do not compound
        rw.update(model, x)
        after = torch.zeros(n).index_add_(0, v, rw.edge_weight)
        assert torch.allclose(after - before, alpha * before, atol=1e-5)
    assert (rw.edge_weight >= rw.weight_orig).all()
    assert rw.adj.layout == torch.sparse_csr and rw.num_updates == 2
    assert str(rw) == f'TCReweighter(alpha={alpha}, update_interval=1, warm_up=1, aug_type={aug_type})'


def test_schedule_and_errors():
    e = torch.tensor([[0, 1], [1, 2]])
    rw = TCReweighter(e, 3, update_interval=3, warm_up=5)
    assert [ep for ep in range(15) if rw.should_update(ep)] == [5, 8, 11, 14]
    with pytest.raises(ValueError, match="'aug_type'"):
        TCReweighter(e, 3, aug_type='gat')
    with pytest.raises(ValueError, match="'update_interval'"):
        TCReweighter(e, 3, update_interval=0)


def test_uniform_weights_monitor_equals_tc():
    n, split = 50, _split(seed=1)
    train, valid = split['train']['edge'].t(), split['valid']['edge'].t()
    rw = TCReweighter(train, n)
    rw.edge_weight = torch.ones_like(rw.edge_weight)
    assert torch.allclose(rw.tc(valid), topological_concentration(train, valid, n), atol=1e-6)


def test_use_given_weights_switches_convs():
    gcn = use_given_weights(GAE(8, 10, hidden_channels=8, encoder='gcn'))
    sage = use_given_weights(GAE(8, 10, hidden_channels=8, encoder='sage'))
    assert all(not c.normalize for c in gcn.encoder.convs)
    assert all(c.aggr == 'sum' for c in sage.encoder.convs)
