import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphkit.nn.ssm import SelectiveSSM, mamba_kernel_available, parallel_scan, selective_scan, sequential_scan


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 70), st.integers(0, 1000))
def test_parallel_scan_equals_the_sequential_recurrence(length, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(2, length, 3, 4, generator=g, dtype=torch.float64)
    b = torch.randn(2, length, 3, 4, generator=g, dtype=torch.float64)
    assert torch.allclose(parallel_scan(a, b), sequential_scan(a, b), atol=1e-10)


def test_sequential_scan_is_the_naive_loop():
    a, b = torch.rand(5, 1), torch.randn(5, 1)
    h, want = 0.0, []
    for t in range(5):
        h = a[t, 0] * h + b[t, 0]
        want.append(h)
    assert torch.allclose(sequential_scan(a, b, dim=0).view(-1), torch.stack(want))


def test_selective_scan_matches_per_step_and_gradients_agree():
    g = torch.Generator().manual_seed(0)
    u = torch.randn(2, 33, 4, generator=g, dtype=torch.float64, requires_grad=True)
    delta = torch.rand(2, 33, 4, generator=g, dtype=torch.float64)
    A = -torch.rand(4, 3, generator=g, dtype=torch.float64)
    B, C = (
        torch.randn(2, 33, 3, generator=g, dtype=torch.float64),
        torch.randn(2, 33, 3, generator=g, dtype=torch.float64),
    )
    y1 = selective_scan(u, delta, A, B, C, torch.ones(4, dtype=torch.float64), scan='parallel')
    (g1,) = torch.autograd.grad(y1.sum(), u)
    y2 = selective_scan(u, delta, A, B, C, torch.ones(4, dtype=torch.float64), scan='sequential')
    (g2,) = torch.autograd.grad(y2.sum(), u)
    assert torch.allclose(y1, y2, atol=1e-10) and torch.allclose(g1, g2, atol=1e-10)


def test_ssm_layer_is_causal_and_scans_agree():
    torch.manual_seed(0)
    layer = SelectiveSSM(8, d_state=4, scan='parallel')
    x = torch.randn(3, 20, 8)
    y = layer(x)
    x2 = x.clone()
    x2[:, 12:] = torch.randn(3, 8, 8)
    assert torch.allclose(layer(x2)[:, :12], y[:, :12], atol=1e-6)  # later tokens never change earlier ones
    layer.scan = 'sequential'
    assert torch.allclose(layer(x), y, atol=1e-5)
    assert y.shape == x.shape
    assert str(layer) == 'SelectiveSSM(8, d_state=4, expand=1)'
    with pytest.raises(ValueError, match="unknown 'scan'"):
        SelectiveSSM(8, scan='cuda')


@pytest.mark.gpu
@pytest.mark.skipif(not (torch.cuda.is_available() and mamba_kernel_available()), reason='needs CUDA and mamba_ssm')
def test_mamba_kernel_matches_the_parallel_scan():
    torch.manual_seed(0)
    layer = SelectiveSSM(16, d_state=8, scan='auto').cuda()
    x = torch.randn(2, 64, 16, device='cuda')
    y = layer(x)
    layer.scan = 'parallel'
    assert torch.allclose(layer(x), y, atol=1e-4)
