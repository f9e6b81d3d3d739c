r"""Sums of powers of the random-walk normalised adjacency with self-loops, the positive weights
:math:`\mathbf{\Gamma}` of Graph-MLP-style contrastive losses (SCGC, PamC).

.. math::
    \mathbf{\hat{A}} = \mathbf{D}^{-1} (\mathbf{A} + \mathbf{I}), \qquad
    \mathbf{\Gamma} = \sum_{r=1}^{R} \mathbf{\hat{A}}^r \;\; \text{(cumulative)}
    \quad \text{or} \quad \mathbf{\Gamma} = \mathbf{\hat{A}}^R

with :math:`\mathbf{A}` the symmetrised binary adjacency and :math:`D_{ii} = 1 + \deg(i)`. Built with
sparse-sparse products (:func:`torch.sparse.mm` on CSR, any device); nothing :math:`N \times N` is dense.

Memory: :math:`\mathbf{\Gamma}` stores :math:`\mathrm{nnz}(\mathbf{\Gamma})` entries (an :obj:`int64` column and
a :obj:`float32` value, 12 bytes each, plus :math:`8 (N + 1)` bytes of row pointers), and the construction holds
at most three such matrices at once (:math:`\mathbf{\hat{A}}^{r-1}`, :math:`\mathbf{\hat{A}}^r` and the running
sum). :math:`\mathrm{nnz}(\mathbf{\hat{A}}^r)` is the number of pairs joined by a walk of length :math:`\le r`,
about :math:`N \bar{d}^{\,r}` on a sparse graph of mean degree :math:`\bar{d}` and at most :math:`N^2`: on Cora
(2,708 nodes, 10,556 directed edges) :math:`R = 1, 2, 3` give 13,264, 99,596 and 346,846 entries.
"""

from typing import Optional, Tuple

import torch
from torch import Tensor

from graphkit.ops.adjacency import _row_index, check_edge_index, rw_norm, to_csr

__all__ = ['adjacency_power_sum', 'csr_to_coo']


def adjacency_power_sum(
    edge_index: Tensor,
    num_nodes: Optional[int] = None,
    order: int = 2,
    cumulative: bool = True,
) -> Tensor:
    r"""The matrix :math:`\mathbf{\Gamma} = \sum_{r=1}^{R} \mathbf{\hat{A}}^r` (or :math:`\mathbf{\hat{A}}^R`
    alone) of the module docstring, as a canonical :obj:`torch.sparse_csr` tensor (sorted columns, one entry per
    pair, :obj:`float32` values).

    Every row of :math:`\mathbf{\hat{A}}^r` sums to 1, so the rows of the cumulative :math:`\mathbf{\Gamma}` sum
    to :math:`R`; every node has a self-loop, so every row has at least its diagonal entry. Duplicate edges and
    self-loops in :obj:`edge_index` are ignored (one self-loop per node is added).

    Args:
        edge_index (torch.Tensor): Edge indices of shape :obj:`(2, E)`; read as undirected.
        num_nodes (int, optional): Number of nodes :math:`N`; inferred from :obj:`edge_index` if :obj:`None`.
            (default: :obj:`None`)
        order (int): The largest power :math:`R \ge 1`. (default: :obj:`2`)
        cumulative (bool): Sum the powers :math:`1 \dots R` (the official PamC / SCGC ``--influence`` runs);
            :obj:`False` keeps :math:`\mathbf{\hat{A}}^R` only. (default: :obj:`True`)
    """
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"'adjacency_power_sum' expects 'order' to be an integer >= 1 (got {order!r})")
    num_nodes = check_edge_index(edge_index, num_nodes, name='edge_index')
    a_hat = rw_norm(to_csr(edge_index, num_nodes, symmetric=True, self_loops='add'))
    power, total = a_hat, a_hat
    for _ in range(2, order + 1):
        power = torch.sparse.mm(power, a_hat)
        total = total + power if cumulative else power
    # sparse-sparse products leave the columns of a row in no order: to_csr sorts them and sums duplicates
    return to_csr(total)


def csr_to_coo(adj: Tensor) -> Tuple[Tensor, Tensor]:
    r"""The stored entries of a CSR matrix as ``(index, value)``: an :obj:`int64` tensor of shape
    :obj:`(2, nnz)` (rows, columns; in storage order) and the values of shape :obj:`(nnz,)`, *e.g.* the
    ``(pos_index, pos_weight)`` that :class:`graphkit.losses.PamCLoss` reads."""
    if not isinstance(adj, Tensor) or adj.layout != torch.sparse_csr:
        got = adj.layout if isinstance(adj, Tensor) else type(adj).__name__
        raise ValueError(f"'adj' must be a torch sparse CSR tensor (got {got})")
    rowptr, col = adj.crow_indices().long(), adj.col_indices().long()
    row = _row_index(rowptr, col.numel())
    return torch.stack([row, col]), adj.values()
