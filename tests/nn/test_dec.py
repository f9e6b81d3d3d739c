import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphkit.nn import DECHead, FeatureAutoencoder, kl_clustering_loss, target_distribution


def brute_student_t(z, mu, nu):
    n, k = len(z), len(mu)
    q = np.zeros((n, k))
    for i in range(n):
        for j in range(k):
            q[i, j] = (1 + np.sum((z[i] - mu[j]) ** 2) / nu) ** (-(nu + 1) / 2)
        q[i] /= q[i].sum()
    return q


def brute_target(q):
    n, k = q.shape
    f = [sum(q[i, j] for i in range(n)) for j in range(k)]
    p = np.zeros_like(q)
    for i in range(n):
        for j in range(k):
            p[i, j] = q[i, j] ** 2 / f[j]
        p[i] /= p[i].sum()
    return p


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 8), st.integers(1, 5), st.sampled_from([0.5, 1.0, 3.0]), st.integers(0, 10_000))
def test_student_t_and_target_distribution_equal_their_formulas(n, k, nu, seed):
    gen = torch.Generator().manual_seed(seed)
    head = DECHead(3, k, nu=nu).double()
    with torch.no_grad():
        head.mu.copy_(torch.randn(k, 3, generator=gen, dtype=torch.float64))
    z = torch.randn(n, 3, generator=gen, dtype=torch.float64)
    q = head(z)
    np.testing.assert_allclose(q.detach().numpy(), brute_student_t(z.numpy(), head.mu.detach().numpy(), nu), rtol=1e-9)
    p = target_distribution(q)
    np.testing.assert_allclose(p.numpy(), brute_target(q.detach().numpy()), rtol=1e-9)
    assert not p.requires_grad
    np.testing.assert_allclose(p.sum(1).numpy(), 1.0)


def test_kl_loss_equals_its_formula_and_survives_far_centres():
    q = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], dtype=torch.float64)
    p = target_distribution(q)
    p_, q_ = p.numpy(), q.numpy()
    expected = sum(p_[i, k] * np.log(p_[i, k] / q_[i, k]) for i in range(2) for k in range(3)) / 2
    assert kl_clustering_loss(q.log(), p).item() == pytest.approx(float(expected))
    torch_kl = torch.nn.functional.kl_div(q.log(), p, reduction='batchmean')
    assert kl_clustering_loss(q.log(), p).item() == pytest.approx(torch_kl.item())
    head = DECHead(2, 2)
    with torch.no_grad():
        head.mu.copy_(torch.tensor([[0.0, 0.0], [1e15, 1e15]]))  # q_i1 ~ 1e-30 by the naive formula
    z = torch.zeros(3, 2, requires_grad=True)
    log_q = head.log_assign(z)
    assert bool((log_q[:, 1] < -60).all()) and bool(torch.isfinite(log_q).all())
    loss = kl_clustering_loss(log_q, target_distribution(log_q.exp()))
    loss.backward()
    assert torch.isfinite(loss) and bool(torch.isfinite(z.grad).all())


def test_kmeans_initialisation_recovers_separated_centres():
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    labels = torch.arange(3).repeat_interleave(20)
    z = centres[labels] + 0.1 * torch.randn(60, 2, generator=gen)
    head = DECHead(2, 3)
    found = head.init_centers(z, seed=0, n_init=3)
    assert found.shape == (60,) and found.dtype == torch.long
    assert len({(int(a), int(b)) for a, b in zip(found, labels)}) == 3  # a relabelling of the truth
    dist = torch.cdist(head.mu.detach(), centres)
    assert float(dist.min(1).values.max()) < 0.2
    assert torch.equal(head(z).argmax(1), found)
    # seeded: the same clusters again
    assert torch.equal(DECHead(2, 3).init_centers(z, seed=0, n_init=3), found)


def test_dec_head_repr_and_errors():
    assert str(DECHead(16, 7)) == 'DECHead(16, num_clusters=7, nu=1)'
    with pytest.raises(ValueError, match="'num_clusters' to be an integer >= 1"):
        DECHead(4, 0)
    with pytest.raises(ValueError, match="'nu' > 0"):
        DECHead(4, 2, nu=0.0)
    head = DECHead(2, 5)
    with pytest.raises(ValueError, match='num_clusters=5 but .z. has only 3 rows'):
        head.init_centers(torch.randn(3, 2))
    with pytest.raises(ValueError, match=r"'z' of shape \[N, 2\]"):
        head(torch.randn(3, 4))
    with pytest.raises(ValueError, match="'q' of shape"):
        target_distribution(torch.rand(3))


@pytest.mark.parametrize('encoder', ['mlp', 'gcn'])
def test_feature_autoencoder(encoder):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(10, 6, generator=gen)
    edge_index = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    edge_index = torch.cat([edge_index, edge_index.flip(0)], 1)
    ae = FeatureAutoencoder(6, [8, 5], 3, encoder=encoder)
    assert str(ae) == f"FeatureAutoencoder(6, 3, hidden_channels=[8, 5], encoder='{encoder}')"
    assert ae.needs_graph == (encoder == 'gcn')
    z = ae.encode(x, edge_index)
    assert z.shape == (10, 3) and ae.decode(z).shape == (10, 6)
    idx = torch.tensor([1, 4, 7])
    loss = ae.reconstruction_loss(x, edge_index, idx)
    expected = ((ae.decode(ae.encode(x, edge_index))[idx] - x[idx]) ** 2).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    if encoder == 'mlp':  # the MLP reads no graph: a node's embedding is its own
        assert torch.allclose(ae.encode(x[idx]), z[idx], atol=1e-6)
    else:
        with pytest.raises(ValueError, match="encoder='gcn' needs 'edge_index'"):
            ae.encode(x)
    before = [p.clone() for p in ae.parameters()]
    ae.reset_parameters()
    assert any(not torch.equal(a, b) for a, b in zip(before, ae.parameters()))


def test_feature_autoencoder_errors():
    with pytest.raises(ValueError, match="unknown 'encoder' 'gat'"):
        FeatureAutoencoder(4, encoder='gat')
    with pytest.raises(ValueError, match="'dropout' in \\[0, 1\\)"):
        FeatureAutoencoder(4, dropout=1.0)
    with pytest.raises(ValueError, match="'hidden_channels' to hold integers >= 1"):
        FeatureAutoencoder(4, [8, 0])
