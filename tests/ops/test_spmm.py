import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphkit.ops import gcn_norm, pairs_to_csr, rw_norm, spmm, to_csr
from graphkit.ops.spmm import _spmm_gather
from tests.ops._ops_graphs import as_index, graphs


def brute_force(adj, x, reduce):
    a = adj.to_dense().to(x.dtype)
    out = torch.zeros(a.size(0), x.size(1), dtype=x.dtype)
    for i in range(a.size(0)):
        nz = a[i].nonzero().view(-1)
        if nz.numel() == 0:
            continue
        msg = a[i, nz].view(-1, 1) * x[nz]
        out[i] = {'sum': msg.sum(0), 'mean': msg.mean(0), 'max': msg.max(0).values, 'min': msg.min(0).values}[reduce]
    return out


@settings(max_examples=30, deadline=None)
@given(graphs(), st.sampled_from(['sum', 'mean', 'max', 'min']), st.booleans())
def test_spmm_vs_brute_force(g, reduce, normalise):
    n, edges, _ = g
    adj = to_csr(as_index(edges), n, self_loops='keep')
    if normalise:
        adj = gcn_norm(adj)
    x = torch.randn(n, 3, dtype=torch.float64)
    out = spmm(adj, x, reduce)
    assert out.dtype == torch.float64 and out.shape == (n, 3)
    assert torch.allclose(out, brute_force(adj, x, reduce))
    assert torch.allclose(_spmm_gather(adj, x, reduce), out)
    if reduce == 'sum':
        assert torch.allclose(out, adj.to_dense().double() @ x)


def test_spmm_1d_grad_and_errors(extensions, device):
    adj = to_csr(torch.tensor([[0, 1, 2], [1, 2, 3]]), 5).to(device)
    x = torch.randn(5, device=device, requires_grad=True)
    out = spmm(adj, x)
    assert out.shape == (5,) and out.device == adj.device
    out.sum().backward()
    assert torch.allclose(x.grad, adj.to_dense().sum(0))
    assert spmm(adj, x, 'add').shape == (5,)
    with pytest.raises(ValueError, match="'reduce'"):
        spmm(adj, x, 'prod')
    with pytest.raises(ValueError, match="'x'"):
        spmm(adj, torch.randn(4, 2, device=device))
    with pytest.raises(ValueError, match="'x'.*floating"):
        spmm(adj, torch.ones(5, 2, dtype=torch.long, device=device))


@pytest.mark.parametrize('reduce', ['sum', 'mean', 'max', 'min'])
def test_spmm_empty_graph(reduce, extensions):
    adj = to_csr(torch.empty(2, 0, dtype=torch.long), 3)
    assert torch.equal(spmm(adj, torch.ones(3, 2), reduce), torch.zeros(3, 2))


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 7),
    st.integers(1, 7),
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=20),
    st.sampled_from(['sum', 'mean', 'max', 'min']),
)
def test_spmm_rectangular_vs_brute_force(num_rows, num_cols, pairs, reduce):
    # a bipartite (M, N) matrix, destinations as rows: what a relation of a heterogeneous graph propagates over
    pairs = [(r % num_rows, c % num_cols) for r, c in pairs]
    index = torch.tensor(pairs, dtype=torch.long).view(-1, 2).t()
    adj = rw_norm(pairs_to_csr(index, num_rows, num_cols))
    x = torch.randn(num_cols, 3, dtype=torch.float64)
    out = spmm(adj, x, reduce)
    assert out.shape == (num_rows, 3)
    assert torch.allclose(out, brute_force(adj, x, reduce))
    assert torch.allclose(_spmm_gather(adj, x, reduce), out)
    dense = adj.to_dense().double()
    for i in range(num_rows):  # rw_norm: each non-empty row averages its distinct neighbours
        cols = sorted({c for r, c in pairs if r == i})
        assert torch.allclose(dense[i, cols], torch.full((len(cols),), 1.0 / max(len(cols), 1), dtype=torch.float64))
        assert int((dense[i] != 0).sum()) == len(cols)
    with pytest.raises(ValueError, match=rf"'x' must have shape \({num_cols}, F\)"):
        spmm(adj, torch.randn(num_cols + 1, 3))
