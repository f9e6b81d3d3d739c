import pytest
import torch
from torch_geometric.nn.models import LightGCN as PyGLightGCN

from graphkit.models import MODELS, LightGCN
from graphkit.ops import gcn_norm, to_csr

U, I = 4, 5
PAIRS = torch.tensor([[0, 0, 1, 2, 3, 3], [0, 1, 1, 2, 3, 4]])


def _graph():
    ei = torch.stack([PAIRS[0], PAIRS[1] + U])
    return ei, torch.cat([ei, ei.flip(0)], dim=1)


def test_is_pyg_lightgcn():
    model = LightGCN(U, I, 8, 2)
    assert isinstance(model, PyGLightGCN) and MODELS.get('lightgcn') is LightGCN
    assert str(model) == 'LightGCN(9, 8, num_layers=2)'
    assert LightGCN.task == 'recommend'


def test_normalised_csr_equals_pyg_normalisation():
    torch.manual_seed(0)
    pos, ei = _graph()
    ours = LightGCN(U, I, 8, 2)
    ref = PyGLightGCN(U + I, 8, 2)
    ref.embedding.weight.data.copy_(ours.embedding.weight.data)
    adj = gcn_norm(to_csr(ei, U + I), add_self_loops=False)
    torch.testing.assert_close(ours.get_embedding(adj), ref.get_embedding(ei), atol=1e-6, rtol=1e-5)


def test_loss_is_pyg_bpr():
    torch.manual_seed(0)
    pos, ei = _graph()
    model = LightGCN(U, I, 8, 2, negative_num=2, lambda_reg=1e-3, normalize=True)
    neg = model.sample_negatives(pos[0], torch.Generator().manual_seed(0))
    assert neg.shape == (6, 2) and bool(((neg >= U) & (neg < U + I)).all())
    loss = model.loss(pos, neg, edge_index=ei)
    emb = model.get_embedding(ei)
    p = (emb[pos[0]] * emb[pos[1]]).sum(-1).repeat_interleave(2)
    n = (emb[pos[0]].unsqueeze(1) * emb[neg]).sum(-1).reshape(-1)
    node_id = torch.cat([pos[0], pos[1], neg.reshape(-1)])
    ref = model.recommendation_loss(p, n, node_id=node_id, lambda_reg=1e-3)
    torch.testing.assert_close(loss, ref)
    loss.backward()


def test_errors():
    with pytest.raises(ValueError, match='init'):
        LightGCN(U, I, 8, 2, init='zeros')
    with pytest.raises(ValueError, match='edge_index'):
        LightGCN(U, I, 8, 2).loss(_graph()[0], torch.zeros(6, 1, dtype=torch.long) + U)
