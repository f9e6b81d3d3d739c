import math

import pytest
import torch
import torch.nn.functional as F

from graphkit.losses import UltraGCNLoss


def test_loss_equals_hand_computation():
    pos = torch.tensor([0.5, -1.0])
    neg = torch.tensor([[0.2, -0.3, 1.0], [0.0, 2.0, -2.0]])
    pos_beta = torch.tensor([0.7, 1.3])
    neg_beta = torch.tensor([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    ii = torch.tensor([[0.3, -0.2], [1.5, 0.1]])
    om = torch.tensor([[0.9, 0.1], [0.5, 0.25]])
    l2 = torch.tensor(3.0)
    fn = UltraGCNLoss(w1=0.1, w2=2.0, w3=0.3, w4=4.0, negative_weight=5.0, gamma=0.01, lambda_=0.2)
    sp = lambda x: math.log1p(math.exp(x))  # noqa: E731
    expected = 0.0
    for b in range(2):
        expected += (0.1 + 2.0 * float(pos_beta[b])) * sp(-float(pos[b]))
        expected += 5.0 * sum((0.3 + 4.0 * float(neg_beta[b, j])) * sp(float(neg[b, j])) for j in range(3)) / 3
        expected += 0.2 * sum(float(om[b, j]) * sp(-float(ii[b, j])) for j in range(2))
    expected += 0.5 * 0.01 * 3.0
    assert float(fn(pos, neg, pos_beta, neg_beta, ii, om, l2)) == pytest.approx(expected, rel=1e-6)
    mean = UltraGCNLoss(0.1, 2.0, 0.3, 4.0, 5.0, 0.0, 0.2, reduction='mean')
    assert float(mean(pos, neg, pos_beta, neg_beta, ii, om)) == pytest.approx(
        (expected - 0.5 * 0.01 * 3.0) / 2, rel=1e-6
    )


def test_loss_reduces_to_bce_sum():
    pos, neg = torch.randn(4), torch.randn(4, 2)
    fn = UltraGCNLoss(1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0)
    out = fn(pos, neg, torch.rand(4), torch.rand(4, 2))
    ref = (
        F.binary_cross_entropy_with_logits(pos, torch.ones(4), reduction='sum')
        + F.binary_cross_entropy_with_logits(neg, torch.zeros(4, 2), reduction='none').mean(1).sum()
    )
    torch.testing.assert_close(out, ref)
    assert str(fn) == 'UltraGCNLoss(w=(1, 0, 1, 0), negative_weight=1, gamma=0, lambda=0)'
    with pytest.raises(ValueError, match='reduction'):
        UltraGCNLoss(1, 1, 1, 1, 1, 0, 0, reduction='none')
