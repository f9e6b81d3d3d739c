import pytest
import torch

from graphkit.nn import NCNCPredictor, NCNPredictor
from graphkit.ops import remove_edges, to_csr

# Pair (0, 1): N(0) = {2, 3}, N(1) = {3, 4}: CN = {3}, only_i = {2}, only_j = {4}.
SMALL = torch.tensor([[0, 0, 1, 1, 2, 4], [2, 3, 3, 4, 5, 5]])


def random_graph(n=40, e=160, seed=0):
    g = torch.Generator().manual_seed(seed)
    return to_csr(torch.randint(0, n, (2, e), generator=g), n)


def neighbours(adj):
    a = adj.to_dense()
    return [set(a[i].nonzero().view(-1).tolist()) for i in range(a.size(0))]


def random_pairs(n, b, seed=1):
    g = torch.Generator().manual_seed(seed)
    pairs = torch.randint(0, n, (2, b), generator=g)
    pairs[:, 0] = torch.tensor([3, 3])  # i = j
    return pairs


def test_repr():
    assert str(NCNPredictor(256, 256)) == "NCNPredictor(256, 256, variant='cn1')"
    assert str(NCNPredictor(64, 32, variant='cn0')) == "NCNPredictor(64, 32, variant='cn0')"
    assert str(NCNCPredictor(224, 224, depth=2)) == 'NCNCPredictor(224, 224, depth=2)'


def test_module_order():
    pred = NCNPredictor(8, 16, use_xlin=True, layer_norm=True)
    names = lambda seq: [type(m).__name__ for m in seq]  # noqa: E731
    assert names(pred.xlin) == ['Linear', 'Dropout', 'ReLU', 'Linear', 'LayerNorm', 'Dropout', 'ReLU']
    assert names(pred.xijlin) == ['Linear', 'LayerNorm', 'Dropout', 'ReLU', 'Linear']
    assert names(pred.xcnlin) == ['Linear', 'Dropout', 'ReLU', 'Linear', 'LayerNorm', 'Dropout', 'ReLU', 'Linear']
    assert names(pred.lin) == ['Linear', 'LayerNorm', 'Dropout', 'ReLU', 'Linear']
    pred = NCNPredictor(8, 16, tailact=True, twolayerlin=True)
    assert names(pred.xijlin)[-1] == 'Identity' and names(pred.xcnlin)[-1] == 'Identity'
    assert names(pred.lin) == ['Linear', 'Identity', 'Dropout', 'ReLU'] * 2 + ['Linear']
    assert pred.lin[-1].out_features == 1 and pred.xlin is None


@pytest.mark.parametrize('seed', [0, 1, 2])
@pytest.mark.parametrize('use_xlin', [False, True])
def test_cn_branch_equals_brute_force(seed, use_xlin):
    adj = random_graph(seed=seed)
    nb = neighbours(adj)
    h = torch.randn(40, 8)
    pairs = random_pairs(40, 50, seed)
    pred = NCNPredictor(8, 16, use_xlin=use_xlin, edge_dropout=0.5, dropout=0.3, layer_norm=True, beta=0.7).eval()
    hp = pred._transform(h)
    z = torch.zeros(50, 8)
    for b in range(50):
        for u in nb[pairs[0, b]] & nb[pairs[1, b]]:
            z[b] += hp[u]
    expected = pred._head(h[pairs[0]], h[pairs[1]], z)
    assert torch.allclose(pred(h, adj, pairs), expected, atol=1e-5)
    # The head is lin(beta * f_cn(z) + f_ij(h_i * h_j)).
    manual = pred.lin(pred.beta * pred.xcnlin(z) + pred.xijlin(h[pairs[0]] * h[pairs[1]]))
    assert torch.allclose(expected, manual.view(-1), atol=1e-6)


def test_ablations_equal_brute_force():
    adj = random_graph(30, 90)
    nb = neighbours(adj)
    a = adj.to_dense()
    nb2 = [set(r.nonzero().view(-1).tolist()) for r in (a @ a)]
    h = torch.randn(30, 6)
    pairs = random_pairs(30, 20)
    xi, xj = h[pairs[0]], h[pairs[1]]
    torch.manual_seed(0)
    for variant in ['cn0', 'scn1', 'cn1res', 'cn1.5']:
        pred = NCNPredictor(6, 8, variant=variant).eval()
        z = torch.zeros(20, 6)
        z2 = torch.zeros(20, 6)
        cnt = torch.zeros(20, 1)
        for b in range(20):
            i, j = pairs[:, b].tolist()
            cnt[b] = len(nb[i] & nb[j])
            for u in nb[i] & nb[j]:
                z[b] += h[u]
            diff = (nb[i] - nb[j], nb[j] - nb[i]) if variant == 'cn1res' else (nb[i] & nb2[j], nb2[i] & nb[j])
            for part in diff:
                for u in part:
                    z2[b] += h[u]
        if variant == 'cn0':
            expected = pred._head(xi, xj, None)
        elif variant == 'scn1':
            expected = pred._head(xi, xj, cnt)
        else:
            expected = pred._head(xi, xj, z, z2)
        assert torch.allclose(pred(h, adj, pairs), expected, atol=1e-5), variant


def test_target_link_removal_hides_the_edge():
    # Triangle 0-1-2 plus 1-3: with TLR on (0, 1), node 1 is no longer a neighbour of 0.
    adj = to_csr(torch.tensor([[0, 1, 0, 1], [1, 2, 2, 3]]), 4)
    pairs = torch.tensor([[0], [2]])
    h = torch.randn(4, 4)
    pred = NCNPredictor(4, 8).eval()
    hp = pred._transform(h)
    full = pred(h, adj, pairs)
    assert torch.allclose(full, pred._head(h[[0]], h[[2]], hp[[1]]), atol=1e-6)
    masked = pred(h, remove_edges(adj, torch.tensor([[1], [0]])), pairs)
    assert torch.allclose(masked, pred._head(h[[0]], h[[2]], torch.zeros(1, 4)), atol=1e-6)


def test_ncnc_completion_weights_by_hand():
    adj = to_csr(SMALL, 6)
    torch.manual_seed(0)
    h = torch.randn(6, 4)
    pairs = torch.tensor([[0], [1]])
    scale, offset, pt, alpha = 4.3, 0.2, 0.75, 0.9
    pred = NCNCPredictor(4, 8, depth=1, scale=scale, offset=offset, pt=pt, alpha=alpha, use_xlin=True).eval()
    ncn = NCNPredictor(4, 8, use_xlin=True).eval()
    ncn.load_state_dict(pred.state_dict(), strict=False)
    hp = pred._transform(h)
    # Quirk Q1: the completion model sees h' and applies xlin again.
    s = ncn(hp, adj, torch.tensor([[1, 0], [2, 4]]))  # (j, u) for u in only_i; (i, u) for only_j
    p0 = 1 / (1 + torch.exp(-scale * (s - offset)))
    p = alpha * pt * p0 / (pt * p0 + 1 - p0)
    assert torch.allclose(pred.calibrate(s), p)
    z = hp[3] + p[0] * hp[2] + p[1] * hp[4]
    expected = pred._head(h[[0]], h[[1]], z.view(1, -1))
    assert torch.allclose(pred(h, adj, pairs), expected, atol=1e-5)
    # Without the quirk the completion sees h.
    pred.nested_xlin = False
    s = ncn(h, adj, torch.tensor([[1, 0], [2, 4]]))
    p = pred.calibrate(s)
    z = hp[3] + p[0] * hp[2] + p[1] * hp[4]
    assert torch.allclose(pred(h, adj, pairs), pred._head(h[[0]], h[[1]], z.view(1, -1)), atol=1e-5)


def test_ncnc_alpha_zero_is_ncn():
    adj = random_graph()
    h = torch.randn(40, 8)
    pairs = random_pairs(40, 30)
    pred = NCNCPredictor(8, 8, alpha=0.0, use_xlin=True).eval()
    ncn = NCNPredictor(8, 8, use_xlin=True).eval()
    ncn.load_state_dict(pred.state_dict(), strict=False)
    assert torch.allclose(pred(h, adj, pairs), ncn(h, adj, pairs), atol=1e-5)
    pred.depth = 0
    assert torch.allclose(pred(h, adj, pairs), ncn(h, adj, pairs), atol=1e-5)


@pytest.mark.parametrize('depth,split_size', [(1, 3), (1, 50), (2, 40)])
def test_ncnc_chunked_equals_unchunked(depth, split_size):
    adj = random_graph(30, 60)
    h = torch.randn(30, 8)
    pairs = random_pairs(30, 8)
    pred = NCNCPredictor(8, 8, depth=depth, use_xlin=True, layer_norm=True).eval()
    full = pred(h, adj, pairs)
    pred.split_size = split_size
    assert full.shape == (8,)
    assert torch.allclose(pred(h, adj, pairs), full, atol=1e-5)


def test_ncnc_no_grad_through_completion():
    adj = random_graph()
    h = torch.randn(40, 8, requires_grad=True)
    pairs = random_pairs(40, 10)
    pred = NCNCPredictor(8, 8, scale=1.0, offset=0.0).eval()
    out = pred(h, adj, pairs)
    out.sum().backward()
    # Gradient of the same output with completion probabilities held fixed as constants.
    g1 = h.grad.clone()
    h.grad = None
    cn, r1, w1, r2, w2 = pred.completion_sets(adj, pairs)
    with torch.no_grad():
        s1 = pred._score(h, adj, torch.stack([pairs[1][r1[0]], r1[1]]), 0)
        s2 = pred._score(h, adj, torch.stack([pairs[0][r2[0]], r2[1]]), 0)
    from graphkit.ops import pool_pairs

    z = (
        pool_pairs(cn, h, 10)
        + pool_pairs(r1, h, 10, pred.calibrate(s1) * w1)
        + pool_pairs(r2, h, 10, pred.calibrate(s2) * w2)
    )
    pred._head(h[pairs[0]], h[pairs[1]], z).sum().backward()
    assert torch.allclose(g1, h.grad, atol=1e-5)


def test_ncnc_candidate_sampling():
    adj = random_graph(40, 300)
    h = torch.randn(40, 8)
    pairs = random_pairs(40, 16)
    pred = NCNCPredictor(8, 8, test_max_candidates=1000).eval()
    full = NCNCPredictor(8, 8).eval()
    full.load_state_dict(pred.state_dict())
    assert torch.allclose(pred(h, adj, pairs), full(h, adj, pairs), atol=1e-5)  # k >= degree
    pred.test_max_candidates = 2
    _, r1, w1, _, _ = pred.completion_sets(adj, pairs)
    counts = torch.bincount(r1[0], minlength=16)
    assert counts.max() <= 2
    assert pred(h, adj, pairs).shape == (16,)
    pred.train()
    pred.train_max_candidates = 3
    assert torch.bincount(pred.completion_sets(adj, pairs)[1][0]).max() <= 3


def test_training_mode_dropout_active():
    adj = random_graph()
    h = torch.randn(40, 8)
    pairs = random_pairs(40, 30)
    pred = NCNCPredictor(8, 8, dropout=0.5, edge_dropout=0.5)
    torch.manual_seed(0)
    a = pred(h, adj, pairs)
    torch.manual_seed(1)
    b = pred(h, adj, pairs)
    assert not torch.allclose(a, b)
    pred.eval()
    assert torch.allclose(pred(h, adj, pairs), pred(h, adj, pairs))


@pytest.mark.parametrize('cls', [NCNPredictor, NCNCPredictor])
def test_eval_cn_branch_runs_only_on_pairs_with_common_neighbours(cls):
    adj = random_graph(60, 90, seed=3)  # sparse: most random pairs have no common neighbour
    nb = neighbours(adj)
    h = torch.randn(60, 8, requires_grad=True)
    pairs = random_pairs(60, 80, seed=4)
    with_cn = sum(bool(nb[i] & nb[j]) for i, j in pairs.t().tolist())
    assert 0 < with_cn < 80
    torch.manual_seed(0)
    pred = cls(8, 16, use_xlin=True, layer_norm=True, dropout=0.0, beta=0.6)
    rows = []
    pred.xcnlin.register_forward_hook(lambda m, inp, out: rows.append(inp[0].size(0)))
    full = pred.train()(h, adj, pairs)  # training mode (no dropout here): the branch runs on every pair
    pred.eval()
    rows.clear()
    skipped = pred(h, adj, pairs)
    assert torch.allclose(skipped, full, atol=1e-5)
    if cls is NCNPredictor:
        assert sorted(rows) == [1, with_cn]  # mlp(0) once, then the pairs with common neighbours
    # With autograd on in eval mode the result is built out of place, so gradients are the same.
    (g_full,) = torch.autograd.grad(pred.train()(h, adj, pairs).sum(), h)
    (g_skip,) = torch.autograd.grad(pred.eval()(h, adj, pairs).sum(), h)
    assert torch.allclose(g_skip, g_full, atol=1e-5)
    with torch.no_grad():  # the in-place path
        assert torch.allclose(pred(h, adj, pairs), full, atol=1e-5)


def test_eval_xlin_result_reused_until_inputs_or_weights_change():
    adj = random_graph()
    h = torch.randn(40, 8)
    pairs = random_pairs(40, 30)
    pred = NCNPredictor(8, 16, use_xlin=True).eval()
    calls = []
    pred.xlin.register_forward_hook(lambda *_: calls.append(1))
    with torch.no_grad():
        first = pred(h, adj, pairs)
        assert torch.allclose(pred(h, adj, pairs[:, :7]), first[:7], atol=1e-6) and len(calls) == 1  # reused
        h.add_(0.5)  # in place: a new version of h
        moved = pred(h, adj, pairs)
        assert len(calls) == 2 and not torch.allclose(moved, first)
        pred.xlin[0].weight.mul_(2.0)  # new weights (an optimiser step, load_state_dict)
        assert not torch.allclose(pred(h, adj, pairs), moved) and len(calls) == 3
        pred.load_state_dict(NCNPredictor(8, 16, use_xlin=True).state_dict())
        pred(h, adj, pairs)
        assert len(calls) == 4
    pred(h, adj, pairs)  # autograd on: never cached
    pred.train()(h, adj, pairs)
    assert len(calls) == 6


def test_reset_parameters_and_buffers():
    pred = NCNCPredictor(8, 8, beta=0.3, scale=2.0, offset=1.0, pt=0.4, alpha=0.5)
    assert float(pred.beta) == pytest.approx(0.3)
    with torch.no_grad():
        pred.beta.fill_(5.0)
    torch.manual_seed(0)
    pred.reset_parameters()
    first = [p.clone() for p in pred.parameters()]
    torch.manual_seed(0)
    pred.reset_parameters()
    assert all(torch.equal(a, b) for a, b in zip(first, pred.parameters()))
    assert float(pred.beta) == pytest.approx(0.3)
    buffers = dict(pred.named_buffers())
    assert set(buffers) == {'scale', 'offset', 'pt', 'alpha'}
    assert 'scale' in pred.state_dict() and not pred.scale.requires_grad


def test_errors():
    with pytest.raises(ValueError, match="unknown 'variant'"):
        NCNPredictor(8, 8, variant='cn2')
    with pytest.raises(ValueError, match="'dropout' in"):
        NCNPredictor(8, 8, dropout=-0.1)
    with pytest.raises(ValueError, match="'pt' in"):
        NCNCPredictor(8, 8, pt=1.0)
    with pytest.raises(ValueError, match="'split_size'"):
        NCNCPredictor(8, 8, split_size=0)
    with pytest.raises(ValueError, match="'depth'"):
        NCNCPredictor(8, 8, depth=-1)
    with pytest.raises(ValueError, match="only supports 'variant'"):
        NCNCPredictor(8, 8, variant='cn0')
