r"""Sparse adjacency matrices as :pytorch:`PyTorch` CSR tensors.

Every function here takes and returns a ``torch.sparse_csr`` tensor of shape
:obj:`(N, N)` on any device. :func:`to_csr` builds the canonical form used
throughout graphkit: binary :obj:`float32` values, one entry per
:obj:`(row, col)` and sorted columns within each row.
"""

from typing import Optional, Tuple

import torch
from torch import Tensor

from graphkit.ops.csr import coo_tensor, csr_tensor, to_sparse_csr

_SELF_LOOPS = ('remove', 'keep', 'add')


# Validation ##################################################################


def check_edge_index(
    edge_index: Tensor,
    num_nodes: Optional[int] = None,
    name: str = 'edge_index',
) -> int:
    r"""Validates a COO index tensor of node pairs and returns the number of
    nodes :math:`N`.

    Args:
        edge_index (torch.Tensor): Integer tensor of shape :obj:`(2, E)`
            (:obj:`int64` expected, :obj:`int32` accepted) with values in
            :math:`[0, N)`.
        num_nodes (int, optional): The number of nodes :math:`N`. If
            :obj:`None`, it is inferred as ``edge_index.max() + 1``
            (:obj:`0` for an empty tensor). (default: :obj:`None`)
        name (str, optional): The argument name used in error messages.
            (default: :obj:`'edge_index'`)

    Raises:
        ValueError: naming :obj:`name` if the type, dtype, shape or values
            are wrong, or naming :obj:`num_nodes` if it is negative.
    """
    if not isinstance(edge_index, Tensor):
        raise ValueError(f"'{name}' must be a torch.Tensor of shape (2, E) (got {type(edge_index).__name__})")
    if edge_index.layout != torch.strided:
        raise ValueError(f"'{name}' must be a dense tensor of shape (2, E) (got layout {edge_index.layout})")
    if edge_index.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"'{name}' must have an integer dtype (torch.int64, or torch.int32) (got {edge_index.dtype})")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'{name}' must have shape (2, E) (got {tuple(edge_index.shape)})")
    if num_nodes is not None:
        num_nodes = int(num_nodes)
        if num_nodes < 0:
            raise ValueError(f"'num_nodes' must be non-negative (got {num_nodes})")
    if edge_index.numel() == 0:
        return 0 if num_nodes is None else num_nodes
    lo, hi = (int(v) for v in torch.aminmax(edge_index))
    if lo < 0:
        raise ValueError(f"'{name}' contains a negative node index ({lo})")
    if num_nodes is None:
        return hi + 1
    if hi >= num_nodes:
        raise ValueError(
            f"'{name}' contains node index {hi}, expected values in [0, {num_nodes}) (num_nodes={num_nodes})"
        )
    return num_nodes


def _check_adj(adj: Tensor, name: str = 'adj', square: bool = True) -> int:
    # Validates a CSR matrix; returns its number of rows. Operators that are defined for any (M, N) matrix
    # (degrees, row normalisation, SpMM) pass square=False.
    if not isinstance(adj, Tensor) or adj.layout != torch.sparse_csr:
        got = adj.layout if isinstance(adj, Tensor) else type(adj).__name__
        raise ValueError(
            f"'{name}' must be a torch sparse CSR tensor "
            f'(layout=torch.sparse_csr), e.g. from '
            f'graphkit.ops.to_csr (got {got})'
        )
    if adj.dim() != 2 or (square and adj.size(0) != adj.size(1)):
        raise ValueError(f"'{name}' must be a square (N, N) matrix (got shape {tuple(adj.shape)})")
    return adj.size(0)


# Construction ################################################################


def csr_parts(adj: Tensor) -> Tuple[Tensor, Tensor]:
    r"""Returns :obj:`(rowptr, col)` of a CSR adjacency as :obj:`int64`
    tensors: row :math:`i`'s neighbours are ``col[rowptr[i]:rowptr[i + 1]]``.
    """
    _check_adj(adj)
    return adj.crow_indices().long(), adj.col_indices().long()


def _row_index(rowptr: Tensor, nnz: int) -> Tensor:
    # Row id of every stored entry: the COO row vector of a CSR matrix.
    num_rows = rowptr.numel() - 1
    counts = rowptr[1:] - rowptr[:-1]
    return torch.repeat_interleave(torch.arange(num_rows, device=rowptr.device), counts, output_size=nnz)


def _from_sorted_keys(keys: Tensor, values: Tensor, num_nodes: int) -> Tensor:
    # Builds a CSR tensor from strictly increasing keys `row * N + col`.
    n = max(num_nodes, 1)
    col = keys % n
    bounds = torch.arange(num_nodes + 1, device=keys.device) * n
    rowptr = torch.searchsorted(keys, bounds)
    return csr_tensor(rowptr, col, values, num_nodes)


def _is_canonical(rowptr: Tensor, col: Tensor) -> bool:
    # Columns strictly increasing within every row (sorted, no duplicates).
    if col.numel() < 2:
        return True
    increasing = col[1:] > col[:-1]
    row_start = torch.zeros(col.numel(), dtype=torch.bool, device=col.device)
    starts = rowptr[1:-1]
    row_start[starts[starts < col.numel()]] = True
    return bool((increasing | row_start[1:]).all())


def to_csr(
    edge_index: Tensor,
    num_nodes: Optional[int] = None,
    *,
    symmetric: bool = True,
    self_loops: str = 'remove',
) -> Tensor:
    r"""Builds the binary adjacency matrix :math:`\mathbf{A} \in
    \{0, 1\}^{N \times N}` of a graph as a :obj:`torch.sparse_csr` tensor with
    :obj:`float32` values, one entry per edge and sorted columns per row.

    .. math::
        A_{ij} = 1 \iff (i, j) \in \mathcal{E}
        \;\text{or, if symmetric,}\; (j, i) \in \mathcal{E}

    Duplicate edges collapse to a single entry.

    .. note::
        A ready CSR tensor is accepted too, so callers may pass either form: it
        is checked to be square and returned unchanged (its values are kept);
        only if its columns are unsorted or duplicated is it coalesced.
        :obj:`symmetric` and :obj:`self_loops` do not apply to it.

    Args:
        edge_index (torch.Tensor): Edge indices of shape :obj:`(2, E)`
            (:obj:`int64` or :obj:`int32`), or a sparse CSR tensor.
        num_nodes (int, optional): Number of nodes :math:`N`; inferred from
            :obj:`edge_index` if :obj:`None`. Isolated nodes beyond the largest
            index need it. (default: :obj:`None`)
        symmetric (bool, optional): If :obj:`True`, adds every reverse edge.
            (default: :obj:`True`)
        self_loops (str, optional): :obj:`'remove'` drops every :math:`(i, i)`,
            :obj:`'keep'` keeps the ones present, :obj:`'add'` gives every
            node exactly one self-loop. (default: :obj:`'remove'`)
    """
    if isinstance(edge_index, Tensor) and edge_index.layout == torch.sparse_csr:
        n = _check_adj(edge_index, name='edge_index')
        if num_nodes is not None and int(num_nodes) != n:
            raise ValueError(f"'num_nodes' ({num_nodes}) does not match the size of the CSR 'edge_index' ({n})")
        rowptr, col = edge_index.crow_indices(), edge_index.col_indices()
        if _is_canonical(rowptr.long(), col.long()):
            return edge_index
        # not Tensor.to_sparse_coo(): it marks the result coalesced, so .coalesce() would keep the column order
        row = _row_index(rowptr.long(), col.numel())
        coo = coo_tensor(
            torch.stack([row, col.long()]), edge_index.values(), tuple(edge_index.shape), is_coalesced=False
        )
        return to_sparse_csr(coo.coalesce())

    if self_loops not in _SELF_LOOPS:
        raise ValueError(f"'self_loops' must be one of {_SELF_LOOPS} (got {self_loops!r})")
    num_nodes = check_edge_index(edge_index, num_nodes, name='edge_index')
    row, col = edge_index.long()
    if symmetric:
        row, col = torch.cat([row, col]), torch.cat([col, row])
    if self_loops != 'keep':
        mask = row != col
        row, col = row[mask], col[mask]
    if self_loops == 'add':
        loop = torch.arange(num_nodes, device=row.device)
        row, col = torch.cat([row, loop]), torch.cat([col, loop])
    keys = torch.unique(row * num_nodes + col)  # sorted, deduplicated
    values = torch.ones(keys.numel(), dtype=torch.float32, device=keys.device)
    return _from_sorted_keys(keys, values, num_nodes)


# Degrees and normalisation ###################################################


def pairs_to_csr(pairs: Tensor, num_rows: int, num_cols: int) -> Tensor:
    r"""A binary :obj:`(num_rows, num_cols)` CSR matrix with a one at each
    column :obj:`(row, col)` of :obj:`pairs` (deduplicated, columns sorted
    within rows): *e.g.* a user-item interaction matrix.

    Args:
        pairs (torch.Tensor): Integer tensor of shape :obj:`(2, M)`, rows in
            :math:`[0, \text{num\_rows})`, columns in
            :math:`[0, \text{num\_cols})`.
        num_rows (int): Number of rows.
        num_cols (int): Number of columns.
    """
    if not isinstance(pairs, Tensor) or pairs.dim() != 2 or pairs.size(0) != 2:
        raise ValueError(f"'pairs' must be a tensor of shape (2, M) (got {getattr(pairs, 'shape', pairs)})")
    pairs = pairs.long()
    if pairs.numel() and (pairs.min() < 0 or pairs[0].max() >= num_rows or pairs[1].max() >= num_cols):
        raise ValueError(f"'pairs' must index a ({num_rows}, {num_cols}) matrix")
    keys = torch.unique(pairs[0] * num_cols + pairs[1])
    rowptr = torch.searchsorted(keys, torch.arange(num_rows + 1, device=keys.device) * num_cols)
    return csr_tensor(rowptr, keys % max(num_cols, 1), None, (num_rows, num_cols))


def degree(adj: Tensor, weighted: bool = False) -> Tensor:
    r"""Returns the row degrees of :obj:`adj` (any :obj:`(M, N)` CSR
    matrix), a floating tensor of shape :obj:`(M,)`: the number of stored
    entries per row (:obj:`float32`), or, if :obj:`weighted=True`, the row
    sums :math:`\sum_j A_{ij}` in the dtype of the values (the same numbers
    for a binary adjacency).
    """
    _check_adj(adj, square=False)
    rowptr = adj.crow_indices().long()
    if not weighted:
        return (rowptr[1:] - rowptr[:-1]).to(torch.float32)
    values = adj.values()
    if not values.is_floating_point():
        values = values.float()
    row = _row_index(rowptr, values.numel())
    return values.new_zeros(adj.size(0)).index_add_(0, row, values)


def _scale(adj: Tensor, rowptr: Tensor, col: Tensor, values: Tensor, left: Tensor, right: Optional[Tensor]) -> Tensor:
    row = _row_index(rowptr, col.numel())
    values = values * left[row]
    if right is not None:
        values = values * right[col]
    return csr_tensor(rowptr, col, values, tuple(adj.shape))


def _add_identity(adj: Tensor) -> Tensor:
    # A + I, summing into existing diagonal entries.
    n = adj.size(0)
    rowptr, col = adj.crow_indices().long(), adj.col_indices().long()
    row = _row_index(rowptr, col.numel())
    loop = torch.arange(n, device=col.device)
    values = adj.values()
    if not values.is_floating_point():
        values = values.float()
    keys = torch.cat([row * n + col, loop * n + loop])
    vals = torch.cat([values, values.new_ones(n)])
    keys, inverse = torch.unique(keys, return_inverse=True)
    vals = vals.new_zeros(keys.numel()).index_add_(0, inverse, vals)
    return _from_sorted_keys(keys, vals, n)


def gcn_norm(adj: Tensor, add_self_loops: bool = True) -> Tensor:
    r"""The symmetric normalisation from the `"Semi-supervised Classification
    with Graph Convolutional Networks" <https://arxiv.org/abs/1609.02907>`_
    paper.

    .. math::
        \mathbf{\hat{A}} = \mathbf{\tilde{D}}^{-1/2} \mathbf{\tilde{A}}
        \mathbf{\tilde{D}}^{-1/2}, \qquad
        \mathbf{\tilde{A}} = \mathbf{A} + \mathbf{I}, \quad
        \tilde{D}_{ii} = 1 + \sum_j A_{ij}

    .. note::
        :math:`\mathbf{I}` is added literally: a self-loop already stored in
        :obj:`adj` gets weight 2 (:func:`to_csr` removes self-loops by
        default). Rows of degree 0 (only without self-loops) stay zero.

    Args:
        adj (torch.Tensor): CSR adjacency of shape :obj:`(N, N)`.
        add_self_loops (bool, optional): If :obj:`False`, normalises
            :math:`\mathbf{A}` itself with :math:`D_{ii} = \sum_j A_{ij}`.
            (default: :obj:`True`)
    """
    _check_adj(adj)
    if add_self_loops:
        adj = _add_identity(adj)
    deg = degree(adj, weighted=True)
    dinv = deg.pow(-0.5)
    dinv = dinv.masked_fill(torch.isinf(dinv), 0.0)
    rowptr, col = adj.crow_indices().long(), adj.col_indices().long()
    values = adj.values()
    if not values.is_floating_point():
        values = values.float()
    return _scale(adj, rowptr, col, values, dinv, dinv)


def rw_norm(adj: Tensor) -> Tensor:
    r"""The random-walk normalisation :math:`\mathbf{D}^{-1} \mathbf{A}`
    (row-stochastic), with :math:`D_{ii} = \sum_j A_{ij}`; rows of degree 0
    stay zero. :obj:`adj` may be rectangular, :obj:`(M, N)`: for a
    bipartite relation with destinations as rows, :math:`\mathbf{D}^{-1}
    \mathbf{A} \mathbf{X}` averages the features of each row's neighbours
    (PyG's ``reduce='mean'``).
    """
    _check_adj(adj, square=False)
    deg = degree(adj, weighted=True)
    dinv = deg.reciprocal().masked_fill(deg == 0, 0.0)
    rowptr, col = adj.crow_indices().long(), adj.col_indices().long()
    values = adj.values()
    if not values.is_floating_point():
        values = values.float()
    return _scale(adj, rowptr, col, values, dinv, None)


# Editing #####################################################################


def remove_edges(adj: Tensor, pairs: Tensor) -> Tensor:
    r"""Removes the node pairs :obj:`pairs` of shape :obj:`(2, B)` from
    :obj:`adj` in **both** directions (:math:`(i, j)` and :math:`(j, i)`), as
    target-link removal during link-prediction training needs. All other
    entries and their values are kept; pairs absent from :obj:`adj` are
    ignored.

    :func:`edge_positions` then :func:`remove_positions`. When the same pairs
    are removed again and again (a training epoch's batches), look their
    positions up once with :func:`edge_positions` and call
    :func:`remove_positions` per batch: that is a mask over the stored entries.
    """
    n = _check_adj(adj)
    check_edge_index(pairs, n, name='pairs')
    if pairs.numel() == 0 or adj.col_indices().numel() == 0:
        return adj
    return remove_positions(adj, edge_positions(adj, pairs))


def edge_positions(adj: Tensor, pairs: Tensor) -> Tensor:
    r"""The storage positions in :obj:`adj` of the entries :math:`(i, j)` (row 0)
    and :math:`(j, i)` (row 1) of every column of :obj:`pairs`, shape
    :obj:`(2, B)`; :obj:`-1` where :obj:`adj` has no such entry.

    Keys :math:`iN + j` of the stored entries are sorted (CSR with sorted
    columns, as :func:`to_csr` builds it), so each pair is one
    :obj:`torch.searchsorted` look-up.
    """
    n = _check_adj(adj)
    check_edge_index(pairs, n, name='pairs')
    rowptr, col = adj.crow_indices().long(), adj.col_indices().long()
    i, j = pairs.long()
    query = torch.stack([i * n + j, j * n + i])
    if col.numel() == 0:
        return torch.full_like(query, -1)
    keys = _row_index(rowptr, col.numel()) * n + col
    pos = torch.searchsorted(keys, query).clamp_(max=col.numel() - 1)
    return torch.where(keys[pos] == query, pos, torch.full_like(pos, -1))


def remove_positions(adj: Tensor, positions: Tensor) -> Tensor:
    r""":obj:`adj` without the stored entries at :obj:`positions` (any shape;
    :obj:`-1` entries and repeats are ignored), keeping the order and the
    values of the others: target-link removal as a mask, with the positions
    from :func:`edge_positions`."""
    _check_adj(adj)
    rowptr, col = adj.crow_indices().long(), adj.col_indices().long()
    positions = positions.reshape(-1)
    positions = positions[positions >= 0]
    if positions.numel() and int(positions.max()) >= col.numel():
        raise ValueError(
            f"'positions' holds position {int(positions.max())} but 'adj' stores only {col.numel()} entries"
        )
    keep = torch.ones(col.numel(), dtype=torch.bool, device=col.device)
    keep[positions] = False
    csum = torch.cat([keep.new_zeros(1, dtype=torch.long), keep.cumsum(0)])
    return csr_tensor(csum[rowptr], col[keep], adj.values()[keep], adj.size(0))
