r"""Preprocessing of a bipartite user-item graph given in PyG's homogeneous index.

Users are nodes :math:`[0, U)` and items :math:`[U, U + I)`. :func:`bipartite_pairs` reads the user-item pairs
(local item ids) out of such an :obj:`edge_index`; on top of it come UltraGCN's graph-derived weights, from the
`"UltraGCN: Ultra Simplification of Graph Convolutional Networks for Recommendation"
<https://arxiv.org/abs/2110.15114>`_ paper, as the official code computes them:

* :func:`constraint_weights`: the user-item constraint :math:`\beta_{u,i} = b_u(u)\, b_i(i)` as two degree
  vectors (never a :math:`|U| \times |I|` matrix).
* :func:`item_item_neighbors`: the top-:math:`K` item-item neighbours and weights :math:`\omega`, computed in
  chunks of rows from the sparse co-occurrence matrix :math:`G = A^\top A` (never a dense
  :math:`|I| \times |I|` matrix).
"""

from typing import Tuple

import torch
from torch import Tensor

from graphkit.ops.topk import _topk_tiebreak


def bipartite_pairs(edge_index: Tensor, num_users: int, num_items: int) -> Tuple[Tensor, Tensor]:
    r"""The user-item pairs of a bipartite graph in the homogeneous index, as ``(user, item)`` with local
    item ids :math:`i - U \in [0, I)`.

    Only the user→item columns :math:`(u, i)` with :math:`u < U \le i` are kept, so the reverse (item→user)
    columns of a symmetric graph are dropped and either form gives the same pairs (in their order of
    appearance; duplicates are kept).

    Args:
        edge_index (torch.Tensor): Integer tensor of shape :obj:`[2, E]` with node ids in :math:`[0, U + I)`.
        num_users (int): :math:`U`.
        num_items (int): :math:`I`.

    Raises:
        ValueError: if :obj:`edge_index` has the wrong shape or holds a node id outside :math:`[0, U + I)`.
    """
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape [2, E] (got {tuple(edge_index.shape)})")
    edge_index = edge_index.long()
    keep = (edge_index[0] < num_users) & (edge_index[1] >= num_users)
    user, item = edge_index[0, keep], edge_index[1, keep] - num_users
    if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= num_users + num_items):
        raise ValueError(f"'edge_index' must hold node ids in [0, {num_users + num_items}) (users first, then items)")
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
    user, item = bipartite_pairs(edge_index, num_users, num_items)
    d_u = torch.bincount(user, minlength=num_users).double()
    d_i = torch.bincount(item, minlength=num_items).double()
    b_user = torch.where(d_u > 0, (d_u + 1).sqrt() / d_u.clamp(min=1), torch.zeros_like(d_u))
    b_item = 1.0 / (d_i + 1).sqrt()
    return b_user.float(), b_item.float()


def item_item_neighbors(
    edge_index: Tensor,
    num_users: int,
    num_items: int,
    k: int = 10,
    omega: str = 'code',
    exclude_self: bool = False,
    chunk_size: int = 1024,
) -> Tuple[Tensor, Tensor]:
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

    user, item = bipartite_pairs(edge_index, num_users, num_items)
    device = edge_index.device
    a = sp.csr_matrix(
        (np.ones(user.numel(), dtype=np.float64), (user.cpu().numpy(), item.cpu().numpy())),
        shape=(num_users, num_items),
    )
    a.data[:] = 1.0  # binary, even with duplicate pairs
    at = a.T.tocsr()
    d_u = np.asarray(a.sum(1)).ravel()
    g = at @ d_u  # g_i = Σ_j G_ij = Σ_{u ∈ N(i)} d_u
    d_i = np.asarray(a.sum(0)).ravel()  # G_ii = d_i
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
        block = torch.from_numpy((at[idx] @ a).toarray())  # [b, I] rows of G
        return block * row_scale[q.cpu()].view(-1, 1) * col_scale.view(1, -1)

    # one pass: each chunk of G's rows is formed once, ranked, and its weights gathered from the same block
    neighbors = torch.empty(num_items, k, dtype=torch.long)
    weights = torch.empty(num_items, k, dtype=torch.float64)
    for start in range(0, num_items, chunk_size):
        q = torch.arange(start, min(start + chunk_size, num_items))
        block = rows(q)
        if exclude_self:  # never ranked: k <= num_items - 1 leaves enough other items
            block[torch.arange(q.numel()), q] = -float('inf')
        top = _topk_tiebreak(block.float(), k)  # ranked in float32, as the ranking helpers do
        neighbors[q], weights[q] = top, block.gather(1, top)
    return neighbors.to(device), weights.float().to(device)
