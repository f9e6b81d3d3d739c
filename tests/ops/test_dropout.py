import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphkit.ops import csr_tensor, drop_adj, keep_mask, packed_dropout, to_csr


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


# ----------------------------------------------------------------------------------------------------------
# packed_dropout: dense dropout with 16-bit slices of random words as the mask


def _q(p):
    return round((1 - p) * 65536) / 65536


def _sigma(q, n):
    return (q * (1 - q) / n) ** 0.5


def test_packed_dropout_identity_when_off():
    x = torch.randn(5, 3)
    assert packed_dropout(x, 0.5, training=False) is x
    assert packed_dropout(x, 0.0) is x
    assert packed_dropout(x, 1e-6) is x  # rounds to q = 1


@pytest.mark.parametrize('p', [0.05, 0.4, 0.6, 0.9])
def test_packed_dropout_is_inverted_bernoulli(p):
    torch.manual_seed(0)
    x = torch.rand(300, 701) + 0.5  # odd size: the last random word is cut
    y = packed_dropout(x, p)
    q, kept = _q(p), y != 0
    torch.testing.assert_close(y[kept], x[kept] / q, rtol=1e-6, atol=0)  # scale 1 / q of the rounded q
    n = kept.numel()
    assert abs(kept.float().mean().item() - q) < 5 * _sigma(q, n)
    # Each of the four 16-bit slices of a word keeps with probability q (the top slice included:
    # a random_() without bounds would leave its sign bit 0 and keep it far more often).
    lanes = kept.view(-1)[: n - n % 4].view(-1, 4).float().mean(0)
    assert (lanes - q).abs().max().item() < 5 * _sigma(q, n // 4)
    # Neighbours are independent: P(both kept) = q^2.
    both = (kept.view(-1)[:-1] & kept.view(-1)[1:]).float().mean().item()
    assert abs(both - q * q) < 5 * _sigma(q * q, n - 1)


def test_packed_dropout_is_unbiased():
    torch.manual_seed(1)
    x = torch.randn(64, 32)
    mean = torch.stack([packed_dropout(x, 0.3) for _ in range(2000)]).mean(0)
    assert float((mean - x).abs().max()) < 0.15
    assert abs(float(mean.sum() / x.sum()) - 1) < 0.05


@given(p=st.floats(0.001, 0.999), rows=st.integers(1, 9), cols=st.integers(1, 13), seed=st.integers(0, 2**16))
@settings(max_examples=60, deadline=None)
def test_packed_dropout_mask_and_gradient(p, rows, cols, seed):
    x = torch.randn(rows, cols, dtype=torch.float64, requires_grad=True)
    torch.manual_seed(seed)
    y = packed_dropout(x, p)
    torch.manual_seed(seed)
    keep = keep_mask(x.shape, p)  # the same draw
    q = _q(p)
    expected = torch.where(keep, x.detach() / q, 0.0) if q > 0 else torch.zeros_like(x)
    torch.testing.assert_close(y.detach(), expected)
    g = torch.randn(rows, cols, dtype=torch.float64)
    y.backward(g)
    torch.testing.assert_close(x.grad, torch.where(keep, g / q, 0.0) if q > 0 else torch.zeros_like(g))


def test_packed_dropout_seeded_and_edge_cases():
    x = torch.randn(40, 40)
    torch.manual_seed(3)
    a = packed_dropout(x, 0.5)
    torch.manual_seed(3)
    assert torch.equal(a, packed_dropout(x, 0.5))
    assert not torch.equal(a, packed_dropout(x, 0.5))  # the generator moved on
    z = torch.full((3, 4), float('nan'), requires_grad=True)
    out = packed_dropout(z, 1.0)
    assert torch.equal(out, torch.zeros(3, 4))
    out.sum().backward()
    assert torch.equal(z.grad, torch.zeros(3, 4))
    y = packed_dropout(z.detach(), 0.5)
    assert torch.isnan(y).any() and (y == 0).any()  # dropped NaNs are 0, kept ones stay NaN
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="'p' must be in"):
            packed_dropout(x, bad)
    ints = torch.arange(10)
    assert torch.equal(packed_dropout(ints, 0.0), ints)
