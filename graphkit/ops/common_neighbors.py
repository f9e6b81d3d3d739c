r"""Common-neighbour sets, counts and pooling for a batch of node pairs.

Two backends give identical sets (and equal sums up to float rounding); which one runs is chosen
per call by density and batch size, or forced (:mod:`graphkit.ops.cn_backend`). The sparse one:
neighbour lists are gathered from the CSR adjacency for all pairs at once.
Every entry :math:`(b, u)` (pair index :math:`b`, node :math:`u`) becomes one
:obj:`int64` key :math:`(b \ll 32) + u`; keys of a CSR row slice come out
sorted, so set intersections and differences are :obj:`torch.searchsorted`
look-ups, :math:`O(M \log M)` with no Python loop. Requires
:math:`N < 2^{32}` and :math:`B < 2^{31}`.
"""

from typing import NamedTuple, Optional, Tuple

import torch
from torch import Tensor
from torch_geometric.utils import scatter
from torch_geometric.utils import spmm as pyg_spmm

from graphkit.ops import cn_backend as _cnb
from graphkit.ops.adjacency import _check_adj, check_edge_index, to_csr
from graphkit.ops.csr import csr_rows, csr_tensor

_SHIFT = 32
_MASK = (1 << _SHIFT) - 1


class CommonNeighbors(NamedTuple):
    r"""Result of :func:`common_neighbors`: :obj:`(2, M)` COO lists whose row 0
    is the pair index :math:`b` and row 1 a node :math:`u`, sorted by
    :math:`(b, u)`.
    """

    cn: Tensor
    only_i: Optional[Tensor] = None
    only_j: Optional[Tensor] = None


def _member(query: Tensor, sorted_keys: Tensor) -> Tensor:
    # Boolean mask: which `query` keys occur in `sorted_keys`.
    if sorted_keys.numel() == 0:
        return torch.zeros_like(query, dtype=torch.bool)
    pos = torch.searchsorted(sorted_keys, query)
    pos = pos.clamp_(max=sorted_keys.numel() - 1)
    return sorted_keys[pos] == query


def _encode(b: Tensor, u: Tensor) -> Tensor:
    # Keys (b << 32) + u; the entries of CSR rows (csr_rows) give sorted keys
    # when the columns of each row are sorted.
    return (b << _SHIFT) + u


def _decode(keys: Tensor) -> Tensor:
    return torch.stack([keys >> _SHIFT, keys & _MASK])


def _check_pairs(adj: Tensor, pairs: Tensor) -> int:
    n = _check_adj(adj)
    check_edge_index(pairs, n, name='pairs')
    if n >= 1 << _SHIFT or pairs.size(1) >= 1 << (63 - _SHIFT):
        raise ValueError(
            f"'adj' must have fewer than 2**32 nodes and 'pairs' "
            f'fewer than 2**31 columns (got N={n}, '
            f'B={pairs.size(1)})'
        )
    return n


def _backend(adj: Tensor, pairs: Tensor, channels: int = 0) -> str:
    # The backend of this call (counted for the run summary).
    backend = _cnb.choose_backend(adj.size(0), adj.col_indices().numel(), pairs.size(1), channels)
    _cnb.record(backend)
    return backend


def _pair_keys(adj: Tensor, pairs: Tensor) -> Tuple[Tensor, Tensor]:
    rowptr, col = adj.crow_indices().long(), adj.col_indices().long()
    i, j = pairs.long()
    return _encode(*csr_rows(rowptr, col, i)), _encode(*csr_rows(rowptr, col, j))


def common_neighbors(
    adj: Tensor,
    pairs: Tensor,
    *,
    differences: bool = False,
) -> CommonNeighbors:
    r"""Common neighbours of a batch of node pairs, as used by the
    `"Neural Common Neighbor with Completion for Link Prediction"
    <https://arxiv.org/abs/2302.00890>`_ paper (NCN / NCNC).

    .. math::
        \mathrm{CN}(i_b, j_b) = \mathcal{N}(i_b) \cap \mathcal{N}(j_b), \quad
        \mathcal{N}(i_b) \setminus \mathcal{N}(j_b), \quad
        \mathcal{N}(j_b) \setminus \mathcal{N}(i_b)

    .. note::
        :math:`\mathcal{N}(i)` is exactly the set of columns stored in row
        :math:`i` of :obj:`adj` (values are ignored). So if :obj:`adj` holds
        self-loops, :math:`i \in \mathcal{N}(i)`; built with
        :obj:`to_csr(..., self_loops='remove')` (the default) it does not.
        For a directed :obj:`adj` these are out-neighbours. A pair
        :math:`(i, i)` has :math:`\mathrm{CN} = \mathcal{N}(i)` and empty
        differences. Columns must be sorted and unique within each row, as
        :func:`to_csr` guarantees.

    Args:
        adj (torch.Tensor): CSR adjacency of shape :obj:`(N, N)`.
        pairs (torch.Tensor): Node pairs of shape :obj:`(2, B)`.
        differences (bool, optional): If :obj:`True`, also returns
            :obj:`only_i` (:math:`\mathcal{N}(i_b) \setminus \mathcal{N}(j_b)`)
            and :obj:`only_j`. (default: :obj:`False`)

    Returns:
        :class:`CommonNeighbors` with :obj:`cn` (:obj:`(2, M)`: pair index,
        node; sorted by :math:`(b, u)`) and :obj:`only_i`, :obj:`only_j`
        (same form, or :obj:`None`). An empty batch gives :obj:`(2, 0)`.
    """
    _check_pairs(adj, pairs)
    if _backend(adj, pairs) == 'dense':
        i, j = pairs.long()
        return CommonNeighbors(*_cnb.dense_sets(_cnb.dense_mask(adj), i, j, differences))
    if not differences:
        return CommonNeighbors(_sparse_cn(adj, pairs))
    keys_i, keys_j = _pair_keys(adj, pairs)
    in_j = _member(keys_i, keys_j)
    in_i = _member(keys_j, keys_i)
    return CommonNeighbors(
        cn=_decode(keys_i[in_j]),
        only_i=_decode(keys_i[~in_j]),
        only_j=_decode(keys_j[~in_i]),
    )


def _sparse_cn(adj: Tensor, pairs: Tensor) -> Tensor:
    # The sorted-key intersection: the smaller key set is looked up in the larger one.
    keys_i, keys_j = _pair_keys(adj, pairs)
    small, large = (keys_i, keys_j) if keys_i.numel() <= keys_j.numel() else (keys_j, keys_i)
    return _decode(small[_member(small, large)])


def cn_count(adj: Tensor, pairs: Tensor) -> Tensor:
    r"""Number of common neighbours :math:`|\mathcal{N}(i_b) \cap
    \mathcal{N}(j_b)|` of each pair, a :obj:`float32` tensor of shape
    :obj:`(B,)`. See :func:`common_neighbors` for the semantics.
    """
    _check_pairs(adj, pairs)
    if _backend(adj, pairs) == 'dense':
        i, j = pairs.long()
        return _cnb.dense_count(_cnb.dense_mask(adj), i, j)
    b = _sparse_cn(adj, pairs)[0]
    return torch.bincount(b, minlength=pairs.size(1)).to(torch.float32)


def _sort_coo(coo: Tensor, *others: Optional[Tensor]):
    # Sorts a (pair, node) COO list by (pair, node) if it is not already.
    keys = _encode(coo[0], coo[1])
    if keys.numel() < 2 or bool((keys[1:] >= keys[:-1]).all()):
        return (coo,) + others
    perm = torch.argsort(keys, stable=True)
    return (coo[:, perm],) + tuple(o if o is None else o[perm] for o in others)


def _check_coo(coo: Tensor, num_pairs: int) -> None:
    if not isinstance(coo, Tensor) or coo.dim() != 2 or coo.size(0) != 2:
        shape = tuple(coo.shape) if isinstance(coo, Tensor) else type(coo)
        raise ValueError(f"'coo' must be a (2, M) tensor of (pair, node) indices (got {shape})")
    if coo.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"'coo' must have an integer dtype (got {coo.dtype})")
    if int(num_pairs) < 0:
        raise ValueError(f"'num_pairs' must be non-negative (got {num_pairs})")
    if coo.numel() and int(coo[0].max()) >= num_pairs:
        raise ValueError(
            f"'coo' row 0 holds pair index {int(coo[0].max())}, "
            f'expected values in [0, {num_pairs}) '
            f'(num_pairs={num_pairs})'
        )


def pool_pairs(
    coo: Tensor,
    x: Tensor,
    num_pairs: int,
    weight: Optional[Tensor] = None,
) -> Tensor:
    r"""Sums node features over a :obj:`(pair, node)` COO list:

    .. math::
        \mathbf{z}_b = \sum_{(b, u) \in \mathrm{coo}} w_{bu} \, \mathbf{x}_u

    i.e. :math:`\mathbf{S} \mathbf{X}` for the :math:`B \times N` sparse
    matrix :math:`\mathbf{S}` that :obj:`coo` and :obj:`weight` describe
    (duplicate entries add up). Computed as a sparse-dense product, so the
    :math:`M \times F` gathered features are never materialised (unless
    :obj:`weight` requires a gradient). Differentiable w.r.t. :obj:`x`.

    Args:
        coo (torch.Tensor): :obj:`(2, M)` COO list, row 0 the pair index in
            :math:`[0, B)`, row 1 the node.
        x (torch.Tensor): Node features of shape :obj:`(N, F)` or :obj:`(N,)`.
        num_pairs (int): The number of pairs :math:`B`.
        weight (torch.Tensor, optional): Per-entry weights of shape
            :obj:`(M,)`; ones if :obj:`None`. (default: :obj:`None`)

    Returns:
        Tensor of shape :obj:`(B, F)` (or :obj:`(B,)` for 1-D :obj:`x`).
    """
    _check_coo(coo, num_pairs)
    if weight is not None and weight.shape != (coo.size(1),):
        raise ValueError(f"'weight' must have shape ({coo.size(1)},) to match 'coo' (got {tuple(weight.shape)})")
    return _pool(coo.long(), x, int(num_pairs), weight, sorted_=False)


def _pool(coo: Tensor, x: Tensor, num_pairs: int, weight: Optional[Tensor], sorted_: bool) -> Tensor:
    squeeze = x.dim() == 1
    x2 = x.unsqueeze(-1) if squeeze else x
    if coo.numel() and int(coo[1].max()) >= x2.size(0):
        raise ValueError(f"'coo' row 1 holds node {int(coo[1].max())} but 'x' has only {x2.size(0)} rows")
    if weight is not None and weight.requires_grad:
        msg = x2[coo[1]] * weight.to(x2.dtype).view(-1, 1)
        out = scatter(msg, coo[0], dim=0, dim_size=num_pairs, reduce='sum')
    elif coo.size(1) == 0 or num_pairs == 0:
        out = x2.new_zeros(num_pairs, x2.size(1))
    else:
        if not sorted_:
            coo, weight = _sort_coo(coo, weight)
        values = x2.new_ones(coo.size(1)) if weight is None else weight.to(x2.dtype)
        rowptr = torch.searchsorted(coo[0], torch.arange(num_pairs + 1, device=coo.device))
        s = csr_tensor(rowptr, coo[1], values, (num_pairs, x2.size(0)))
        out = pyg_spmm(s, x2, 'sum')
    return out.squeeze(-1) if squeeze else out


def cn_sum(
    adj: Tensor,
    pairs: Tensor,
    x: Tensor,
    weight: Optional[Tensor] = None,
) -> Tensor:
    r"""Sum of node features over each pair's common neighbours, the NCN
    pooling :math:`\mathbf{z}_b = \sum_{u \in \mathcal{N}(i_b) \cap
    \mathcal{N}(j_b)} w_u \mathbf{x}_u`.

    Args:
        adj (torch.Tensor): CSR adjacency of shape :obj:`(N, N)`.
        pairs (torch.Tensor): Node pairs of shape :obj:`(2, B)`.
        x (torch.Tensor): Node features of shape :obj:`(N, F)` or :obj:`(N,)`.
        weight (torch.Tensor, optional): Per-node weights :math:`w_u` of shape
            :obj:`(N,)`; ones if :obj:`None`. (default: :obj:`None`)

    Returns:
        Tensor of shape :obj:`(B, F)` (or :obj:`(B,)` for 1-D :obj:`x`).
    """
    n = _check_adj(adj)
    if not isinstance(x, Tensor) or x.dim() not in (1, 2) or x.size(0) != n:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"'x' must have shape ({n}, F) or ({n},) to match 'adj' (got {shape})")
    if weight is not None and weight.shape != (n,):
        raise ValueError(f"'weight' must have shape ({n},), one weight per node (got {tuple(weight.shape)})")
    _check_pairs(adj, pairs)
    if _backend(adj, pairs, x.size(1) if x.dim() == 2 else 1) == 'dense':
        i, j = pairs.long()
        x2 = x.unsqueeze(-1) if x.dim() == 1 else x
        if weight is not None:
            x2 = x2 * weight.to(x2.dtype).view(-1, 1)
        out = _cnb.dense_sum(_cnb.dense_mask(adj, x2.dtype), i, j, x2)
        return out.squeeze(-1) if x.dim() == 1 else out
    cn = _sparse_cn(adj, pairs)
    w = None if weight is None else weight[cn[1]]
    return _pool(cn, x, pairs.size(1), w, sorted_=True)


def sample_per_row(
    coo: Tensor,
    k: int,
    num_pairs: int,
    generator: Optional[torch.Generator] = None,
) -> Tuple[Tensor, Tensor]:
    r"""Down-samples a :obj:`(pair, node)` COO list to at most :obj:`k` entries
    per pair, keeping sums unbiased (the NCNC ``cndeg`` / ``trndeg`` /
    ``tstdeg`` options).

    A row with :math:`c_b > k` entries is replaced by :math:`k` entries drawn
    uniformly **with replacement**, each of weight :math:`c_b / k`, so
    :math:`\mathbb{E}[\sum w_{bu} \mathbf{x}_u] = \sum_{u} \mathbf{x}_u` and
    the weights of each row sum to :math:`c_b`. Rows with
    :math:`c_b \le k` are kept whole with weight :math:`1`.

    Args:
        coo (torch.Tensor): :obj:`(2, M)` COO list (pair index, node).
        k (int): Maximum number of entries per pair (:math:`\geq 1`).
        num_pairs (int): The number of pairs :math:`B`.
        generator (torch.Generator, optional): Source of randomness; the same
            seed gives the same sample. (default: :obj:`None`)

    Returns:
        :obj:`(coo, weight)`: the sampled :obj:`(2, M')` list sorted by
        :math:`(b, u)` (duplicates possible in sampled rows) and :obj:`float32` weights of
        shape :obj:`(M',)`.
    """
    if int(k) < 1:
        raise ValueError(f"'k' must be a positive integer (got {k})")
    k = int(k)
    _check_coo(coo, num_pairs)
    coo = _sort_coo(coo.long())[0]
    b = coo[0]
    count = torch.bincount(b, minlength=int(num_pairs))
    small = count[b] <= k
    kept = coo[:, small]
    kept_w = torch.ones(kept.size(1), dtype=torch.float32, device=coo.device)

    big = (count > k).nonzero().view(-1)
    start = torch.cumsum(count, 0) - count
    rows = big.repeat_interleave(k)
    gen_device = generator.device if generator is not None else coo.device
    u = torch.rand(rows.numel(), generator=generator, device=gen_device)
    u = u.to(coo.device)
    c = count[rows]
    offset = torch.minimum((u * c).long(), c - 1)
    sampled = coo[:, start[rows] + offset]
    sampled_w = c.to(torch.float32) / k

    out = torch.cat([kept, sampled], dim=1)
    weight = torch.cat([kept_w, sampled_w])
    perm = torch.argsort(_encode(out[0], out[1]), stable=True)
    return out[:, perm], weight[perm]


def two_hop_stack(adj: Tensor) -> Tensor:
    r"""The :math:`2N \times 2N` binary CSR matrix

    .. math::
        \mathbf{S} = \begin{bmatrix} \mathbb{1}[\mathbf{A} \neq 0] & \mathbf{0} \\
        \mathbb{1}[\mathbf{A}^2 > 0] & \mathbf{0} \end{bmatrix}

    whose row :math:`i` lists the neighbours :math:`\mathcal{N}(i)` and row
    :math:`N + j` the two-hop neighbours :math:`\mathcal{N}_2(j)` (the support
    of :math:`\mathbf{A}^2`, computed on the binary pattern of :obj:`adj`) in
    the same column space. So :func:`common_neighbors` on :math:`\mathbf{S}`
    with the pairs :math:`(i, N + j)` gives :math:`\mathcal{N}(i) \cap
    \mathcal{N}_2(j)`, the extra term of the NCN2 predictor of the `"Neural
    Common Neighbor with Completion for Link Prediction"
    <https://arxiv.org/abs/2302.00890>`_ paper.

    Columns are sorted and unique within every row. :math:`\mathcal{N}_2(j)`
    contains :math:`j` itself whenever :math:`j` has a neighbour.

    Args:
        adj (torch.Tensor): CSR adjacency of shape :obj:`(N, N)` with sorted,
            unique columns per row (as :func:`to_csr` builds it).
    """
    n = _check_adj(adj)
    a = csr_tensor(adj.crow_indices(), adj.col_indices(), torch.ones_like(adj.values()), n)
    # The product's columns are not sorted within rows; rebuild canonically.
    a2 = to_csr((a @ a).to_sparse_coo().coalesce().indices(), n, symmetric=False, self_loops='keep')
    rowptr = torch.cat([a.crow_indices(), a2.crow_indices()[1:] + a.col_indices().numel()])
    col = torch.cat([a.col_indices(), a2.col_indices()])
    return csr_tensor(rowptr, col, None, 2 * n)
