import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphkit.losses import (
    PairwiseContrastiveLoss,
    PamCLoss,
    dense_negative,
    meta_node_negative,
    meta_nodes,
    positive_term,
)
from graphkit.ops import adjacency_power_sum, csr_to_coo


def cos(a, b):
    return float(np.dot(a, b) / (max(np.linalg.norm(a), 1e-8) * max(np.linalg.norm(b), 1e-8)))


def brute_lse_rows(vectors, tau):
    """(1/K) sum_a log sum_b exp(tau * s~(v_a, v_b)), s~ = 0 on the diagonal, with loops."""
    k = len(vectors)
    total = 0.0
    for a in range(k):
        total += math.log(sum(math.exp(tau * (0.0 if a == b else cos(vectors[a], vectors[b]))) for b in range(k)))
    return total / k


def brute_positive(z, pairs, weights, tau):
    """-(1/|rows with positives|) sum_i log sum_j Gamma_ij exp(tau * s~_ij), with loops."""
    rows = {}
    for (i, j), w in zip(pairs, weights):
        s = 0.0 if i == j else cos(z[i], z[j])
        rows[i] = rows.get(i, 0.0) + w * math.exp(tau * s)
    rows = {i: v for i, v in rows.items() if v > 0}
    return -sum(math.log(v) for v in rows.values()) / max(len(rows), 1)


def random_problem(n=12, d=4, k=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, d, generator=gen, dtype=torch.float64)
    edge_index = torch.randint(0, n, (2, 2 * n), generator=gen)
    q = torch.rand(n, k, generator=gen, dtype=torch.float64)
    return z, edge_index, q / q.sum(1, keepdim=True)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 9), st.integers(1, 5), st.floats(0.1, 5.0), st.integers(0, 10_000))
def test_identity_assignment_gives_the_all_pairs_log_sum_exp(n, d, tau, seed):
    z = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    expected = brute_lse_rows(z.numpy(), tau)
    proxy = meta_node_negative(meta_nodes(z, torch.arange(n), n), tau)
    assert proxy.item() == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert dense_negative(z, tau).item() == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # the same through the module, with K = N and C = I (hard: arg-max of the identity matrix)
    loss = PamCLoss(tau=tau, num_clusters=n)
    _, neg = loss(z, torch.eye(n, dtype=torch.float64), torch.zeros(2, 0, dtype=torch.long))
    assert neg.item() == pytest.approx(expected, rel=1e-9, abs=1e-12)
    _, dense_neg = PairwiseContrastiveLoss(tau=tau)(z, torch.zeros(2, 0, dtype=torch.long))
    assert dense_neg.item() == pytest.approx(expected, rel=1e-9, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 3), st.floats(1e-3, 1e3))
def test_negative_term_is_invariant_to_rescaling_a_meta_node(seed, which, factor):
    meta = torch.randn(4, 5, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    scaled = meta.clone()
    scaled[which] *= factor
    assert meta_node_negative(scaled, 0.7).item() == pytest.approx(meta_node_negative(meta, 0.7).item(), rel=1e-10)


def test_rescaling_a_cluster_of_nodes_leaves_the_negative_term():
    z, edge_index, q = random_problem()
    loss = PamCLoss(tau=1.3)
    pos_index, pos_weight = csr_to_coo(adjacency_power_sum(edge_index, z.size(0)))
    members = q.argmax(1) == 1
    z2 = z.clone()
    z2[members] *= 7.5
    assert loss(z2, q, pos_index, pos_weight)[1].item() == pytest.approx(loss(z, q, pos_index, pos_weight)[1].item())


@pytest.mark.parametrize('assignment', ['hard', 'soft'])
def test_empty_cluster_gives_finite_loss_and_gradients(assignment):
    z, edge_index, q = random_problem(k=4)
    q = q.clone()
    q[:, 3] = 0.0  # cluster 3: never the arg-max, zero weight in the soft assignment
    z = z.requires_grad_()
    pos_index, pos_weight = csr_to_coo(adjacency_power_sum(edge_index, z.size(0)))
    loss = PamCLoss(tau=2.0, assignment=assignment)
    pos, neg = loss(z, q, pos_index, pos_weight)
    (pos + neg).backward()
    assert torch.isfinite(pos) and torch.isfinite(neg)
    assert bool(torch.isfinite(z.grad).all())
    # the zero meta-node has cosine 0 with every other: its own row is log K exactly
    meta = meta_nodes(z.detach(), q.argmax(1), 4) if assignment == 'hard' else meta_nodes(z.detach(), q)
    assert bool((meta[3] == 0).all())


def test_all_nodes_in_one_cluster_is_finite():
    z = torch.randn(6, 3, requires_grad=True)
    loss = PamCLoss(tau=1.0, num_clusters=5)
    pos, neg = loss(z, torch.zeros(6, dtype=torch.long), torch.tensor([[0, 1], [1, 0]]))
    (pos + neg).backward()
    assert neg.item() == pytest.approx(math.log(5))  # every cosine is 0 or on the diagonal
    assert bool(torch.isfinite(z.grad).all())


def test_hard_assignment_always_has_k_columns():
    z, _, q = random_problem(k=5)
    q = q.clone()
    q[:, 4] = -1.0  # the last cluster is never the arg-max (one_hot without num_classes would drop it)
    c, k = PamCLoss().assignment_matrix(q)
    assert k == 5 and meta_nodes(z, c, k).shape == (5, z.size(1))
    expected = torch.nn.functional.one_hot(q.argmax(1), 5).double().t() @ z
    assert torch.allclose(meta_nodes(z, c, k), expected)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 10), st.integers(0, 30), st.floats(0.1, 4.0), st.integers(0, 10_000))
def test_positive_term_matches_brute_force(n, num_pairs, tau, seed):
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 3, generator=gen, dtype=torch.float64)
    pos_index = torch.randint(0, n, (2, num_pairs), generator=gen)
    pos_weight = torch.rand(num_pairs, generator=gen, dtype=torch.float64)
    pos_weight[pos_weight < 0.2] = 0.0  # zero weights: rows whose entries all weigh 0 have no positives
    got = positive_term(z, pos_index, pos_weight, tau).item()
    expected = brute_positive(z.numpy(), pos_index.t().tolist(), pos_weight.tolist(), tau)
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_pamc_and_dense_share_the_positive_term_and_dense_is_the_iac_loss():
    z, edge_index, q = random_problem(n=10, k=3)
    tau = 1.5
    pos_index, pos_weight = csr_to_coo(adjacency_power_sum(edge_index, 10, order=2))
    pos, _ = PamCLoss(tau=tau)(z, q, pos_index, pos_weight.double())
    dense_pos, dense_neg = PairwiseContrastiveLoss(tau=tau)(z, pos_index, pos_weight.double())
    assert dense_pos.item() == pytest.approx(pos.item(), rel=1e-12)
    # the IAC loss -(1/N) sum_i log(sum_j Gamma_ij e^{tau s~_ij} / sum_k e^{tau s~_ik}), with loops
    gamma = adjacency_power_sum(edge_index, 10, order=2).to_dense().double().numpy()
    zz = z.numpy()
    iac = 0.0
    for i in range(10):
        e = [math.exp(tau * (0.0 if i == k else cos(zz[i], zz[k]))) for k in range(10)]
        iac -= math.log(sum(gamma[i, j] * e[j] for j in range(10)) / sum(e))
    assert (dense_pos + dense_neg).item() == pytest.approx(iac / 10, rel=1e-9)


def test_soft_assignment_and_detach():
    z, edge_index, q = random_problem()
    pos_index, _ = csr_to_coo(adjacency_power_sum(edge_index, z.size(0)))
    for detach in (True, False):
        q_ = q.clone().requires_grad_()
        _, neg = PamCLoss(assignment='soft', detach_assignment=detach)(z, q_, pos_index)
        assert neg.item() == pytest.approx(meta_node_negative(q.t() @ z).item())
        if detach:
            assert not neg.requires_grad
        else:
            neg.backward()
            assert q_.grad is not None and bool(torch.isfinite(q_.grad).all())


def test_gradients_match_finite_differences():
    z, edge_index, q = random_problem(n=7, d=3)
    pos_index, pos_weight = csr_to_coo(adjacency_power_sum(edge_index, 7))
    w = pos_weight.double()
    assert torch.autograd.gradcheck(lambda x: positive_term(x, pos_index, w, 1.7), (z.clone().requires_grad_(),))
    assert torch.autograd.gradcheck(lambda m: meta_node_negative(m, 1.7), ((q.t() @ z).requires_grad_(),))
    dense = PairwiseContrastiveLoss(tau=0.9)
    assert torch.autograd.gradcheck(lambda x: sum(dense(x, pos_index, w)), (z.clone().requires_grad_(),))


def test_large_inverse_temperature_does_not_overflow():
    z, edge_index, q = random_problem(n=20)
    z = z.float().requires_grad_()
    pos_index, pos_weight = csr_to_coo(adjacency_power_sum(edge_index, 20))
    pos, neg = PamCLoss(tau=500.0)(z, q.float(), pos_index, pos_weight)
    dpos, dneg = PairwiseContrastiveLoss(tau=500.0)(z, pos_index, pos_weight)
    (pos + neg + dpos + dneg).backward()
    assert all(bool(torch.isfinite(t)) for t in (pos, neg, dpos, dneg))
    assert bool(torch.isfinite(z.grad).all())


def test_repr_and_errors():
    assert str(PamCLoss(tau=0.5)) == "PamCLoss(tau=0.5, assignment='hard')"
    assert str(PamCLoss(tau=2, num_clusters=7, assignment='soft')) == (
        "PamCLoss(num_clusters=7, tau=2, assignment='soft')"
    )
    assert str(PairwiseContrastiveLoss(tau=1.0)) == 'PairwiseContrastiveLoss(tau=1)'
    with pytest.raises(ValueError, match="'PamCLoss' expects 'tau'"):
        PamCLoss(tau=0.0)
    with pytest.raises(ValueError, match="'PairwiseContrastiveLoss' expects 'tau'"):
        PairwiseContrastiveLoss(tau=-1.0)
    with pytest.raises(ValueError, match="'assignment' in"):
        PamCLoss(assignment='fuzzy')
    with pytest.raises(ValueError, match="'num_clusters' >= 1"):
        PamCLoss(num_clusters=0)
    z, edge_index, q = random_problem()
    pos_index = torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="needs 'num_clusters' when 'assignment' holds cluster indices"):
        PamCLoss()(z, q.argmax(1), pos_index)
    with pytest.raises(ValueError, match="assignment='soft' needs an \\[N, K\\] assignment matrix"):
        PamCLoss(assignment='soft', num_clusters=3)(z, q.argmax(1), pos_index)
    with pytest.raises(ValueError, match='num_clusters=4 but'):
        PamCLoss(num_clusters=4)(z, q, pos_index)
    with pytest.raises(ValueError, match="'pos_index' of shape \\(2, P\\)"):
        PamCLoss()(z, q, pos_index.t().reshape(-1))
    with pytest.raises(ValueError, match="'pos_weight' of shape \\(2,\\)"):
        PamCLoss()(z, q, pos_index, torch.ones(3))
    with pytest.raises(ValueError, match='assignment rows for 12 nodes'):
        PamCLoss()(z, q[:5], pos_index)
    with pytest.raises(ValueError, match="'z' to be a floating \\[N, d\\] tensor"):
        PairwiseContrastiveLoss()(z[0], pos_index)
    with pytest.raises(ValueError, match="needs 'num_clusters'"):
        meta_nodes(z, q.argmax(1))
