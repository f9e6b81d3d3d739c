import pytest
import torch
from hypothesis import given, settings

from graphkit.ops import (
    check_edge_index,
    csr_parts,
    degree,
    edge_positions,
    gcn_norm,
    pairs_to_csr,
    remove_edges,
    remove_positions,
    rw_norm,
    to_csr,
)
from tests.ops._ops_graphs import as_index, graphs, neighbour_sets


def dense_from_sets(nbrs):
    n = len(nbrs)
    out = torch.zeros(n, n)
    for i, s in enumerate(nbrs):
        out[i, list(s)] = 1.0
    return out


def test_check_edge_index():
    ei = torch.tensor([[0, 1], [1, 3]])
    assert check_edge_index(ei) == 4
    assert check_edge_index(ei.int(), 10) == 10
    assert check_edge_index(torch.empty(2, 0, dtype=torch.long)) == 0
    assert check_edge_index(torch.empty(2, 0, dtype=torch.long), 5) == 5
    with pytest.raises(ValueError, match="'edge_index'.*integer dtype"):
        check_edge_index(ei.float())
    with pytest.raises(ValueError, match="'pairs'.*shape \\(2, E\\)"):
        check_edge_index(torch.zeros(3, 2, dtype=torch.long), name='pairs')
    with pytest.raises(ValueError, match="'edge_index'.*shape"):
        check_edge_index(torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="'edge_index'.*negative"):
        check_edge_index(torch.tensor([[0, -1], [1, 1]]))
    with pytest.raises(ValueError, match="'edge_index'.*\\[0, 3\\)"):
        check_edge_index(ei, 3)
    with pytest.raises(ValueError, match="'num_nodes'"):
        check_edge_index(ei, -1)
    with pytest.raises(ValueError, match="'edge_index'.*torch.Tensor"):
        check_edge_index([[0], [1]])


def test_to_csr_small():
    ei = torch.tensor([[0, 1, 1, 2, 3, 0], [1, 0, 2, 2, 3, 1]], dtype=torch.int32)
    adj = to_csr(ei, num_nodes=5)
    assert adj.layout == torch.sparse_csr and adj.dtype == torch.float32
    assert adj.shape == (5, 5)
    rowptr, col = csr_parts(adj)
    assert rowptr.tolist() == [0, 1, 3, 4, 4, 4]
    assert col.tolist() == [1, 0, 2, 1]
    assert rowptr.dtype == col.dtype == torch.long
    assert to_csr(ei, 5, self_loops='keep').to_dense().diagonal().tolist() == [0, 0, 1, 1, 0]
    assert to_csr(ei, 5, self_loops='add').to_dense().diagonal().tolist() == [1, 1, 1, 1, 1]
    directed = to_csr(ei, 5, symmetric=False).to_dense()
    assert directed[1, 2] == 1 and directed[2, 1] == 0


def test_to_csr_empty_and_errors():
    adj = to_csr(torch.empty(2, 0, dtype=torch.long), num_nodes=4)
    assert adj.shape == (4, 4) and adj._nnz() == 0
    assert csr_parts(adj)[0].tolist() == [0] * 5
    assert to_csr(torch.empty(2, 0, dtype=torch.long)).shape == (0, 0)
    ei = torch.tensor([[0], [1]])
    with pytest.raises(ValueError, match="'self_loops'"):
        to_csr(ei, self_loops='drop')
    with pytest.raises(ValueError, match="'edge_index'.*integer dtype"):
        to_csr(ei.float())
    with pytest.raises(ValueError, match="'edge_index'.*\\[0, 1\\)"):
        to_csr(ei, num_nodes=1)


def test_to_csr_accepts_csr():
    adj = to_csr(torch.tensor([[0, 1], [1, 2]]), 3)
    assert to_csr(adj) is adj
    assert to_csr(adj, 3) is adj
    with pytest.raises(ValueError, match="'num_nodes'"):
        to_csr(adj, 4)
    rect = torch.ones(2, 3).to_sparse_csr()
    with pytest.raises(ValueError, match="'edge_index'.*square"):
        to_csr(rect)
    with pytest.raises(ValueError, match="'adj'.*CSR"):
        degree(torch.ones(3, 3))


@settings(max_examples=60, deadline=None)
@given(graphs())
def test_to_csr_matches_sets(g):
    n, edges, _ = g
    for symmetric in (True, False):
        for loops in ('remove', 'keep', 'add'):
            adj = to_csr(as_index(edges), n, symmetric=symmetric, self_loops=loops)
            expected = dense_from_sets(neighbour_sets(n, edges, symmetric, loops))
            assert torch.equal(adj.to_dense(), expected)
            rowptr, col = csr_parts(adj)
            for i in range(n):  # sorted, unique columns per row
                row = col[rowptr[i] : rowptr[i + 1]]
                assert torch.all(row[1:] > row[:-1])


@settings(max_examples=40, deadline=None)
@given(graphs())
def test_degree_and_norms_vs_dense(g):
    n, edges, _ = g
    adj = to_csr(as_index(edges), n, self_loops='keep')
    a = adj.to_dense()
    assert torch.equal(degree(adj), (a != 0).sum(1).float())
    assert torch.allclose(degree(adj, weighted=True), a.sum(1))

    d = 1.0 + a.sum(1)  # D~ = 1 + rowsum(A)
    expected = d.pow(-0.5).view(-1, 1) * (a + torch.eye(n)) * d.pow(-0.5)
    assert torch.allclose(gcn_norm(adj).to_dense(), expected, atol=1e-6)

    d = a.sum(1)
    dinv = torch.where(d > 0, d.pow(-0.5), torch.zeros_like(d))
    expected = dinv.view(-1, 1) * a * dinv
    assert torch.allclose(gcn_norm(adj, add_self_loops=False).to_dense(), expected, atol=1e-6)

    dinv = torch.where(d > 0, 1.0 / d, torch.zeros_like(d))
    assert torch.allclose(rw_norm(adj).to_dense(), dinv.view(-1, 1) * a)


def test_gcn_norm_hand_computed():
    # Path 0 - 1 - 2: D~ = (2, 3, 2).
    adj = to_csr(torch.tensor([[0, 1], [1, 2]]))
    out = gcn_norm(adj).to_dense()
    assert out[0, 0] == pytest.approx(1 / 2)
    assert out[0, 1] == pytest.approx(1 / 6**0.5)
    assert out[1, 1] == pytest.approx(1 / 3)
    assert out[0, 2] == 0


@settings(max_examples=60, deadline=None)
@given(graphs())
def test_remove_edges(g):
    n, edges, pairs = g
    for symmetric in (True, False):
        adj = to_csr(as_index(edges), n, symmetric=symmetric, self_loops='keep')
        out = remove_edges(adj, as_index(pairs))
        expected = adj.to_dense()
        for i, j in pairs:
            expected[i, j] = expected[j, i] = 0
        assert torch.equal(out.to_dense(), expected)
        assert out.layout == torch.sparse_csr
        rowptr, col = csr_parts(out)
        assert rowptr[-1] == col.numel() == int((expected != 0).sum())


@settings(max_examples=60, deadline=None)
@given(graphs(max_pairs=12))
def test_positions_looked_up_once_remove_like_remove_edges(g):
    # Target-link removal as a mask: positions of all pairs once, then any subset (a batch) per call.
    n, edges, pairs = g
    for symmetric in (True, False):
        adj = to_csr(as_index(edges), n, symmetric=symmetric, self_loops='keep')
        p = as_index(pairs)
        pos = edge_positions(adj, p)
        rowptr, col = csr_parts(adj)
        row = torch.repeat_interleave(torch.arange(n), rowptr.diff())
        for b, (i, j) in enumerate(pairs):
            for side, (a, c) in enumerate(((i, j), (j, i))):
                k = int(pos[side, b])
                present = bool(adj.to_dense()[a, c] != 0)
                assert (k >= 0) == present
                assert k < 0 or (int(row[k]), int(col[k])) == (a, c)
        for subset in (slice(None), slice(0, None, 2)):
            out = remove_positions(adj, pos[:, subset])
            ref = remove_edges(adj, p[:, subset])
            assert torch.equal(out.to_dense(), ref.to_dense())
            assert torch.equal(out.crow_indices(), ref.crow_indices())


def test_remove_positions_validates():
    adj = to_csr(torch.tensor([[0, 1], [1, 2]]))
    with pytest.raises(ValueError, match="'positions' holds position 9"):
        remove_positions(adj, torch.tensor([9]))
    assert torch.equal(remove_positions(adj, torch.tensor([-1, -1])).to_dense(), adj.to_dense())


def test_remove_edges_keeps_values_and_validates():
    adj = gcn_norm(to_csr(torch.tensor([[0, 1, 2], [1, 2, 3]])))
    out = remove_edges(adj, torch.tensor([[2, 0], [1, 3]]))  # (0, 3) absent
    a, b = adj.to_dense(), out.to_dense()
    assert b[1, 2] == 0 and b[2, 1] == 0
    a[1, 2] = a[2, 1] = 0
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="'pairs'"):
        remove_edges(adj, torch.tensor([[0], [4]]))


def test_pairs_to_csr_matches_dense():
    gen = torch.Generator().manual_seed(0)
    pairs = torch.stack([torch.randint(5, (40,), generator=gen), torch.randint(7, (40,), generator=gen)])
    out = pairs_to_csr(pairs, 5, 7)
    dense = torch.zeros(5, 7)
    dense[pairs[0], pairs[1]] = 1.0
    assert out.shape == (5, 7) and torch.equal(out.to_dense(), dense)
    assert torch.equal(pairs_to_csr(pairs[:, :0], 5, 7).to_dense(), torch.zeros(5, 7))
    with pytest.raises(ValueError, match="'pairs'"):
        pairs_to_csr(pairs, 5, 6)


def test_to_csr_sorts_the_columns_of_a_csr_input():
    # e.g. the output of torch.sparse.mm: valid CSR with unsorted columns inside a row
    a = torch.sparse_csr_tensor(
        torch.tensor([0, 2, 3, 3]), torch.tensor([2, 0, 1]), torch.tensor([1.0, 2.0, 3.0]), (3, 3)
    )
    b = to_csr(a)
    assert b.col_indices().tolist() == [0, 2, 1] and b.crow_indices().tolist() == [0, 2, 3, 3]
    assert torch.equal(b.to_dense(), a.to_dense())  # the values follow their columns
