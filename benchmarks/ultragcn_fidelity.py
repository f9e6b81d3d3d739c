"""UltraGCN on real data against the official objective and training step (issue 13).

1. One batch (``train.batch_size`` pairs, the preset's negatives, duplicates allowed): graphkit's loss and gradient
   on the ``sparse`` / ``gather`` / ``matmul`` scoring paths against a float64 re-implementation of the official
   objective (shared/specs/ultragcn_rphgnn.md, B.4).
2. ``--steps`` Adam steps of graphkit's model next to a re-implementation of the official module (two
   ``nn.Embedding`` tables, ``binary_cross_entropy_with_logits`` with per-sample weights, ``sigmoid().log()``, the
   norm over ``parameters()``) on the same batches and negatives: the relative parameter difference.

    python benchmarks/ultragcn_fidelity.py --dataset amazon-cds --root ../shared/data --steps 30 --threads 2
"""

import argparse
import time

import torch
import torch.nn.functional as F

from graphkit.configs import load_config
from graphkit.data import load_dataset
from graphkit.models import UltraGCN


class Official(torch.nn.Module):
    """The official module's formulation, with graphkit's buffers (checked against the formulas by the tests)."""

    def __init__(self, model: UltraGCN) -> None:
        super().__init__()
        self.__dict__['m'] = model  # not a submodule
        U, w = model.num_users, model.embedding.weight.detach()
        self.user_embeds = torch.nn.Embedding.from_pretrained(w[:U].clone(), freeze=False)
        self.item_embeds = torch.nn.Embedding.from_pretrained(w[U:].clone(), freeze=False)

    def forward(self, users, pos_items, neg_items):
        m, c = self.m, self.m.criterion
        pw = c.w1 + c.w2 * m.b_user[users] * m.b_item[pos_items]
        nw = c.w3 + c.w4 * torch.repeat_interleave(m.b_user[users], neg_items.size(1)) * m.b_item[neg_items.flatten()]
        ue, pe, ne = self.user_embeds(users), self.item_embeds(pos_items), self.item_embeds(neg_items)
        ps, ns = (ue * pe).sum(-1), (ue.unsqueeze(1) * ne).sum(-1)
        nl = F.binary_cross_entropy_with_logits(ns, torch.zeros_like(ns), weight=nw.view(ns.size()), reduction='none')
        pl = F.binary_cross_entropy_with_logits(ps, torch.ones_like(ps), weight=pw, reduction='none')
        loss = (pl + nl.mean(-1) * c.negative_weight).sum() + c.gamma * sum((p**2).sum() for p in self.parameters()) / 2
        nb, sim = self.item_embeds(m.ii_neighbors[pos_items]), m.ii_weights[pos_items]
        return loss + c.lambda_ * (-sim * (ue.unsqueeze(1) * nb).sum(-1).sigmoid().log()).sum()


def reference_loss(model: UltraGCN, w: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """B.4 in float64 on the table ``w`` (vectorised over the batch)."""
    U, c = model.num_users, model.criterion
    eu, ei = w[:U], w[U:]
    u, i, j = pos[0], pos[1] - U, neg - U
    bu, bi = model.b_user.double(), model.b_item.double()
    loss = ((c.w1 + c.w2 * bu[u] * bi[i]) * F.softplus(-(eu[u] * ei[i]).sum(-1))).sum()
    neg_term = (c.w3 + c.w4 * bu[u, None] * bi[j]) * F.softplus((eu[u, None] * ei[j]).sum(-1))
    loss = loss + c.negative_weight * neg_term.mean(-1).sum() + c.gamma / 2 * w.pow(2).sum()
    nb, om = model.ii_neighbors[i], model.ii_weights[i].double()
    return loss + c.lambda_ * (om * -torch.log(torch.sigmoid((eu[u, None] * ei[nb]).sum(-1)))).sum()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--dataset', default='amazon-cds')
    p.add_argument('--root', default=None)
    p.add_argument('--steps', type=int, default=30)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    t = time.perf_counter()
    ds = load_dataset(a.dataset, 'recommend', a.root, seed=0, val_ratio=0.0)
    cfg = load_config('ultragcn', a.dataset, None, [], task='recommend')
    torch.manual_seed(a.seed)
    model = UltraGCN.from_config(dict(cfg['model']), ds.data)
    print(f'{a.dataset}: {model.num_users} users, {model.num_items} items; built in {time.perf_counter() - t:.1f} s')
    bs, U, I = cfg['train']['batch_size'], model.num_users, model.num_items
    gen = torch.Generator().manual_seed(a.seed + 1)
    pairs = ds.data.edge_label_index
    perm = torch.randperm(pairs.size(1), generator=gen)

    pos = pairs[:, perm[:bs]]
    neg = model.sample_negatives(pos[0], gen)
    w = model.embedding.weight.detach().double().requires_grad_()
    ref = reference_loss(model, w, pos, neg)
    ref.backward()
    print('| path | relative loss error | relative gradient error | max abs gradient error / max gradient |')
    print('|---|---|---|---|')
    for mode in ('sparse', 'gather', 'matmul'):
        model.neg_scoring = mode
        model.zero_grad()
        loss = model.loss(pos, neg)
        loss.backward()
        g = model.embedding.weight.grad.double()
        rel = float((g - w.grad).norm() / w.grad.norm())
        print(
            f'| {mode} | {abs(float(loss.detach()) - float(ref.detach())) / float(ref.detach()):.1e} | {rel:.1e} | '
            f'{float((g - w.grad).abs().max()):.1e} / {float(w.grad.abs().max()):.1e} |'
        )
    model.neg_scoring = cfg['model']['neg_scoring']

    official = Official(model)
    opt_a = torch.optim.Adam(model.parameters(), lr=cfg['train']['lr'])
    opt_b = torch.optim.Adam(official.parameters(), lr=cfg['train']['lr'])
    print(f'\n{a.steps} Adam steps side by side (lr {cfg["train"]["lr"]:g}):')
    for step in range(a.steps):
        pos = pairs[:, perm[step * bs : (step + 1) * bs]]
        neg = torch.randint(0, I, (pos.size(1), model.negative_num), generator=gen)
        opt_a.zero_grad()
        model.loss(pos, neg + U).backward()
        opt_a.step()
        opt_b.zero_grad()
        official(pos[0], pos[1] - U, neg).backward()
        opt_b.step()
        if step % 10 == 0 or step == a.steps - 1:
            theirs = torch.cat([official.user_embeds.weight, official.item_embeds.weight]).detach()
            diff = float((model.embedding.weight.detach() - theirs).norm() / theirs.norm())
            print(f'step {step}: relative parameter difference {diff:.2e}, table norm {float(theirs.norm()):.3g}')


if __name__ == '__main__':
    main()
