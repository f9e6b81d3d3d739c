import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphkit import ops
from graphkit.ops import cn_backend as cnb
from graphkit.ops import cn_count, cn_sum, common_neighbors, to_csr
from tests.ops._ops_graphs import as_index, coo_to_sets, neighbour_sets


@st.composite
def graphs_of_density(draw, max_nodes=24, max_pairs=12):
    """(n, edges, pairs) with the edge count drawn up to a complete graph: sparse and dense graphs both occur."""
    n = draw(st.integers(1, max_nodes))
    node = st.integers(0, n - 1)
    density = draw(st.sampled_from([0.05, 0.2, 0.5, 0.9, 1.0]))
    edges = draw(st.lists(st.tuples(node, node), max_size=int(density * n * n) + 1))
    pairs = draw(st.lists(st.tuples(node, node), max_size=max_pairs))
    return n, edges, pairs


def _brute(nbrs, pairs, x):
    sets = [nbrs[i] & nbrs[j] for i, j in pairs]
    z = torch.zeros(len(pairs), x.size(1), dtype=torch.float64)
    for b, s in enumerate(sets):
        for u in s:
            z[b] += x[u].double()
    return sets, z


@settings(max_examples=60, deadline=None)
@given(graphs_of_density(), st.sampled_from(['sparse', 'dense', 'auto']), st.sampled_from(['remove', 'keep']))
def test_every_backend_equals_brute_force(g, backend, loops):
    n, edges, pairs = g
    nbrs = neighbour_sets(n, edges, True, loops)
    adj = to_csr(as_index(edges), n, self_loops=loops)
    p = as_index(pairs)
    x = torch.randn(n, 3, dtype=torch.float64, requires_grad=True)
    sets, z = _brute(nbrs, pairs, x.detach())
    with ops.use_cn_backend(backend):
        out = common_neighbors(adj, p, differences=True)
        plain = common_neighbors(adj, p).cn
        count = cn_count(adj, p)
        pooled = cn_sum(adj, p, x)
    b = len(pairs)
    assert coo_to_sets(out.cn, b) == sets
    assert torch.equal(plain, out.cn)
    assert coo_to_sets(out.only_i, b) == [nbrs[i] - nbrs[j] for i, j in pairs]
    assert coo_to_sets(out.only_j, b) == [nbrs[j] - nbrs[i] for i, j in pairs]
    for coo in out:  # sorted by (pair, node), int64, as the sparse path returns them
        assert coo.dtype == torch.long
        assert torch.all(coo[0, 1:] * n + coo[1, 1:] > coo[0, :-1] * n + coo[1, :-1])
    assert torch.equal(count, torch.tensor([float(len(s)) for s in sets]))
    assert torch.allclose(pooled, z)
    # The gradient of sum(z * g) w.r.t. x is S^T g: each pair adds g_b to the rows of its common neighbours.
    g_out = torch.randn_like(pooled)
    # (The sparse path returns a constant zero tensor when no pair has a common neighbour.)
    (grad,) = torch.autograd.grad((pooled * g_out).sum(), x) if pooled.requires_grad else (torch.zeros_like(x),)
    expected = torch.zeros(n, 3, dtype=torch.float64)
    for k, s in enumerate(sets):
        for u in s:
            expected[u] += g_out[k]
    assert torch.allclose(grad, expected)


@settings(max_examples=30, deadline=None)
@given(graphs_of_density(max_nodes=16))
def test_weighted_and_one_dimensional_sums_agree(g):
    n, edges, pairs = g
    adj, p = to_csr(as_index(edges), n), as_index(pairs)
    x, w = torch.randn(n), torch.rand(n, requires_grad=True)
    outs = []
    for backend in ('sparse', 'dense'):
        with ops.use_cn_backend(backend):
            z = cn_sum(adj, p, x, w)
            (gw,) = torch.autograd.grad(z.sum(), w) if z.requires_grad else (torch.zeros(n),)
            outs.append((z, gw))
    assert torch.allclose(outs[0][0], outs[1][0], atol=1e-5)
    assert torch.allclose(outs[0][1], outs[1][1], atol=1e-5)


def _degree_for_switch(n, num_pairs):
    # The mean degree at which the automatic choice flips for sets: n = KAPPA * d * log2(2 B d).
    lo, hi = 1e-3, float(n)
    for _ in range(60):
        d = (lo + hi) / 2
        lo, hi = (d, hi) if cnb.KAPPA * d * math.log2(max(2 * num_pairs * d, 2)) < n else (lo, d)
    return hi


@pytest.mark.parametrize('side', [-1, 1])
def test_auto_switches_at_the_model_and_both_sides_agree(side):
    n, b = 400, 64
    d = _degree_for_switch(n, b)
    nnz = max(int(round(d * n)) + side * 40, 0)
    gen = torch.Generator().manual_seed(side + 5)
    flat = torch.randperm(n * n, generator=gen)
    flat = flat[flat // n != flat % n][:nnz]
    adj = ops.csr_tensor(*_csr_parts(flat, n), None, n)
    assert adj.col_indices().numel() == nnz
    expected = 'dense' if side > 0 else 'sparse'
    assert cnb.choose_backend(n, nnz, b) == expected
    pairs = torch.randint(0, n, (2, b), generator=gen)
    before = cnb.cn_backend_counts()
    auto = common_neighbors(adj, pairs, differences=True)
    after = cnb.cn_backend_counts()
    assert after[expected] == before[expected] + 1
    other = 'sparse' if expected == 'dense' else 'dense'
    with ops.use_cn_backend(other):
        forced = common_neighbors(adj, pairs, differences=True)
    for a, c in zip(auto, forced):
        assert torch.equal(a, c)


def _csr_parts(flat, n):
    flat = flat.sort().values
    row, col = flat // n, flat % n
    rowptr = torch.zeros(n + 1, dtype=torch.long)
    rowptr[1:] = torch.bincount(row, minlength=n).cumsum(0)
    return rowptr, col


def test_choice_by_density_and_size():
    assert cnb.choose_backend(4267, 2_135_822, 49152, 224) == 'dense'  # ogbl-ddi, a training batch
    assert cnb.choose_backend(4267, 2_135_822, 49152) == 'dense'
    assert cnb.choose_backend(2708, 7400, 2304, 256) == 'sparse'  # Cora
    assert cnb.choose_backend(2708, 7400, 2304) == 'sparse'
    assert cnb.choose_backend(3_000_000, 60_000_000, 65536, 64) == 'sparse'  # mask too large
    assert cnb.choose_backend(10, 0, 5) == 'sparse'
    assert cnb.choose_backend(10, 90, 0) == 'sparse'


def test_set_get_and_context():
    assert ops.get_cn_backend() == 'auto'
    try:
        ops.set_cn_backend('dense')
        assert ops.get_cn_backend() == 'dense'
        assert cnb.choose_backend(2708, 7400, 2304) == 'dense'
        with ops.use_cn_backend('auto'):
            assert cnb.choose_backend(2708, 7400, 2304) == 'sparse'
        assert ops.get_cn_backend() == 'dense'
    finally:
        ops.set_cn_backend('auto')
    with pytest.raises(ValueError, match="'backend' must be one of auto, sparse, dense"):
        ops.set_cn_backend('gpu')
    with pytest.raises(ValueError, match='auto, sparse, dense'):
        with ops.use_cn_backend('bitset'):
            pass


def test_dense_path_is_chunked(monkeypatch):
    # Many small chunks give the same result as one: the working memory is bounded by CHUNK_ELEMENTS.
    gen = torch.Generator().manual_seed(0)
    n = 50
    adj = to_csr(torch.randint(0, n, (2, 600), generator=gen), n)
    pairs = torch.randint(0, n, (2, 97), generator=gen)
    x = torch.randn(n, 4, generator=gen)
    with ops.use_cn_backend('dense'):
        whole = common_neighbors(adj, pairs, differences=True), cn_count(adj, pairs), cn_sum(adj, pairs, x)
        monkeypatch.setattr(cnb, 'CHUNK_ELEMENTS', 3 * n)  # 3 pairs per chunk
        cnb._MASK_CACHE = None
        chunked = common_neighbors(adj, pairs, differences=True), cn_count(adj, pairs), cn_sum(adj, pairs, x)
    for a, c in zip(whole[0], chunked[0]):
        assert torch.equal(a, c)
    assert torch.equal(whole[1], chunked[1])
    assert torch.allclose(whole[2], chunked[2])


def test_mask_cache_follows_the_adjacency():
    a = to_csr(torch.tensor([[0, 1], [1, 2]]), 3)
    b = to_csr(torch.tensor([[0], [2]]), 3)
    pairs = torch.tensor([[0], [2]])
    with ops.use_cn_backend('dense'):
        assert cn_count(a, pairs).tolist() == [1.0]
        assert cn_count(b, pairs).tolist() == [0.0]
        assert cn_count(a, pairs).tolist() == [1.0]


def test_workspace_is_reused_per_thread_and_results_do_not_leak():
    # The dense path's chunk buffer survives calls (no fresh pages each time) but never their results:
    # calls on other graphs, sizes and threads, in any order, equal brute force.
    import threading

    gen = torch.Generator().manual_seed(1)
    graphs = []
    for n, e in ((30, 300), (45, 500), (30, 50)):
        adj = to_csr(torch.randint(0, n, (2, e), generator=gen), n)
        nbrs = [set(adj.col_indices()[adj.crow_indices()[u] : adj.crow_indices()[u + 1]].tolist()) for u in range(n)]
        graphs.append((n, adj, nbrs))
    ops.release_workspace()
    with ops.use_cn_backend('dense'):

        def check(n, adj, nbrs, b, out):
            pairs = torch.randint(0, n, (2, b), generator=torch.Generator().manual_seed(b))
            x = torch.randn(n, 3, generator=torch.Generator().manual_seed(n))
            expect = [[float(x[list(nbrs[i] & nbrs[j]), k].sum()) for k in range(3)] for i, j in pairs.t().tolist()]
            out.append(torch.allclose(cn_sum(adj, pairs, x), torch.tensor(expect), atol=1e-5))
            out.append(cn_count(adj, pairs).tolist() == [float(len(nbrs[i] & nbrs[j])) for i, j in pairs.t().tolist()])

        out = []
        check(*graphs[0], 40, out)
        buf = cnb._WORKSPACE.buffers[torch.float32]
        check(*graphs[0], 17, out)  # smaller: the same buffer
        assert cnb._WORKSPACE.buffers[torch.float32] is buf
        check(*graphs[1], 60, out)  # another N: a new one
        assert cnb._WORKSPACE.buffers[torch.float32].size(2) == 45
        check(*graphs[2], 25, out)
        threads = [threading.Thread(target=check, args=(*g, 33 + k, out)) for k, g in enumerate(graphs * 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(out) == 2 * (4 + len(threads)) and all(out)
    ops.release_workspace()
    assert not hasattr(cnb._WORKSPACE, 'buffers')
