import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphkit.ops import adjacency_power_sum, csr_parts, csr_to_coo, to_csr
from tests.ops._ops_graphs import as_index, graphs


def brute_gamma(n, edges, order, cumulative):
    """Gamma with numpy loops: binary symmetric A with one self-loop per node, row-normalised, powers."""
    a = np.zeros((n, n))
    for i, j in edges:
        a[i, j] = a[j, i] = 1.0
    for i in range(n):
        a[i, i] = 1.0
    for i in range(n):
        a[i] /= a[i].sum()
    power, total = np.eye(n), np.zeros((n, n))
    for r in range(1, order + 1):
        power = power @ a
        if cumulative or r == order:
            total = total + power if cumulative else power
    return total


@settings(max_examples=40, deadline=None)
@given(graphs(max_nodes=9, max_edges=20), st.integers(1, 3), st.booleans())
def test_power_sum_matches_dense_numpy(graph, order, cumulative):
    n, edges, _ = graph
    gamma = adjacency_power_sum(as_index(edges), n, order=order, cumulative=cumulative)
    assert gamma.layout == torch.sparse_csr and gamma.dtype == torch.float32 and gamma.shape == (n, n)
    expected = brute_gamma(n, edges, order, cumulative)
    np.testing.assert_allclose(gamma.to_dense().double().numpy(), expected, atol=1e-6)
    # the stored pattern is exactly the non-zeros (walks of length <= R), columns sorted within rows
    rowptr, col = csr_parts(gamma)
    assert gamma._nnz() == int((expected > 0).sum())
    for i in range(n):
        cols = col[rowptr[i] : rowptr[i + 1]].tolist()
        assert cols == sorted(set(cols))
    # every row sums to R (cumulative) or 1
    np.testing.assert_allclose(expected.sum(1), order if cumulative else 1.0)


def test_power_sum_small_by_hand():
    # path 0 - 1 - 2 with node 3 isolated: A_hat rows (1/2 1/2 0), (1/3 1/3 1/3), (0 1/2 1/2), (0 0 0 1)
    ei = torch.tensor([[0, 1], [1, 2]])
    g1 = adjacency_power_sum(ei, 4, order=1).to_dense()
    assert torch.allclose(g1[1], torch.tensor([1 / 3, 1 / 3, 1 / 3, 0.0]))
    assert g1[3].tolist() == [0.0, 0.0, 0.0, 1.0]
    g2 = adjacency_power_sum(ei, 4, order=2).to_dense()
    # (A_hat^2)_{0,2} = 1/2 * 1/3: one walk 0 -> 1 -> 2
    assert g2[0, 2].item() == pytest.approx(1 / 6)
    assert g2.sum(1).tolist() == pytest.approx([2.0] * 4)
    only = adjacency_power_sum(ei, 4, order=2, cumulative=False).to_dense()
    assert torch.allclose(g2 - g1, only)


def test_power_sum_ignores_duplicates_direction_and_self_loops():
    ei = torch.tensor([[0, 1, 1, 2, 2], [1, 0, 1, 1, 2]])
    clean = torch.tensor([[0, 1], [1, 2]])
    assert torch.equal(adjacency_power_sum(ei, 3).to_dense(), adjacency_power_sum(clean, 3).to_dense())


def test_csr_to_coo_round_trip():
    ei = torch.tensor([[0, 1, 3], [1, 2, 0]])
    gamma = adjacency_power_sum(ei, 5, order=2)
    index, value = csr_to_coo(gamma)
    assert index.dtype == torch.long and index.shape == (2, gamma._nnz())
    dense = torch.zeros(5, 5)
    dense[index[0], index[1]] = value
    assert torch.equal(dense, gamma.to_dense())
    binary_index, binary_value = csr_to_coo(to_csr(ei, 5))
    assert binary_index.size(1) == 6 and bool((binary_value == 1).all())


def test_power_sum_errors():
    ei = torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="'order' to be an integer >= 1"):
        adjacency_power_sum(ei, 3, order=0)
    with pytest.raises(ValueError, match="'order'"):
        adjacency_power_sum(ei, 3, order=2.0)
    with pytest.raises(ValueError, match="'edge_index' contains node index 2"):
        adjacency_power_sum(ei, 2)
    with pytest.raises(ValueError, match="'adj' must be a torch sparse CSR tensor"):
        csr_to_coo(torch.eye(3))


@pytest.mark.dataset
@pytest.mark.parametrize('order, nnz', [(1, 13_264), (2, 99_596), (3, 346_846)])
def test_power_sum_nnz_on_cora(order, nnz):
    from graphkit.data import load_dataset

    data = load_dataset('cora', 'node', '../shared/data').data
    gamma = adjacency_power_sum(data.edge_index, data.num_nodes, order=order)
    assert gamma._nnz() == nnz
    row_sums = torch.zeros(data.num_nodes).index_add_(0, csr_to_coo(gamma)[0][0], gamma.values())
    assert torch.allclose(row_sums, torch.full((data.num_nodes,), float(order)))
