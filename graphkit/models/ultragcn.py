r"""UltraGCN for recommendation, in the shape of PyG's :class:`~torch_geometric.nn.models.LightGCN`."""

from __future__ import annotations

from typing import Any, Dict, Optional

import torch
from torch import Tensor
from torch.nn import Embedding
from torch_geometric.typing import Adj, OptTensor

from graphkit.checks import check_index, checks_enabled
from graphkit.configs.schema import NONNEG, POSITIVE, WIDTH, Field
from graphkit.losses import UltraGCNLoss
from graphkit.models.registry import MODELS
from graphkit.ops import bipartite_pairs, constraint_weights, item_item_neighbors, sampled_dot, topk_full_ranking

__all__ = ['UltraGCN']


@MODELS.register('ultragcn')
class UltraGCN(torch.nn.Module):
    r"""The UltraGCN model from the `"UltraGCN: Ultra Simplification of Graph Convolutional Networks for
    Recommendation" <https://arxiv.org/abs/2110.15114>`_ paper.

    UltraGCN skips message passing: it learns one embedding per user and item and scores
    :math:`s_{ui} = \mathbf{e}_u^\top \mathbf{e}_i`. The graph enters only through the loss, which enforces
    the fixed point of an infinite-layer LightGCN through per-pair weights

    .. math::
        \beta_{u,i} = \frac{1}{d_u}\sqrt{\frac{d_u + 1}{d_i + 1}}

    and ties each user to the top-:math:`K` item-item neighbours :math:`S(i)` of its positive items, with
    weights :math:`\omega_{i,j}` from :math:`G = A^\top A`
    (see :class:`~graphkit.losses.UltraGCNLoss` for the full objective; the weights come from
    :func:`graphkit.ops.constraint_weights` and :func:`graphkit.ops.item_item_neighbors`).

    .. note::

        Nodes use PyG's homogeneous index: users are :math:`[0, U)`, items :math:`[U, U + I)`. The
        :obj:`edge_index` given to the constructor (training user→item pairs; a symmetric graph is accepted)
        fixes the constraint weights, stored as two degree vectors :obj:`b_user`, :obj:`b_item` and an
        :obj:`[I, K]` neighbour table :obj:`ii_neighbors` / :obj:`ii_weights` (never dense :math:`|U|\times|I|`
        or :math:`|I|\times|I|` matrices). :meth:`forward`, :meth:`get_embedding` and :meth:`recommend` accept
        an :obj:`edge_index` for API parity with LightGCN and ignore it.

    .. note::

        Defaults are the official code's (sum reduction, merged weights :math:`w_1 \dots w_4`, ``omega='code'``
        with self-neighbours kept); its config names ``gamma`` (L2) and ``lambda`` (item-item) are swapped
        relative to the paper and kept here. Run it with ``graphkit train ultragcn --dataset ml-1m``.

    Args:
        num_users (int): Number of users :math:`U`.
        num_items (int): Number of items :math:`I`.
        embedding_dim (int): Embedding size.
        edge_index (torch.Tensor): Training user→item pairs (homogeneous index).
        w1 (float, optional): Plain positive BCE weight. (default: :obj:`1e-6`)
        w2 (float, optional): :math:`\beta`-weighted positive weight. (default: :obj:`1.0`)
        w3 (float, optional): Plain negative BCE weight. (default: :obj:`1e-6`)
        w4 (float, optional): :math:`\beta`-weighted negative weight. (default: :obj:`1.0`)
        negative_num (int, optional): Uniform negatives per positive (with replacement). (default: :obj:`1500`)
        negative_weight (float, optional): Weight of the negative part. (default: :obj:`300.0`)
        gamma (float, optional): L2 weight (official name). (default: :obj:`1e-4`)
        lambda_ (float, optional): Item-item weight (official ``lambda``). (default: :obj:`5e-4`)
        ii_neighbor_num (int, optional): :math:`K` item-item neighbours. (default: :obj:`10`)
        omega (str, optional): ``'code'`` or ``'paper'`` item-item weights. (default: :obj:`'code'`)
        exclude_self (bool, optional): Remove :math:`i` from :math:`S(i)`. (default: :obj:`False`)
        sift_pos (bool, optional): Redraw negatives that are training items of the user (official
            ``sampling_sift_pos``). (default: :obj:`False`)
        init_std (float, optional): Std of the normal initialisation. (default: :obj:`1e-4`)
        l2_on (str, optional): ``'all'`` rows of both tables every step (official) or the ``'batch'`` rows.
            (default: :obj:`'all'`)
        reduction (str, optional): ``'sum'`` (official) or ``'mean'`` over the batch. (default: :obj:`'sum'`)
        neg_scoring (str, optional): How negative scores are formed: ``'gather'`` the sampled item rows,
            ``'matmul'`` score all items with one matrix product then pick, ``'sparse'`` a sampled
            dense-dense product on the batch's sparse pattern (:func:`graphkit.ops.sampled_dot`), or
            ``'auto'`` (``'matmul'`` when :math:`I \le 2n`, else ``'sparse'``). Same numbers, different speed.
            (default: :obj:`'auto'`)
    """

    task = 'recommend'
    kinds = ('recommend',)
    trainable = True
    config_schema = {
        'embedding_dim': WIDTH,
        'init_std': POSITIVE,
        'w1': NONNEG,
        'w2': NONNEG,
        'w3': NONNEG,
        'w4': NONNEG,
        'negative_num': WIDTH,
        'negative_weight': NONNEG,
        'gamma': NONNEG,
        'lambda': NONNEG,
        'ii_neighbor_num': WIDTH,
        'omega': Field('str', choices=('code', 'paper')),
        'exclude_self': Field('bool'),
        'sift_pos': Field('bool'),
        'l2_on': Field('str', choices=('all', 'batch')),
        'reduction': Field('str', choices=('sum', 'mean')),
        'neg_scoring': Field('str', choices=('auto', 'gather', 'matmul', 'sparse')),
    }

    def __init__(
        self,
        num_users: int,
        num_items: int,
        embedding_dim: int,
        edge_index: Tensor,
        w1: float = 1e-6,
        w2: float = 1.0,
        w3: float = 1e-6,
        w4: float = 1.0,
        negative_num: int = 1500,
        negative_weight: float = 300.0,
        gamma: float = 1e-4,
        lambda_: float = 5e-4,
        ii_neighbor_num: int = 10,
        omega: str = 'code',
        exclude_self: bool = False,
        sift_pos: bool = False,
        init_std: float = 1e-4,
        l2_on: str = 'all',
        reduction: str = 'sum',
        neg_scoring: str = 'auto',
    ) -> None:
        super().__init__()
        name = self.__class__.__name__
        for key, val in (
            ('num_users', num_users),
            ('num_items', num_items),
            ('embedding_dim', embedding_dim),
            ('negative_num', negative_num),
            ('ii_neighbor_num', ii_neighbor_num),
        ):
            if not isinstance(val, int) or val < 1:
                raise ValueError(f"'{name}' expects '{key}' to be a positive integer (got {val!r})")
        if l2_on not in ('all', 'batch'):
            raise ValueError(f"'{name}' expects 'l2_on' in ('all', 'batch') (got {l2_on!r})")
        if neg_scoring not in ('auto', 'gather', 'matmul', 'sparse'):
            raise ValueError(
                f"'{name}' expects 'neg_scoring' in ('auto', 'gather', 'matmul', 'sparse') (got {neg_scoring!r})"
            )
        if not init_std > 0:
            raise ValueError(f"'{name}' expects 'init_std' > 0 (got {init_std})")
        if sift_pos and negative_num > 0 and num_items < 2:
            raise ValueError(f"'{name}' needs at least 2 items for 'sift_pos'")
        self.num_users, self.num_items, self.embedding_dim = num_users, num_items, embedding_dim
        self.negative_num, self.ii_neighbor_num = negative_num, ii_neighbor_num
        self.omega, self.exclude_self, self.sift_pos = omega, exclude_self, sift_pos
        self.init_std, self.l2_on, self.neg_scoring = init_std, l2_on, neg_scoring
        self.criterion = UltraGCNLoss(w1, w2, w3, w4, negative_weight, gamma, lambda_, reduction)

        b_user, b_item = constraint_weights(edge_index, num_users, num_items)
        nb, om = item_item_neighbors(edge_index, num_users, num_items, ii_neighbor_num, omega, exclude_self)
        self.register_buffer('b_user', b_user, persistent=False)
        self.register_buffer('b_item', b_item, persistent=False)
        self.register_buffer('ii_neighbors', nb, persistent=False)
        self.register_buffer('ii_weights', om, persistent=False)
        user, item = bipartite_pairs(edge_index, num_users, num_items)
        key = torch.unique(user * num_items + item)  # sorted (user, item) keys
        self.register_buffer('train_key', key, persistent=False)

        self.embedding = Embedding(num_users + num_items, embedding_dim)
        self.reset_parameters()

    @classmethod
    def from_config(cls, cfg: Dict[str, Any], data: Any) -> 'UltraGCN':
        r"""Build from the ``model:`` config section and a dataset's homogeneous :class:`Data` (needs
        ``num_users``, ``num_items`` and ``edge_label_index``, the training pairs)."""
        cfg = dict(cfg)
        if 'lambda' in cfg:
            cfg['lambda_'] = cfg.pop('lambda')
        return cls(int(data.num_users), int(data.num_items), edge_index=data.edge_label_index, **cfg)

    def reset_parameters(self) -> None:
        r"""Re-draws the embeddings from :math:`\mathcal{N}(0, \text{init\_std}^2)`."""
        torch.nn.init.normal_(self.embedding.weight, std=self.init_std)

    def get_embedding(self, edge_index: Optional[Adj] = None, edge_weight: OptTensor = None) -> Tensor:
        r"""The :obj:`[U + I, d]` embedding table (no propagation; :obj:`edge_index` is ignored)."""
        return self.embedding.weight

    def forward(self, edge_index: Optional[Adj] = None, edge_label_index: OptTensor = None) -> Tensor:
        r"""Scores :math:`\mathbf{e}_s^\top \mathbf{e}_t` of the pairs in :obj:`edge_label_index`
        (shape :obj:`[2, B]`, homogeneous index); without it, the pairs of :obj:`edge_index`."""
        if edge_label_index is None:
            if edge_index is None or not isinstance(edge_index, Tensor) or edge_index.is_sparse:
                raise ValueError(
                    f"'{self.__class__.__name__}.forward' needs 'edge_label_index' (or a COO 'edge_index' to score)"
                )
            edge_label_index = edge_index
        emb = self.embedding.weight
        owner = f'{type(self).__name__}.forward'
        check_index(owner, 'edge_label_index', edge_label_index, emb.size(0), rows=2, like=emb)
        return (emb[edge_label_index[0]] * emb[edge_label_index[1]]).sum(dim=-1)

    @torch.no_grad()
    def recommend(
        self,
        edge_index: Optional[Adj] = None,
        src_index: OptTensor = None,
        dst_index: OptTensor = None,
        k: int = 1,
        exclude: Optional[Tensor] = None,
        chunk_size: int = 1024,
    ) -> Tensor:
        r"""Top-:obj:`k` items for the users in :obj:`src_index` (default: all users), among
        :obj:`dst_index` (default: all items), ranked in chunks of users.

        Args:
            edge_index: ignored (API parity with LightGCN).
            src_index (torch.Tensor, optional): User ids.
            dst_index (torch.Tensor, optional): Candidate item ids (homogeneous index).
            k (int, optional): Number of recommendations. (default: :obj:`1`)
            exclude (torch.Tensor, optional): Sparse CSR (:math:`U \times` #candidates) of candidates to skip
                (*e.g.* training items). (default: :obj:`None`)
            chunk_size (int, optional): Users scored at once. (default: :obj:`1024`)

        Returns:
            LongTensor :obj:`[len(src_index), k]` of homogeneous item ids (:obj:`-1` where fewer than
            :obj:`k` candidates remain).
        """
        emb = self.embedding.weight
        owner = f'{type(self).__name__}.recommend'
        if src_index is not None:
            check_index(owner, 'src_index', src_index, self.num_users, like=emb)
        if dst_index is not None:
            check_index(owner, 'dst_index', dst_index, self.num_users + self.num_items, like=emb)
            if checks_enabled() and dst_index.numel() and int(dst_index.min()) < self.num_users:
                raise ValueError(f"'{owner}' expects item ids in 'dst_index' (homogeneous: >= {self.num_users})")
        if dst_index is None:
            dst_index = torch.arange(self.num_users, self.num_users + self.num_items, device=emb.device)
        dst = emb[dst_index]
        top = topk_full_ranking(
            lambda q: emb[q] @ dst.t(),
            self.num_users,
            k,
            exclude=exclude,
            chunk_size=chunk_size,
            queries=None if src_index is None else src_index.to(emb.device),
        )
        return torch.where(top >= 0, dst_index[top.clamp(min=0)], top)

    def sample_negatives(self, user: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
        r"""Uniform negatives (with replacement) for each user in :obj:`user`: a LongTensor
        :obj:`[B, negative_num]` of homogeneous item ids; with :obj:`sift_pos`, the user's training items are
        redrawn until none is left."""
        device = user.device
        neg = torch.randint(0, self.num_items, (user.numel(), self.negative_num), device=device, generator=generator)
        if self.sift_pos and self.train_key.numel():
            flat, users = neg.view(-1), user.repeat_interleave(self.negative_num)
            todo = torch.arange(flat.numel(), device=device)  # positions still to check
            while todo.numel():
                key = users[todo] * self.num_items + flat[todo]
                pos = torch.searchsorted(self.train_key, key).clamp(max=self.train_key.numel() - 1)
                todo = todo[self.train_key[pos] == key]
                flat[todo] = torch.randint(0, self.num_items, (todo.numel(),), device=device, generator=generator)
        return neg + self.num_users

    def _resolve_mode(self, n: int) -> str:
        if self.neg_scoring != 'auto':
            return self.neg_scoring
        return 'matmul' if self.num_items <= 2 * n else 'sparse'

    def _neg_scores(self, eu: Tensor, neg_item: Tensor) -> Tensor:
        emb_i = self.embedding.weight[self.num_users :]
        mode = self._resolve_mode(neg_item.size(1))
        if mode == 'matmul':
            return (eu @ emb_i.t()).gather(1, neg_item)
        if mode == 'sparse' and neg_item.size(1) <= self.num_items:
            return sampled_dot(eu, emb_i, neg_item)
        return torch.bmm(emb_i[neg_item], eu.unsqueeze(-1)).squeeze(-1)

    def loss(
        self,
        edge_label_index: Tensor,
        neg_index: Optional[Tensor] = None,
        edge_index: Optional[Adj] = None,
        generator: Optional[torch.Generator] = None,
    ) -> Tensor:
        r"""The UltraGCN loss of one batch of positive pairs.

        Args:
            edge_label_index (torch.Tensor): Positive ``(user, item)`` pairs, shape :obj:`[2, B]`
                (homogeneous index).
            neg_index (torch.Tensor, optional): Negative items per pair, shape :obj:`[B, n]` (homogeneous);
                drawn by :meth:`sample_negatives` when :obj:`None`.
            edge_index: ignored (API parity).
            generator (torch.Generator, optional): For the negatives drawn here.
        """
        user, item = edge_label_index[0], edge_label_index[1] - self.num_users
        if neg_index is None:
            neg_index = self.sample_negatives(user, generator)
        neg_item = neg_index - self.num_users
        weight = self.embedding.weight
        eu = weight[user]
        ei = weight[self.num_users :]
        use_ii = self.criterion.lambda_ != 0
        nb = self.ii_neighbors[item] if use_ii else item.new_empty(item.numel(), 0)
        n = neg_item.size(1)
        if self._resolve_mode(n) == 'sparse' and 1 + n + nb.size(1) <= self.num_items:
            # one SDDMM for positives, negatives and neighbours (it takes at most num_items per row)
            s = sampled_dot(eu, ei, torch.cat([item.view(-1, 1), neg_item, nb], dim=1))
            pos_score, neg_score, ii_score = s[:, 0], s[:, 1 : 1 + n], s[:, 1 + n :]
        else:
            pos_score = (eu * ei[item]).sum(-1)
            neg_score = self._neg_scores(eu, neg_item)
            ii_score = (ei[nb] * eu.unsqueeze(1)).sum(-1)
        bu = self.b_user[user]
        pos_beta = bu * self.b_item[item]
        neg_beta = bu.view(-1, 1) * self.b_item[neg_item]
        ii_weight = self.ii_weights[item] if use_ii else None
        if not use_ii:
            ii_score = None
        if self.l2_on == 'all':
            l2 = weight.pow(2).sum()
        else:
            rows = torch.unique(torch.cat([user, item + self.num_users, neg_index.reshape(-1)]))
            l2 = weight[rows].pow(2).sum()
        return self.criterion(pos_score, neg_score, pos_beta, neg_beta, ii_score, ii_weight, l2)

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}({self.num_users}, {self.num_items}, {self.embedding_dim}, '
            f'ii_neighbor_num={self.ii_neighbor_num})'
        )
