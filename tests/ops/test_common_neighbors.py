import networkx as nx
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphkit.ops import (
    CommonNeighbors,
    cn_count,
    cn_sum,
    common_neighbors,
    csr_tensor,
    pool_pairs,
    remove_edges,
    sample_per_row,
    to_csr,
    two_hop_stack,
)
from tests.ops._ops_graphs import as_index, coo_to_sets, graphs, neighbour_sets


def is_sorted_by_pair_node(coo):
    keys = coo[0] * (1 << 32) + coo[1]
    return bool(torch.all(keys[1:] > keys[:-1]))


@settings(max_examples=80, deadline=None)
@given(graphs(), st.sampled_from([(True, 'remove'), (True, 'keep'), (True, 'add'), (False, 'keep')]))
def test_common_neighbors_vs_sets(g, policy):
    n, edges, pairs = g
    symmetric, loops = policy
    nbrs = neighbour_sets(n, edges, symmetric, loops)
    adj = to_csr(as_index(edges), n, symmetric=symmetric, self_loops=loops)
    out = common_neighbors(adj, as_index(pairs), differences=True)
    assert isinstance(out, CommonNeighbors)
    for coo in out:
        assert coo.shape[0] == 2 and coo.dtype == torch.long
        assert is_sorted_by_pair_node(coo)
    b = len(pairs)
    assert coo_to_sets(out.cn, b) == [nbrs[i] & nbrs[j] for i, j in pairs]
    assert coo_to_sets(out.only_i, b) == [nbrs[i] - nbrs[j] for i, j in pairs]
    assert coo_to_sets(out.only_j, b) == [nbrs[j] - nbrs[i] for i, j in pairs]

    plain = common_neighbors(adj, as_index(pairs))
    assert torch.equal(plain.cn, out.cn)
    assert plain.only_i is None and plain.only_j is None
    expected = torch.tensor([len(nbrs[i] & nbrs[j]) for i, j in pairs], dtype=torch.float32)
    assert torch.equal(cn_count(adj, as_index(pairs)), expected)


def test_self_loop_semantics_and_self_pairs():
    ei = torch.tensor([[0, 0, 1], [1, 2, 2]])
    pairs = torch.tensor([[0, 1, 2], [1, 1, 2]])
    out = common_neighbors(to_csr(ei), pairs, differences=True)
    assert coo_to_sets(out.cn, 3) == [{2}, {0, 2}, {0, 1}]
    assert out.only_i[:, out.only_i[0] > 0].numel() == 0  # (i, i): empty diff
    # With self-loops in adj, i ∈ N(i): the endpoints count for each other.
    out = common_neighbors(to_csr(ei, self_loops='add'), pairs)
    assert coo_to_sets(out.cn, 3) == [{0, 1, 2}] * 3


def test_vs_networkx():
    g = nx.gnm_random_graph(60, 200, seed=1)
    g.add_nodes_from(range(60, 70))  # isolated nodes
    ei = torch.tensor(list(g.edges)).t()
    adj = to_csr(ei, 70)
    gen = torch.Generator().manual_seed(0)
    pairs = torch.randint(0, 70, (2, 300), generator=gen)
    cn = coo_to_sets(common_neighbors(adj, pairs).cn, 300)
    for b, (i, j) in enumerate(pairs.t().tolist()):
        assert cn[b] == set(nx.common_neighbors(g, i, j))


def test_empty_batch_and_empty_graph():
    adj = to_csr(torch.tensor([[0, 1], [1, 2]]), 4)
    empty = torch.empty(2, 0, dtype=torch.long)
    out = common_neighbors(adj, empty, differences=True)
    for coo in out:
        assert coo.shape == (2, 0) and coo.dtype == torch.long
    assert cn_count(adj, empty).shape == (0,)
    assert cn_sum(adj, empty, torch.randn(4, 3)).shape == (0, 3)
    no_edges = to_csr(empty, 4)
    pairs = torch.tensor([[0, 3], [1, 3]])
    assert cn_count(no_edges, pairs).tolist() == [0.0, 0.0]
    assert torch.equal(cn_sum(no_edges, pairs, torch.ones(4, 2)), torch.zeros(2, 2))


def test_validation():
    adj = to_csr(torch.tensor([[0, 1], [1, 2]]))
    with pytest.raises(ValueError, match="'pairs'.*\\[0, 3\\)"):
        common_neighbors(adj, torch.tensor([[0], [3]]))
    with pytest.raises(ValueError, match="'pairs'.*integer"):
        common_neighbors(adj, torch.tensor([[0.0], [1.0]]))
    with pytest.raises(ValueError, match="'adj'"):
        common_neighbors(adj.to_dense(), torch.tensor([[0], [1]]))
    with pytest.raises(ValueError, match="'x'"):
        cn_sum(adj, torch.tensor([[0], [1]]), torch.randn(4, 2))
    with pytest.raises(ValueError, match="'weight'"):
        cn_sum(adj, torch.tensor([[0], [1]]), torch.randn(3, 2), torch.ones(2))
    with pytest.raises(ValueError, match="'coo'"):
        pool_pairs(torch.tensor([[2], [0]]), torch.randn(3, 2), num_pairs=2)
    with pytest.raises(ValueError, match="'k'"):
        sample_per_row(torch.tensor([[0], [0]]), 0, 1)


@settings(max_examples=50, deadline=None)
@given(graphs(), st.booleans())
def test_cn_sum_vs_brute_force(g, weighted):
    n, edges, pairs = g
    nbrs = neighbour_sets(n, edges)
    adj = to_csr(as_index(edges), n)
    gen = torch.Generator().manual_seed(len(edges))
    x = torch.randn(n, 3, generator=gen, dtype=torch.float64)
    w = torch.rand(n, generator=gen, dtype=torch.float64) if weighted else None
    out = cn_sum(adj, as_index(pairs), x, w)
    expected = torch.zeros(len(pairs), 3, dtype=torch.float64)
    for b, (i, j) in enumerate(pairs):
        for u in nbrs[i] & nbrs[j]:
            expected[b] += x[u] * (1.0 if w is None else w[u])
    assert torch.allclose(out, expected)
    out1 = cn_sum(adj, as_index(pairs), x[:, 0], w)
    assert out1.shape == (len(pairs),)
    assert torch.allclose(out1, expected[:, 0])


def test_cn_sum_gradient(extensions):
    gen = torch.Generator().manual_seed(0)
    adj = to_csr(torch.randint(0, 10, (2, 30), generator=gen), 10)
    pairs = torch.randint(0, 10, (2, 8), generator=gen)
    x = torch.randn(10, 2, dtype=torch.float64, requires_grad=True)
    w = torch.rand(10, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w: cn_sum(adj, pairs, x, w), (x, w))
    assert torch.autograd.gradcheck(lambda x: cn_sum(adj, pairs, x), (x,))


def test_pool_pairs_unsorted_with_duplicates(extensions):
    coo = torch.tensor([[2, 0, 2, 0, 1], [1, 3, 1, 0, 3]])
    w = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    x = torch.randn(4, 2)
    out = pool_pairs(coo, x, num_pairs=4, weight=w)
    expected = torch.stack([2 * x[3] + 4 * x[0], 5 * x[3], 4 * x[1], torch.zeros(2)])
    assert torch.allclose(out, expected)
    assert torch.allclose(pool_pairs(coo, x, 4), pool_pairs(coo, x, 4, torch.ones(5)))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.lists(st.integers(0, 12), max_size=8), st.integers(0, 2**31))
def test_sample_per_row(k, sizes, seed):
    num_pairs = len(sizes)
    rows = [b for b, c in enumerate(sizes) for _ in range(c)]
    nodes = [u for c in sizes for u in range(c)]
    coo = torch.tensor([rows, nodes], dtype=torch.long).view(2, -1)
    gen = torch.Generator().manual_seed(seed)
    out, w = sample_per_row(coo, k, num_pairs, gen)
    assert out.shape[1] == w.numel() and w.dtype == torch.float32
    counts = torch.bincount(out[0], minlength=num_pairs)
    wsum = torch.zeros(num_pairs).index_add_(0, out[0], w)
    for b, c in enumerate(sizes):
        assert counts[b] == min(c, k)
        assert wsum[b].item() == pytest.approx(c)
        sel = out[1, out[0] == b]
        assert set(sel.tolist()) <= set(range(c))
        if c <= k:
            assert sorted(sel.tolist()) == list(range(c))
            assert torch.all(w[out[0] == b] == 1)
    keys = out[0] * (1 << 32) + out[1]
    assert torch.all(keys[1:] >= keys[:-1])
    out2, w2 = sample_per_row(coo, k, num_pairs, torch.Generator().manual_seed(seed))
    assert torch.equal(out, out2) and torch.equal(w, w2)


def test_sample_per_row_unbiased():
    # 4000 identical rows of 50 entries, k = 5: the mean pooled sum over rows
    # estimates the expectation, which must equal the full sum.
    rows = torch.arange(4000).repeat_interleave(50)
    coo = torch.stack([rows, torch.arange(50).repeat(4000)])
    x = torch.randn(50, dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    c, w = sample_per_row(coo, 5, 4000, gen)
    assert torch.all(w == 10.0)
    pooled = pool_pairs(c, x, 4000, w)
    stderr = pooled.std() / 4000**0.5
    assert abs(pooled.mean() - x.sum()) < 4 * stderr


def test_target_link_removal_changes_cn():
    # After removing (0, 1), 0 and 1 no longer count as each other's neighbour.
    ei = torch.tensor([[0, 0, 1, 1, 2], [1, 2, 2, 3, 3]])
    adj = to_csr(ei)
    pairs = torch.tensor([[0, 2], [3, 1]])
    assert cn_count(adj, pairs).tolist() == [2.0, 2.0]
    adj_b = remove_edges(adj, torch.tensor([[0], [1]]))
    assert cn_count(adj_b, pairs).tolist() == [1.0, 1.0]


@settings(max_examples=60, deadline=None)
@given(graphs(), st.sampled_from([(True, 'remove'), (True, 'keep'), (False, 'keep')]))
def test_two_hop_stack_vs_dense(g, policy):
    n, edges, pairs = g
    symmetric, loops = policy
    adj = to_csr(as_index(edges), n, symmetric=symmetric, self_loops=loops)
    stack = two_hop_stack(adj)
    a = (adj.to_dense() != 0).float()
    expected = torch.zeros(2 * n, 2 * n)
    expected[:n, :n] = a
    expected[n:, :n] = ((a @ a) > 0).float()  # brute force: the support of A^2
    assert stack.layout == torch.sparse_csr and stack.shape == (2 * n, 2 * n)
    assert torch.equal(stack.to_dense(), expected)
    assert to_csr(stack) is stack  # sorted, unique columns per row
    # CN(i, N + j) on the stack is N(i) & N_2(j).
    nbrs = neighbour_sets(n, edges, symmetric, loops)
    two_hop = [set().union(*(nbrs[u] for u in nbrs[j])) for j in range(n)]
    shifted = torch.stack([as_index(pairs)[0], as_index(pairs)[1] + n])
    assert coo_to_sets(common_neighbors(stack, shifted).cn, len(pairs)) == [nbrs[i] & two_hop[j] for i, j in pairs]


def test_two_hop_stack_ignores_values():
    adj = to_csr(torch.tensor([[0, 1], [1, 2]]), 3)
    weighted = csr_tensor(adj.crow_indices(), adj.col_indices(), adj.values() * 0.5, adj.size())
    assert torch.equal(two_hop_stack(weighted).to_dense(), two_hop_stack(adj).to_dense())
