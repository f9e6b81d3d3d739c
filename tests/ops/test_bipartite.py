import math

import pytest
import torch

from graphkit.ops import bipartite_pairs, constraint_weights, item_item_neighbors

# 3 users, 4 items (homogeneous ids 3..6): u0-{i0,i1}, u1-{i1,i2,i3}, u2-{i1}
PAIRS = [(0, 0), (0, 1), (1, 1), (1, 2), (1, 3), (2, 1)]


def _edge_index(pairs, num_users=3, symmetric=False):
    ei = torch.tensor([[u, num_users + i] for u, i in pairs]).t()
    return torch.cat([ei, ei.flip(0)], dim=1) if symmetric else ei


@pytest.mark.parametrize('symmetric', [False, True])
def test_constraint_weights_closed_form(symmetric):
    b_u, b_i = constraint_weights(_edge_index(PAIRS, symmetric=symmetric), 3, 4)
    d_u, d_i = [2, 3, 1], [1, 3, 1, 1]
    for u, i in PAIRS:
        beta = 1 / d_u[u] * math.sqrt((d_u[u] + 1) / (d_i[i] + 1))
        assert float(b_u[u] * b_i[i]) == pytest.approx(beta, rel=1e-6)
    assert b_u.shape == (3,) and b_i.shape == (4,)


def test_constraint_weights_user_without_items():
    b_u, _ = constraint_weights(_edge_index([(0, 0)], num_users=2), 2, 1)
    assert b_u.tolist() == [pytest.approx(math.sqrt(2)), 0.0]


def _dense_omega(a, omega):
    g = a.t() @ a
    gs = g.sum(1)
    if omega == 'code':
        w = g * ((gs + 1).sqrt() / gs).view(-1, 1) / (gs + 1).sqrt().view(1, -1)
    else:
        w = g / (gs - g.diagonal()).view(-1, 1) * (gs.view(-1, 1) / gs.view(1, -1)).sqrt()
    return torch.nan_to_num(w, nan=0.0, posinf=0.0)


@pytest.mark.parametrize('omega', ['code', 'paper'])
@pytest.mark.parametrize('exclude_self', [False, True])
@pytest.mark.parametrize('chunk_size', [3, 1024])
def test_item_item_neighbors_equal_dense_brute_force(omega, exclude_self, chunk_size):
    gen = torch.Generator().manual_seed(1)
    num_users, num_items, k = 40, 25, 5
    a = (torch.rand(num_users, num_items, generator=gen) < 0.2).double()
    a[0, :] = 1.0  # every item co-occurs with every other at least once
    pairs = a.nonzero()
    ei = torch.stack([pairs[:, 0], pairs[:, 1] + num_users])
    nb, w = item_item_neighbors(ei, num_users, num_items, k, omega, exclude_self, chunk_size=chunk_size)
    dense = _dense_omega(a, omega)
    if exclude_self:
        dense.fill_diagonal_(-math.inf)
    for i in range(num_items):
        order = sorted(range(num_items), key=lambda j: (-float(dense[i, j]), j))[:k]
        assert nb[i].tolist() == order
        torch.testing.assert_close(w[i].double(), dense[i, order], rtol=1e-5, atol=1e-7)
    if not exclude_self and omega == 'code':
        assert (nb[:, 0] == torch.arange(num_items)).all()  # self is top-1 under the official weights


def test_item_item_errors():
    ei = _edge_index(PAIRS)
    with pytest.raises(ValueError, match='omega'):
        item_item_neighbors(ei, 3, 4, 2, omega='both')
    with pytest.raises(ValueError, match="'k'"):
        item_item_neighbors(ei, 3, 4, 4, exclude_self=True)


@pytest.mark.parametrize('symmetric', [False, True])
def test_bipartite_pairs(symmetric):
    user, item = bipartite_pairs(_edge_index(PAIRS, symmetric=symmetric), 3, 4)
    assert list(zip(user.tolist(), item.tolist())) == PAIRS
    with pytest.raises(ValueError, match=r'\[2, E\]'):
        bipartite_pairs(torch.zeros(3, 2, dtype=torch.long), 3, 4)
    with pytest.raises(ValueError, match=r'\[0, 7\)'):
        bipartite_pairs(torch.tensor([[0], [7]]), 3, 4)
