import pytest
import torch
from torch_geometric.data import Data

from graphkit.data import NodeDataset
from graphkit.losses import PairwiseContrastiveLoss, PamCLoss
from graphkit.models import MODELS, ClusterModel, PamC
from graphkit.nn import kl_clustering_loss, target_distribution
from graphkit.ops import adjacency_power_sum, csr_to_coo


def _dataset(n=30, f=6, classes=3, labels=True, features=True):
    gen = torch.Generator().manual_seed(0)
    data = Data(edge_index=torch.randint(0, n, (2, 3 * n), generator=gen), num_nodes=n)
    if features:
        data.x = torch.randn(n, f, generator=gen)
    if labels:
        data.y = torch.randint(0, classes, (n,), generator=gen)
    return NodeDataset('toy', data, {}, classes if labels else 0)


def test_registered_with_its_task_and_protocol():
    assert MODELS.get('pamc') is PamC and PamC.task == 'cluster' and PamC.kinds == ('node',)
    model = PamC.from_config({}, _dataset())
    assert isinstance(model, ClusterModel)
    assert str(model) == "PamC(6, num_clusters=3, encoder='mlp', loss='pamc')"
    assert model.num_clusters == 3 and not model.needs_graph


@pytest.mark.parametrize('loss', ['pamc', 'dense'])
def test_loss_is_beta_kl_plus_alpha_contrastive(loss):
    ds = _dataset()
    model = PamC.from_config({'loss': loss, 'alpha': 0.7, 'beta': 1.3, 'tau': 0.5, 'hidden_channels': [8]}, ds)
    x, ei = ds.data.x, ds.data.edge_index
    pos_index, pos_weight = model.positive_pairs(ei, 30)
    index, weight = csr_to_coo(adjacency_power_sum(ei, 30, order=2))
    assert torch.equal(pos_index, index) and torch.equal(pos_weight, weight)
    total, parts = model.loss(x, ei, pos_index, pos_weight)
    z = model.encode(x)
    q = model(x)
    kl = kl_clustering_loss(q.log(), target_distribution(q))
    if loss == 'pamc':
        pos, neg = PamCLoss(tau=0.5)(z, q, pos_index, pos_weight)
    else:
        pos, neg = PairwiseContrastiveLoss(tau=0.5)(z, pos_index, pos_weight)
    assert parts['kl'].item() == pytest.approx(kl.item(), rel=1e-5)
    assert parts['pos'].item() == pytest.approx(pos.item(), rel=1e-5)
    assert parts['neg'].item() == pytest.approx(neg.item(), rel=1e-5)
    assert total.item() == pytest.approx(1.3 * kl.item() + 0.7 * (pos.item() + neg.item()), rel=1e-5)
    total.backward()
    assert model.head.mu.grad is not None and bool(torch.isfinite(model.head.mu.grad).all())


def test_forward_predict_and_init_clusters():
    ds = _dataset()
    model = PamC.from_config({'num_clusters': 4, 'encoder': 'gcn', 'hidden_channels': [8, 8]}, ds)
    assert model.needs_graph and model.num_clusters == 4
    x, ei = ds.data.x, ds.data.edge_index
    q = model(x, ei)
    assert q.shape == (30, 4) and torch.allclose(q.sum(1), torch.ones(30))
    with torch.no_grad():
        labels = model.init_clusters(model.encode(x, ei), seed=1, n_init=2)
    assert labels.shape == (30,) and torch.equal(model.predict(x, ei), labels)
    assert model.pretrain_loss(x, ei, torch.tensor([0, 5])).dim() == 0


def test_from_config_errors():
    with pytest.raises(ValueError, match="needs node features 'x'"):
        PamC.from_config({}, _dataset(features=False))
    with pytest.raises(ValueError, match="needs 'num_clusters'"):
        PamC.from_config({}, _dataset(labels=False))
    with pytest.raises(ValueError, match='num_clusters=31 for a graph of 30 nodes'):
        PamC.from_config({'num_clusters': 31}, _dataset())
    with pytest.raises(ValueError, match="unknown 'loss'"):
        PamC(6, 3, loss='sparse')
    with pytest.raises(ValueError, match="unknown 'assignment'"):
        PamC(6, 3, loss='dense', assignment='fuzzy')
    with pytest.raises(ValueError, match="'order' to be an integer >= 1"):
        PamC(6, 3, order=0)
    with pytest.raises(ValueError, match="'alpha' >= 0"):
        PamC(6, 3, alpha=-1.0)
    assert PamC.from_config({'num_clusters': 2}, _dataset(labels=False)).num_clusters == 2


def test_reset_parameters_redraws_everything():
    model = PamC(6, 3, hidden_channels=[8])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.reset_parameters()
    assert all(not torch.equal(before[k], v) for k, v in model.state_dict().items() if v.is_floating_point())
