r"""UltraGCN's constraint weights and loss, from the `"UltraGCN: Ultra Simplification of Graph Convolutional
Networks for Recommendation" <https://arxiv.org/abs/2110.15114>`_ paper, as the official code optimises them.

* :func:`constraint_weights`: the user-item constraint :math:`\beta_{u,i} = b_u(u)\, b_i(i)` as two degree
  vectors (never a :math:`|U| \times |I|` matrix).
* :func:`item_item_neighbors`: the top-:math:`K` item-item neighbours and weights :math:`\omega`, computed in
  chunks of rows from the sparse co-occurrence matrix :math:`G = A^\top A` (never a dense
  :math:`|I| \times |I|` matrix).
* :class:`UltraGCNLoss`: the per-sample weighted BCE with the merged weights :math:`w_1 \dots w_4`, the
  item-item term and the L2 term, with the official **sum** reduction.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.modules.loss import _Loss

from graphkit.metrics.ranking import topk_full_ranking

__all__ = ['constraint_weights', 'item_item_neighbors', 'UltraGCNLoss']


def _bipartite(edge_index: Tensor, num_users: int, num_items: int) -> Tuple[Tensor, Tensor]:
    r"""``(user, item)`` with local item ids from user→item pairs in the homogeneous index (items in
    :math:`[U, U + I)`); reverse (item→user) columns of a symmetric graph are dropped."""
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape [2, E] (got {tuple(edge_index.shape)})")
    edge_index = edge_index.long()
    keep = (edge_index[0] < num_users) & (edge_index[1] >= num_users)
    user, item = edge_index[0, keep], edge_index[1, keep] - num_users
    if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= num_users + num_items):
        raise ValueError(f"'edge_index' must hold node ids in [0, {num_users + num_items}) (users first, "
                         f'then items)')
    return user, item


def constraint_weights(edge_index: Tensor, num_users: int, num_items: int) -> Tuple[Tensor, Tensor]:
    r"""The user-item constraint weights of UltraGCN as two vectors.

    .. math::
        \beta_{u,i} = \frac{1}{d_u}\sqrt{\frac{d_u + 1}{d_i + 1}} = b_u(u)\, b_i(i), \qquad
        b_u = \frac{\sqrt{d_u + 1}}{d_u}, \quad b_i = \frac{1}{\sqrt{d_i + 1}}

    with degrees from the training interactions (users without any get :math:`b_u = 0`).

    Args:
        edge_index (torch.Tensor): Training user→item pairs in the homogeneous index (items offset by
            :obj:`num_users`); a symmetric graph (both directions) is accepted.
        num_users (int): :math:`U`.
        num_items (int): :math:`I`.

    Returns:
        (b_user of shape :obj:`[U]`, b_item of shape :obj:`[I]`), float32.
    """
    user, item = _bipartite(edge_index, num_users, num_items)
    d_u = torch.bincount(user, minlength=num_users).double()
    d_i = torch.bincount(item, minlength=num_items).double()
    b_user = torch.where(d_u > 0, (d_u + 1).sqrt() / d_u.clamp(min=1), torch.zeros_like(d_u))
    b_item = 1.0 / (d_i + 1).sqrt()
    return b_user.float(), b_item.float()


def item_item_neighbors(edge_index: Tensor, num_users: int, num_items: int, k: int = 10,
                        omega: str = 'code', exclude_self: bool = False,
                        chunk_size: int = 1024) -> Tuple[Tensor, Tensor]:
    r"""The top-:obj:`k` item-item neighbours of every item and their weights :math:`\omega`.

    With :math:`A` the binary user-item training matrix, :math:`G = A^\top A` (co-occurrence counts) and
    :math:`g_i = \sum_j G_{i,j}`:

    .. math::
        \omega^{\text{code}}_{i,j} = \frac{G_{i,j}}{g_i}\sqrt{\frac{g_i + 1}{g_j + 1}}, \qquad
        \omega^{\text{paper}}_{i,j} = \frac{G_{i,j}}{g_i - G_{i,i}}\sqrt{\frac{g_i}{g_j}}

    ``'code'`` (default) is what the official code computes (the :math:`\beta` formula applied to :math:`G`);
    ``'paper'`` is the paper's Eq. 16 form. The diagonal is kept unless :obj:`exclude_self` (officially kept:
    every item is usually its own top-1 neighbour). Rows of :math:`G` are formed chunk by chunk from the sparse
    :math:`A` (memory :math:`O(\text{chunk\_size} \times I)`); ties are broken by lower item index. Items with
    fewer than :obj:`k` co-occurring items get neighbours of weight 0.

    Args:
        edge_index (torch.Tensor): Training user→item pairs in the homogeneous index (see
            :func:`constraint_weights`).
        num_users (int): :math:`U`.
        num_items (int): :math:`I`.
        k (int, optional): Neighbours per item (``ii_neighbor_num``). (default: :obj:`10`)
        omega (str, optional): ``'code'`` or ``'paper'``. (default: :obj:`'code'`)
        exclude_self (bool, optional): Drop :math:`j = i`. (default: :obj:`False`)
        chunk_size (int, optional): Item rows of :math:`G` formed at once. (default: :obj:`1024`)

    Returns:
        (neighbors LongTensor :obj:`[I, k]` of local item ids, weights FloatTensor :obj:`[I, k]`).
    """
    if omega not in ('code', 'paper'):
        raise ValueError(f"'omega' must be 'code' or 'paper' (got {omega!r})")
    if not isinstance(k, int) or k < 1 or k > num_items - int(exclude_self):
        raise ValueError(f"'k' must be an integer in [1, {num_items - int(exclude_self)}] (got {k!r})")
    import numpy as np
    import scipy.sparse as sp

    user, item = _bipartite(edge_index, num_users, num_items)
    device = edge_index.device
    a = sp.csr_matrix((np.ones(user.numel(), dtype=np.float64), (user.cpu().numpy(), item.cpu().numpy())),
                      shape=(num_users, num_items))
    a.data[:] = 1.0                                            # binary, even with duplicate pairs
    at = a.T.tocsr()
    d_u = np.asarray(a.sum(1)).ravel()
    g = at @ d_u                                               # g_i = Σ_j G_ij = Σ_{u ∈ N(i)} d_u
    d_i = np.asarray(a.sum(0)).ravel()                         # G_ii = d_i
    g_t = torch.from_numpy(g)
    if omega == 'code':
        row_scale = torch.where(g_t > 0, (g_t + 1).sqrt() / g_t.clamp(min=1e-300), torch.zeros_like(g_t))
        col_scale = 1.0 / (g_t + 1).sqrt()
    else:
        off = g_t - torch.from_numpy(d_i)
        row_scale = torch.where(off > 0, g_t.sqrt() / off.clamp(min=1e-300), torch.zeros_like(g_t))
        col_scale = torch.where(g_t > 0, 1.0 / g_t.sqrt().clamp(min=1e-300), torch.zeros_like(g_t))

    def rows(q: Tensor) -> Tensor:
        idx = q.cpu().numpy()
        block = torch.from_numpy((at[idx] @ a).toarray())     # [b, I] rows of G
        return block * row_scale[q.cpu()].view(-1, 1) * col_scale.view(1, -1)

    exclude = None
    if exclude_self:
        exclude = (torch.arange(num_items + 1), torch.arange(num_items))
    neighbors = topk_full_ranking(rows, num_items, k, exclude=exclude, chunk_size=chunk_size)
    weights = torch.empty(num_items, k, dtype=torch.float64)
    for start in range(0, num_items, chunk_size):
        q = torch.arange(start, min(start + chunk_size, num_items))
        weights[q] = rows(q).gather(1, neighbors[q])
    return neighbors.to(device), weights.float().to(device)


class UltraGCNLoss(_Loss):
    r"""The UltraGCN objective as the official code optimises it (the paper's :math:`L_O + \lambda L_C +
    \gamma L_I` with the first two merged into per-sample weights).

    .. math::
        \mathcal{L} = \sum_{(u,i)} (w_1 + w_2 \beta_{u,i})\, \mathrm{softplus}(-s_{ui})
        + \nu \sum_{(u,i)} \frac{1}{n}\sum_{j=1}^{n} (w_3 + w_4 \beta_{u,j})\, \mathrm{softplus}(s_{uj})
        + \lambda \sum_{(u,i)} \sum_{j \in S(i)} \omega_{i,j}\, \mathrm{softplus}(-s_{uj})
        + \frac{\gamma}{2} \lVert \mathbf{E} \rVert_F^2

    with :math:`\nu` = ``negative_weight``. The official code names :math:`\gamma` the L2 weight and
    :math:`\lambda` the item-item weight: the **swap** of the paper's names is kept here.

    Args:
        w1 (float): Weight of the plain positive BCE term.
        w2 (float): Weight of the :math:`\beta`-weighted positive term (the constraint loss).
        w3 (float): Weight of the plain negative BCE term.
        w4 (float): Weight of the :math:`\beta`-weighted negative term.
        negative_weight (float): :math:`\nu`, the weight of the negative part.
        gamma (float): L2 weight (config ``gamma``).
        lambda_ (float): Item-item weight (config ``lambda``).
        reduction (str, optional): ``'sum'`` over the batch (official) or ``'mean'``. (default: :obj:`'sum'`)
    """
    __constants__ = ['w1', 'w2', 'w3', 'w4', 'negative_weight', 'gamma', 'lambda_', 'reduction']

    def __init__(self, w1: float, w2: float, w3: float, w4: float, negative_weight: float, gamma: float,
                 lambda_: float, reduction: str = 'sum') -> None:
        if reduction not in ('sum', 'mean'):
            raise ValueError(f"'{self.__class__.__name__}' expects 'reduction' in ('sum', 'mean') "
                             f'(got {reduction!r})')
        super().__init__(None, None, reduction)
        self.w1, self.w2, self.w3, self.w4 = float(w1), float(w2), float(w3), float(w4)
        self.negative_weight, self.gamma, self.lambda_ = float(negative_weight), float(gamma), float(lambda_)

    def forward(self, pos_score: Tensor, neg_score: Tensor, pos_beta: Tensor, neg_beta: Tensor,
                ii_score: Optional[Tensor] = None, ii_weight: Optional[Tensor] = None,
                l2: Optional[Tensor] = None) -> Tensor:
        r"""Compute the loss of one batch.

        Args:
            pos_score (torch.Tensor): :math:`s_{ui}` of the :math:`B` positive pairs, shape :obj:`[B]`.
            neg_score (torch.Tensor): :math:`s_{uj}` of their negatives, shape :obj:`[B, n]`.
            pos_beta (torch.Tensor): :math:`\beta_{u,i}`, shape :obj:`[B]`.
            neg_beta (torch.Tensor): :math:`\beta_{u,j}`, shape :obj:`[B, n]`.
            ii_score (torch.Tensor, optional): :math:`s_{uj}` for the item-item neighbours :math:`j \in S(i)`
                of each positive item, shape :obj:`[B, K]`.
            ii_weight (torch.Tensor, optional): :math:`\omega_{i,j}`, shape :obj:`[B, K]`.
            l2 (torch.Tensor, optional): :math:`\lVert \mathbf{E} \rVert_F^2` (a scalar; the caller chooses
                all rows or the batch's rows).
        """
        pos = (self.w1 + self.w2 * pos_beta) * F.softplus(-pos_score)
        neg = ((self.w3 + self.w4 * neg_beta) * F.softplus(neg_score)).mean(dim=-1)
        per_pair = pos + self.negative_weight * neg
        if ii_score is not None and self.lambda_ != 0:
            per_pair = per_pair + self.lambda_ * (ii_weight * F.softplus(-ii_score)).sum(dim=-1)
        out = per_pair.sum() if self.reduction == 'sum' else per_pair.mean()
        if l2 is not None and self.gamma != 0:
            out = out + 0.5 * self.gamma * l2
        return out

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(w=({self.w1:g}, {self.w2:g}, {self.w3:g}, {self.w4:g}), '
                f'negative_weight={self.negative_weight:g}, gamma={self.gamma:g}, lambda={self.lambda_:g})')
