import pytest
import torch
from torch_geometric.data import Data

from graphkit.models import GAE, MODELS
from graphkit.ops import to_csr


def _graph(num_nodes=30, num_edges=80, seed=0):
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(num_nodes, (2, num_edges), generator=gen)
    return to_csr(edge_index, num_nodes), torch.randint(num_nodes, (2, 16), generator=gen)


@pytest.mark.parametrize('encoder', ['gcn', 'sage'])
def test_gae(encoder):
    adj, pairs = _graph()
    model = GAE(8, 30, hidden_channels=16, num_layers=2, encoder=encoder)
    assert str(model) == f'GAE(8, 16, num_layers=2, encoder={encoder})'
    x = torch.randn(30, 8)
    out = model(x, adj, pairs)
    assert out.shape == (16,)
    assert torch.isfinite(out).all()

    # One step of training decreases the loss on a fixed batch.
    model.eval()  # no dropout noise
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    target = torch.rand(16).round()
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x, adj, pairs), target)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]


def test_gae_featureless_uses_embedding():
    adj, pairs = _graph()
    model = MODELS.get('gae').from_config({'hidden_channels': 8}, Data(num_nodes=30))
    assert model.emb is not None and model.emb.weight.shape == (30, 8)
    assert model(None, adj, pairs).shape == (16,)
    before = model.emb.weight.detach().clone()
    model.reset_parameters()
    assert not torch.equal(before, model.emb.weight)


def test_gae_validation():
    with pytest.raises(ValueError, match="'encoder'"):
        GAE(8, 30, encoder='gat')
    with pytest.raises(ValueError, match="'dropout'"):
        GAE(8, 30, dropout=1.5)
