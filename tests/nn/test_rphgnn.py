import math

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import HeteroData

from graphkit.models.rphgnn import RpHGNN
from graphkit.nn.rphgnn import RpHGNNPrecompute, random_projection


def _graph(seed=0):
    # paper (target, 7 nodes, d=5; paper 6 isolated everywhere), author (6, d=3), term (4, d=2; term 3 isolated).
    gen = torch.Generator().manual_seed(seed)
    data = HeteroData()
    for node_type, n, d in (('paper', 7, 5), ('author', 6, 3), ('term', 4, 2)):
        data[node_type].x = torch.randn(n, d, generator=gen)
    cite = torch.tensor([[0, 1, 1, 2, 4], [1, 2, 3, 3, 5]])
    data['paper', 'cite', 'paper'].edge_index = torch.cat([cite, cite.flip(0)], dim=1)
    writes = torch.tensor([[0, 0, 1, 2, 3, 4, 5, 5], [0, 1, 1, 2, 3, 4, 4, 5]])  # author 0..5 -> paper
    data['author', 'to', 'paper'].edge_index = writes
    data['paper', 'rev_to', 'author'].edge_index = writes.flip(0)
    has = torch.tensor([[0, 0, 1, 2, 3, 4, 5], [0, 1, 1, 2, 0, 2, 1]])  # paper -> term
    data['paper', 'to', 'term'].edge_index = has
    data['term', 'rev_to', 'paper'].edge_index = has.flip(0)
    return data


def _dense_mean(edge_index, num_src, num_dst):
    # Brute force: row b averages its incoming sources; rows without edges are zero.
    m = torch.zeros(num_dst, num_src, dtype=torch.float64)
    for a, b in edge_index.t().tolist():
        m[b, a] = 1.0
    deg = m.sum(1, keepdim=True)
    return torch.where(deg > 0, m / deg.clamp(min=1), m)


def _reference(data, target, K, seed, use_input=True, projection='sparse'):
    # The pseudo-code of the spec (A.2) with dense float64 matrices, collecting S_tau as lists first, and
    # drawing the projections in the documented order (per edge type: odd, then even).
    gen = torch.Generator().manual_seed(seed)
    x = {t: data[t].x.double() for t in data.node_types}
    d = {t: data[t].x.size(1) for t in data.node_types}
    collected = {}
    for t in range(K):
        S = {tau: [] for tau in data.node_types}
        for src, rel, dst in data.edge_types:
            ei = data[src, rel, dst].edge_index
            ns, nd = data[src].num_nodes, data[dst].num_nodes
            odd = _dense_mean(ei, ns, nd) @ x[src]
            even = _dense_mean(ei.flip(0), nd, ns) @ odd
            if dst == target:
                collected.setdefault(f'{src}__{rel}__{dst}:odd', []).append(odd)
            if src == target:
                collected.setdefault(f'{src}__{rel}__{dst}:even', []).append(even)
            if t < K - 1:
                S[dst].append(F.normalize(odd @ random_projection(d[src], d[dst], gen, projection).double(), dim=-1))
                S[src].append(F.normalize(even @ random_projection(d[src], d[src], gen, projection).double(), dim=-1))
        if t < K - 1:
            x = {tau: sum(S[tau]) if S[tau] else torch.zeros_like(x[tau]) for tau in data.node_types}
    out = {}
    for name, hs in collected.items():
        if use_input and name.endswith(':even'):
            hs = [data[target].x.double()] + hs
        out[name] = torch.stack(hs, dim=1)
    return out


@pytest.mark.parametrize('K', [1, 2, 3])
@pytest.mark.parametrize('use_input', [True, False])
@pytest.mark.parametrize('projection', ['sparse', 'gaussian'])
@pytest.mark.parametrize('sparse_cost', [None, 0.0])
def test_precompute_matches_dense_reference(K, use_input, projection, sparse_cost):
    data = _graph()
    pre = RpHGNNPrecompute(K, 'paper', projection=projection, use_input=use_input, dtype=torch.float32)
    pre._sparse_cost = sparse_cost  # None: project every tensor itself; 0.0: project before the last spmm if smaller
    groups = pre(data, torch.Generator().manual_seed(3))
    shapes = pre.group_shapes(data)
    ref = _reference(data, 'paper', K, seed=3, use_input=use_input, projection=projection)
    assert [name for name, _, _ in shapes] == [
        'paper__cite__paper:odd',
        'paper__cite__paper:even',
        'author__to__paper:odd',
        'paper__rev_to__author:even',
        'term__rev_to__paper:odd',
        'paper__to__term:even',
    ]
    assert len(groups) == len(shapes) == len(ref)
    for (name, s, w), g in zip(shapes, groups):
        assert g.dtype == torch.float32 and g.shape == (7, s, w)
        assert s == K + int(use_input and name.endswith(':even'))
        torch.testing.assert_close(g.double(), ref[name], atol=1e-5, rtol=1e-5)
    # The isolated paper 6 gets zero neighbourhood averages (only its raw input slice survives).
    for (name, _, _), g in zip(shapes, groups):
        start = int(use_input and name.endswith(':even'))
        assert (g[6, start:] == 0).all()


def test_precompute_first_iteration_by_hand():
    data = _graph()
    groups = RpHGNNPrecompute(1, 'paper', use_input=False, dtype=torch.float32)(data, torch.Generator())
    xa, xp = data['author'].x, data['paper'].x
    # Paper 1 is written by authors 0 and 1: its odd author group is their mean.
    torch.testing.assert_close(groups[2][1, 0], (xa[0] + xa[1]) / 2)
    # Paper 3 cites 1 and 2 (symmetrised): odd cite = mean of papers 1, 2.
    torch.testing.assert_close(groups[0][3, 0], (xp[1] + xp[2]) / 2)


def test_precompute_seeds_and_shapes():
    data = _graph()
    pre = RpHGNNPrecompute(3, 'paper')
    a = pre(data, torch.Generator().manual_seed(0))
    b = pre(data, torch.Generator().manual_seed(0))
    c = pre(data, torch.Generator().manual_seed(1))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert any(not torch.equal(x, y) for x, y in zip(a, c))
    # Iteration 1 uses no projection: identical for every seed.
    assert all(torch.equal(x[:, -3], y[:, -3]) for x, y in zip(a, c))
    assert pre.group_shapes(data) == [(n, g.size(1), g.size(2)) for (n, _, _), g in zip(pre.group_shapes(data), c)]
    assert all(g.dtype == torch.float16 and g.device.type == 'cpu' for g in a)


def test_precompute_target_author():
    data = _graph()
    pre = RpHGNNPrecompute(2, 'author', use_input=True)
    assert pre.group_shapes(data) == [('paper__rev_to__author:odd', 2, 5), ('author__to__paper:even', 3, 3)]
    groups = pre(data, torch.Generator().manual_seed(0))
    assert [tuple(g.shape) for g in groups] == [(6, 2, 5), (6, 3, 3)]


def test_random_projection_distribution():
    gen = torch.Generator().manual_seed(0)
    p = random_projection(300, 200, gen, 'sparse', 3.0)
    s = math.sqrt(3.0)
    values, counts = torch.unique(p, return_counts=True)
    torch.testing.assert_close(values, torch.tensor([-s, 0.0, s]))
    freq = counts.double() / p.numel()
    torch.testing.assert_close(freq, torch.tensor([1 / 6, 2 / 3, 1 / 6], dtype=torch.float64), atol=0.01, rtol=0)
    g = random_projection(300, 200, gen, 'gaussian')
    assert abs(float(g.std()) - math.sqrt(2 / 500)) < 0.002


def test_squashed_rows_have_bounded_norm():
    # Each summand of X_tau is unit-norm or zero, so ||X_tau^(1)_i|| <= |S_tau|; the even author group of
    # iteration 2 is a mean of such rows.
    data = _graph()
    groups = RpHGNNPrecompute(2, 'author', use_input=False, dtype=torch.float32)(data, torch.Generator())
    # author's S has 2 tensors (odd from papers, even via papers): rows of X_author^(1) have norm <= 2.
    assert float(groups[1][:, 1].norm(dim=-1).max()) <= 2.0 + 1e-5


def test_fp16_storage_close_to_fp32():
    data = _graph()
    fp16 = RpHGNNPrecompute(2, 'paper', dtype=torch.float16)(data, torch.Generator().manual_seed(5))
    fp32 = RpHGNNPrecompute(2, 'paper', dtype=torch.float32)(data, torch.Generator().manual_seed(5))
    shapes = RpHGNNPrecompute(2, 'paper').group_shapes(data)
    torch.manual_seed(0)
    model = RpHGNN(shapes, 3, hidden_channels=16).eval()
    with torch.no_grad():
        diff = (model(fp16) - model(fp32)).abs().max()
    assert float(diff) < 1e-2  # fp16 keeps ~3 decimal digits of every input


def test_precompute_validation():
    data = _graph()
    with pytest.raises(ValueError, match="'num_iterations'"):
        RpHGNNPrecompute(0, 'paper')
    with pytest.raises(ValueError, match="'projection'"):
        RpHGNNPrecompute(2, 'paper', projection='dense')
    with pytest.raises(ValueError, match="'sparsity'"):
        RpHGNNPrecompute(2, 'paper', sparsity=0.5)
    with pytest.raises(ValueError, match='target'):
        RpHGNNPrecompute(2, 'venue').group_shapes(data)
    with pytest.raises(ValueError, match="'generator'"):
        RpHGNNPrecompute(2, 'paper')(data, 0)
    del data['term', 'rev_to', 'paper']
    with pytest.raises(ValueError, match='ToUndirected'):
        RpHGNNPrecompute(2, 'paper').group_shapes(data)
    data = _graph()
    del data['term'].x
    with pytest.raises(ValueError, match="'term'"):
        RpHGNNPrecompute(2, 'paper').group_shapes(data)


def test_precompute_repr():
    expected = "RpHGNNPrecompute(num_iterations=6, target='paper', projection='sparse')"
    assert str(RpHGNNPrecompute(6, 'paper')) == expected
