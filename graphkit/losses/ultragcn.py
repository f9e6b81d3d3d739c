r"""UltraGCN's loss, from the `"UltraGCN: Ultra Simplification of Graph Convolutional Networks for
Recommendation" <https://arxiv.org/abs/2110.15114>`_ paper, as the official code optimises it.

:class:`UltraGCNLoss` is the per-sample weighted BCE with the merged weights :math:`w_1 \dots w_4`, the
item-item term and the L2 term, with the official **sum** reduction. Its graph-derived weights
:math:`\beta` and :math:`\omega` are preprocessing: :func:`graphkit.ops.constraint_weights` and
:func:`graphkit.ops.item_item_neighbors`.
"""

from __future__ import annotations

from typing import Optional

import torch.nn.functional as F
from torch import Tensor
from torch.nn.modules.loss import _Loss

__all__ = ['UltraGCNLoss']


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

    def __init__(
        self,
        w1: float,
        w2: float,
        w3: float,
        w4: float,
        negative_weight: float,
        gamma: float,
        lambda_: float,
        reduction: str = 'sum',
    ) -> None:
        if reduction not in ('sum', 'mean'):
            raise ValueError(f"'{self.__class__.__name__}' expects 'reduction' in ('sum', 'mean') (got {reduction!r})")
        super().__init__(None, None, reduction)
        self.w1, self.w2, self.w3, self.w4 = float(w1), float(w2), float(w3), float(w4)
        self.negative_weight, self.gamma, self.lambda_ = float(negative_weight), float(gamma), float(lambda_)

    def forward(
        self,
        pos_score: Tensor,
        neg_score: Tensor,
        pos_beta: Tensor,
        neg_beta: Tensor,
        ii_score: Optional[Tensor] = None,
        ii_weight: Optional[Tensor] = None,
        l2: Optional[Tensor] = None,
    ) -> Tensor:
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
        return (
            f'{self.__class__.__name__}(w=({self.w1:g}, {self.w2:g}, {self.w3:g}, {self.w4:g}), '
            f'negative_weight={self.negative_weight:g}, gamma={self.gamma:g}, lambda={self.lambda_:g})'
        )
