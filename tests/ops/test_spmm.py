import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphkit.ops import gcn_norm, spmm, to_csr
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
