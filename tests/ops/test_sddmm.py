import pytest
import torch

from graphkit.ops import sampled_dot


def _inputs(B=7, C=9, d=5, m=4, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, d, generator=g, dtype=dtype, requires_grad=True)
    y = torch.randn(C, d, generator=g, dtype=dtype, requires_grad=True)
    index = torch.randint(0, C, (B, m), generator=g)
    index[0] = index[0, 0]  # duplicates within a row
    return x, y, index


@pytest.mark.parametrize('m', [1, 4, 9])
def test_matches_dense_reference(m):
    x, y, index = _inputs(m=m)
    out = sampled_dot(x, y, index)
    expected = (x @ y.t()).gather(1, index)  # brute force: every score, then pick
    torch.testing.assert_close(out, expected)
    grad = torch.randn_like(out)
    gx, gy = torch.autograd.grad(out, (x, y), grad)
    ex, ey = torch.autograd.grad(expected, (x, y), grad)
    torch.testing.assert_close(gx, ex)
    torch.testing.assert_close(gy, ey)


def test_gradcheck():
    x, y, index = _inputs(B=3, C=4, d=2, m=3)
    assert torch.autograd.gradcheck(lambda a, b: sampled_dot(a, b, index), (x, y))


def test_one_input_without_grad():
    x, y, index = _inputs()
    out = sampled_dot(x.detach(), y, index)
    (gy,) = torch.autograd.grad(out.sum(), (y,))
    torch.testing.assert_close(gy, torch.autograd.grad((x.detach() @ y.t()).gather(1, index).sum(), (y,))[0])


def test_errors():
    x, y, index = _inputs(C=3, m=3)
    with pytest.raises(ValueError, match='same number of columns'):
        sampled_dot(x, y[:, :2], index)
    with pytest.raises(ValueError, match="'index' must have shape"):
        sampled_dot(x, y, index[:2])
    with pytest.raises(ValueError, match='at most 3 columns'):
        sampled_dot(x, y, torch.zeros(x.size(0), 4, dtype=torch.long))
