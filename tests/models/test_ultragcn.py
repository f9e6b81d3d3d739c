import math

import pytest
import torch

from graphkit.models import MODELS, UltraGCN

U, I = 5, 6
PAIRS = [(0, 0), (0, 1), (1, 1), (1, 2), (2, 3), (3, 4), (3, 5), (4, 0), (4, 5)]


def _edge_index(symmetric=False):
    ei = torch.tensor([[u, U + i] for u, i in PAIRS]).t()
    return torch.cat([ei, ei.flip(0)], dim=1) if symmetric else ei


def _model(**kwargs):
    kwargs.setdefault('negative_num', 4)
    kwargs.setdefault('ii_neighbor_num', 2)
    kwargs.setdefault('init_std', 0.1)
    torch.manual_seed(0)
    return UltraGCN(U, I, 8, _edge_index(), **kwargs)


def test_shape_repr_and_registry():
    model = _model()
    assert str(model) == 'UltraGCN(5, 6, 8, ii_neighbor_num=2)'
    assert MODELS.get('ultragcn') is UltraGCN and UltraGCN.task == 'recommend'
    assert model.get_embedding().shape == (U + I, 8)
    assert model.b_user.shape == (U,) and model.b_item.shape == (I,)
    assert model.ii_neighbors.shape == (I, 2) and model.ii_weights.shape == (I, 2)
    # buffers derived from the graph are not part of the checkpoint
    assert set(model.state_dict()) == {'embedding.weight'}
    assert float(model.embedding.weight.std()) == pytest.approx(0.1, rel=0.5)


def test_symmetric_graph_gives_the_same_buffers():
    a, b = _model(), UltraGCN(U, I, 8, _edge_index(True), negative_num=4, ii_neighbor_num=2)
    for name in ('b_user', 'b_item', 'ii_neighbors', 'ii_weights'):
        assert torch.equal(getattr(a, name), getattr(b, name))


def test_forward_and_recommend():
    model = _model()
    pairs = torch.tensor([[0, 1], [U + 2, U + 3]])
    emb = model.get_embedding()
    torch.testing.assert_close(model(None, pairs), (emb[pairs[0]] * emb[pairs[1]]).sum(-1))
    top = model.recommend(k=3)
    assert top.shape == (U, 3) and bool(((top >= U) & (top < U + I)).all())
    scores = emb[:U] @ emb[U:].t()
    assert torch.equal(top - U, scores.topk(3, dim=1).indices)
    dst = torch.tensor([U + 1, U + 4])
    top = model.recommend(src_index=torch.tensor([2]), dst_index=dst, k=5)
    assert top.shape == (1, 5) and set(top[0, :2].tolist()) == set(dst.tolist())
    assert top[0, 2:].tolist() == [-1] * 3


@pytest.mark.parametrize('sift_pos', [False, True])
def test_sample_negatives(sift_pos):
    model = _model(sift_pos=sift_pos, negative_num=50)
    user = torch.tensor([0, 1, 3, 3])
    neg = model.sample_negatives(user, torch.Generator().manual_seed(0))
    assert neg.shape == (4, 50) and bool(((neg >= U) & (neg < U + I)).all())
    train = {(u, U + i) for u, i in PAIRS}
    hits = sum((int(u), int(j)) in train for u, row in zip(user, neg) for j in row)
    assert (hits == 0) if sift_pos else (hits > 0)


@pytest.mark.parametrize('mode', ['gather', 'matmul', 'sparse'])
@pytest.mark.parametrize('l2_on', ['all', 'batch'])
def test_loss_matches_hand_computation(mode, l2_on):
    model = _model(
        w1=0.1, w2=1.0, w3=0.2, w4=0.5, negative_weight=3.0, gamma=0.01, lambda_=0.3, neg_scoring=mode, l2_on=l2_on
    )
    pos = torch.tensor([[0, 4], [U + 1, U + 5]])
    neg = torch.tensor([[U + 2, U + 2, U + 0, U + 3], [U + 1, U + 4, U + 5, U + 0]])
    emb = model.embedding.weight.detach().double()
    d_u = [2, 2, 1, 2, 2]
    d_i = [2, 2, 1, 1, 1, 2]
    sp = lambda x: math.log1p(math.exp(x))  # noqa: E731
    beta = lambda u, i: 1 / d_u[u] * math.sqrt((d_u[u] + 1) / (d_i[i] + 1))  # noqa: E731
    s = lambda u, i: float(emb[u] @ emb[U + i])  # noqa: E731
    expected = 0.0
    for b in range(2):
        u, i = int(pos[0, b]), int(pos[1, b]) - U
        expected += (0.1 + beta(u, i)) * sp(-s(u, i))
        expected += 3.0 * sum((0.2 + 0.5 * beta(u, int(j) - U)) * sp(s(u, int(j) - U)) for j in neg[b]) / 4
        for j, w in zip(model.ii_neighbors[i].tolist(), model.ii_weights[i].tolist()):
            expected += 0.3 * w * sp(-s(u, j))
    if l2_on == 'all':
        expected += 0.5 * 0.01 * float(emb.pow(2).sum())
    else:
        rows = torch.unique(torch.cat([pos[0], pos[1], neg.reshape(-1)]))
        expected += 0.5 * 0.01 * float(emb[rows].pow(2).sum())
    loss = model.loss(pos, neg)
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert torch.isfinite(model.embedding.weight.grad).all()


def test_negative_scoring_modes_agree_on_gradients():
    grads = []
    for mode in ('gather', 'matmul', 'sparse'):
        model = _model(neg_scoring=mode)
        pos = torch.tensor([[0, 1, 4], [U + 0, U + 2, U + 5]])
        neg = model.sample_negatives(pos[0], torch.Generator().manual_seed(3))
        model.loss(pos, neg).backward()
        grads.append(model.embedding.weight.grad)
    torch.testing.assert_close(grads[0], grads[1])
    torch.testing.assert_close(grads[0], grads[2])


@pytest.mark.parametrize('mode', ['matmul', 'sparse'])
def test_merged_sparse_scores_equal_gather(mode):
    gen = torch.Generator().manual_seed(0)
    a = (torch.rand(20, 30, generator=gen) < 0.3).nonzero().t()
    ei = torch.stack([a[0], a[1] + 20])
    out = []
    for m in ('gather', mode):
        torch.manual_seed(0)
        model = UltraGCN(20, 30, 8, ei, negative_num=6, ii_neighbor_num=3, init_std=0.2, neg_scoring=m)
        pos = ei[:, :15]
        neg = model.sample_negatives(pos[0], torch.Generator().manual_seed(1))
        loss = model.loss(pos, neg)
        loss.backward()
        out.append((loss.detach(), model.embedding.weight.grad))
    torch.testing.assert_close(out[0][0], out[1][0])
    torch.testing.assert_close(out[0][1], out[1][1])


def test_from_config_maps_lambda():
    from torch_geometric.data import Data

    data = Data(edge_label_index=_edge_index(), num_users=U, num_items=I, num_nodes=U + I)
    model = UltraGCN.from_config({'embedding_dim': 4, 'lambda': 0.5, 'ii_neighbor_num': 2, 'negative_num': 3}, data)
    assert model.criterion.lambda_ == 0.5 and model.embedding_dim == 4


def test_errors():
    with pytest.raises(ValueError, match='embedding_dim'):
        UltraGCN(U, I, 0, _edge_index())
    with pytest.raises(ValueError, match='l2_on'):
        _model(l2_on='none')
    with pytest.raises(ValueError, match='neg_scoring'):
        _model(neg_scoring='fast')
    with pytest.raises(ValueError, match='edge_index'):
        UltraGCN(U, I, 4, torch.tensor([[0], [U + I]]), ii_neighbor_num=2)
