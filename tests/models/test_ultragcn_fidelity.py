"""UltraGCN against the official objective and training step (issue 13: the Amazon-CDs plateau).

The regime of the official Amazon-CDs config, on tiny random graphs: init std 1e-4, lambda = 1 (heavy item-item
term, self-neighbours kept), many duplicate negatives with a large negative weight, sum reduction, L2 over every
row. Three references, each written from the spec (``shared/specs/ultragcn_rphgnn.md``, B.4) and not from
graphkit's code:

* a per-sample float64 loop of the loss, with :math:`\\beta` and :math:`\\omega` recomputed from a dense
  :math:`A^\\top A` (the official formulas), for the loss and its gradient on every negative-scoring path;
* the official module's formulation (two ``nn.Embedding`` tables, ``binary_cross_entropy_with_logits`` with
  per-sample weights, ``sigmoid().log()``, the norm over ``parameters()``), trained side by side with graphkit's
  model by Adam on the same batches and negatives;
* the uniform sampler with replacement over all items.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from graphkit.models import UltraGCN

U, I, D = 12, 15, 8
CDS = dict(w1=1e-7, w2=1.0, w3=1e-7, w4=1.0, negative_weight=1000.0, gamma=1e-4, lambda_=1.0, init_std=1e-4)


def _graph(seed=0, p=0.3):
    gen = torch.Generator().manual_seed(seed)
    a = torch.rand(U, I, generator=gen) < p
    a[torch.arange(U), torch.randint(0, I, (U,), generator=gen)] = True  # every user has an item
    a[torch.randint(0, U, (I,), generator=gen), torch.arange(I)] = True  # every item has a user
    return a


def _model(a, mode, k=4, n=40, seed=0, **kwargs):
    u, i = a.nonzero().t()
    torch.manual_seed(seed)
    return UltraGCN(U, I, D, torch.stack([u, i + U]), negative_num=n, ii_neighbor_num=k, neg_scoring=mode, **kwargs)


def _official_weights(a, k):
    """beta_u, beta_i and the top-k omega rows (self kept) from the dense A, in float64, as the official code."""
    a = a.double()
    d_u, d_i = a.sum(1), a.sum(0)
    b_u, b_i = (d_u + 1).sqrt() / d_u, 1 / (d_i + 1).sqrt()
    g = a.t() @ a
    deg = g.sum(1)
    omega = g * ((deg + 1).sqrt() / deg).view(-1, 1) / (deg + 1).sqrt().view(1, -1)
    return b_u, b_i, omega


def _reference_loss(w, a, pos, neg, k, c):
    """The B.4 loss as a loop over samples (float64); ``w`` is the [U + I, D] table."""
    b_u, b_i, omega = _official_weights(a, k)
    eu, ei = w[:U], w[U:]
    total = w.new_zeros(())
    for b in range(pos.size(1)):
        u, i = int(pos[0, b]), int(pos[1, b]) - U
        s = eu[u] @ ei[i]
        total = total + (c['w1'] + c['w2'] * b_u[u] * b_i[i]) * -torch.log(torch.sigmoid(s))
        negs = w.new_zeros(())
        for j in (neg[b] - U).tolist():  # duplicates counted as often as drawn
            negs = negs + (c['w3'] + c['w4'] * b_u[u] * b_i[j]) * -torch.log(1 - torch.sigmoid(eu[u] @ ei[j]))
        total = total + c['negative_weight'] * negs / neg.size(1)
        # top-k ranked as the official code ranks (float32 values), ties to the lower item index
        nbs = sorted(range(I), key=lambda j: (-float(omega[i, j].float()), j))[:k]
        for j in nbs:
            total = total + c['lambda_'] * float(omega[i, j]) * -torch.log(torch.sigmoid(eu[u] @ ei[j]))
    return total + c['gamma'] / 2 * w.pow(2).sum()


def _batch(a, model, size=6, seed=1):
    gen = torch.Generator().manual_seed(seed)
    u, i = a.nonzero().t()
    pick = torch.randperm(u.numel(), generator=gen)[:size]
    pos = torch.stack([u[pick], i[pick] + U])
    neg = model.sample_negatives(pos[0], gen)
    neg[:, 1] = neg[:, 0]  # duplicates in every row
    neg[:, 2] = pos[1]  # and the positive itself among the negatives
    return pos, neg


@pytest.mark.parametrize('mode', ['gather', 'matmul', 'sparse'])
def test_loss_and_gradient_equal_a_float64_per_sample_loop(mode):
    a, k = _graph(), 4
    model = _model(a, mode, k=k, **CDS)
    pos, neg = _batch(a, model)
    loss = model.loss(pos, neg)
    loss.backward()
    w = model.embedding.weight.detach().double().requires_grad_()
    ref = _reference_loss(w, a, pos, neg, k, CDS)
    ref.backward()
    assert float(loss.detach()) == pytest.approx(float(ref.detach()), rel=1e-6)
    grad, expected = model.embedding.weight.grad.double(), w.grad
    # float32 at init 1e-4 (scores ~1e-7): the gradient is still exact to float32 rounding
    assert float((grad - expected).norm() / expected.norm()) < 1e-5
    assert float((grad - expected).abs().max()) < 1e-5 * float(expected.abs().max())


class _OfficialUltraGCN(torch.nn.Module):
    """The official module's formulation of the objective (two tables; weights from the model's buffers)."""

    def __init__(self, model):
        super().__init__()
        self.__dict__['m'] = model  # not a submodule: its table is not one of these parameters
        weight = model.embedding.weight.detach()
        self.user_embeds = torch.nn.Embedding.from_pretrained(weight[:U].clone(), freeze=False)
        self.item_embeds = torch.nn.Embedding.from_pretrained(weight[U:].clone(), freeze=False)

    def forward(self, users, pos_items, neg_items):
        m, c = self.m, self.m.criterion
        pos_w = c.w1 + c.w2 * m.b_user[users] * m.b_item[pos_items]
        neg_w = (
            c.w3 + c.w4 * torch.repeat_interleave(m.b_user[users], neg_items.size(1)) * m.b_item[neg_items.flatten()]
        )
        ue, pe, ne = self.user_embeds(users), self.item_embeds(pos_items), self.item_embeds(neg_items)
        ps, ns = (ue * pe).sum(-1), (ue.unsqueeze(1) * ne).sum(-1)
        nl = F.binary_cross_entropy_with_logits(
            ns, torch.zeros_like(ns), weight=neg_w.view(ns.size()), reduction='none'
        )
        pl = F.binary_cross_entropy_with_logits(ps, torch.ones_like(ps), weight=pos_w, reduction='none')
        loss = (pl + nl.mean(-1) * c.negative_weight).sum()
        loss = loss + c.gamma * sum((p**2).sum() for p in self.parameters()) / 2
        nb, sim = self.item_embeds(m.ii_neighbors[pos_items]), m.ii_weights[pos_items]
        return loss + c.lambda_ * (-sim * (ue.unsqueeze(1) * nb).sum(-1).sigmoid().log()).sum()


@pytest.mark.parametrize('mode', ['gather', 'sparse'])
def test_adam_training_follows_the_official_formulation(mode):
    """Same init, batches and negatives: graphkit's single table and fused loss take the official module's
    Adam trajectory (float32, init 1e-4, where Adam's eps is comparable to the L2 gradient of idle rows)."""
    a = _graph(seed=2)
    model = _model(a, mode, n=30, **CDS)
    official = _OfficialUltraGCN(model)
    opt_a = torch.optim.Adam(model.parameters(), lr=1e-3)
    opt_b = torch.optim.Adam(official.parameters(), lr=1e-3)
    u, i = a.nonzero().t()
    gen = torch.Generator().manual_seed(5)
    for _ in range(40):
        pick = torch.randint(0, u.numel(), (8,), generator=gen)
        pos = torch.stack([u[pick], i[pick] + U])
        neg = model.sample_negatives(pos[0], gen)
        opt_a.zero_grad()
        model.loss(pos, neg).backward()
        opt_a.step()
        opt_b.zero_grad()
        official(pos[0], pos[1] - U, neg - U).backward()
        opt_b.step()
    ours = model.embedding.weight.detach()
    theirs = torch.cat([official.user_embeds.weight, official.item_embeds.weight]).detach()
    assert float(ours.norm()) > 20 * float(
        torch.full_like(ours, 1e-4).norm()
    )  # it moved far from init (Adam steps ~lr)
    assert float((ours - theirs).norm() / theirs.norm()) < 1e-4


def test_negatives_are_uniform_over_all_items_with_replacement():
    a = _graph(seed=3)
    model = _model(a, 'gather', n=600)
    user = torch.arange(U).repeat_interleave(10)
    neg = model.sample_negatives(user, torch.Generator().manual_seed(0)) - U
    counts = torch.bincount(neg.reshape(-1), minlength=I).double()
    expected = neg.numel() / I
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 2 * (I - 1) + 6 * math.sqrt(2 * (I - 1))  # a far tail of chi-square with I - 1 dof
    rows_with_duplicates = sum(int(torch.unique(r).numel() < r.numel()) for r in neg)
    assert rows_with_duplicates == neg.size(0)  # with replacement
    train = a[user.view(-1, 1), neg]
    assert bool(train.any())  # positives are not excluded (sampling_sift_pos off)
