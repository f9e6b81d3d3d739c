import pytest
import torch

from graphkit.ops import csr_tensor, drop_adj, to_csr


def random_graph(n=50, e=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    return to_csr(torch.randint(0, n, (2, e), generator=g), n)


def test_identity_when_off():
    adj = random_graph()
    assert drop_adj(adj, 0.5, training=False) is adj
    assert drop_adj(adj, 0.0) is adj


@pytest.mark.parametrize('p', [0.2, 0.5])
def test_matches_dense_reference(p):
    adj = random_graph()
    adj = csr_tensor(
        adj.crow_indices(), adj.col_indices(), torch.rand(adj.values().numel()), adj.size(), check_invariants=True
    )  # non-binary values
    torch.manual_seed(0)
    out = drop_adj(adj, p)
    torch.manual_seed(0)
    keep = torch.rand(adj.values().numel()) >= p  # the same mask, one draw per stored entry
    a = adj.to_dense()
    row, col = adj.to_sparse_coo().indices()
    expected = torch.zeros_like(a)
    expected[row[keep], col[keep]] = a[row[keep], col[keep]] / (1 - p)
    assert out.layout == torch.sparse_csr and out.shape == adj.shape
    torch.testing.assert_close(out.to_dense(), expected)
    assert out.values().numel() == int(keep.sum())
    assert 0.2 < out.values().numel() / adj.values().numel() < 0.9
    assert to_csr(out) is out  # still canonical: sorted, unique columns per row


def test_mean_is_preserved():
    adj = random_graph()
    torch.manual_seed(1)
    mean = torch.stack([drop_adj(adj, 0.5).to_dense() for _ in range(400)]).mean(0)
    assert float((mean - adj.to_dense()).abs().max()) < 0.35
    assert abs(float(mean.sum() / adj.to_dense().sum()) - 1) < 0.02
