r"""Edge dropout on a sparse CSR adjacency."""

import torch
from torch import Tensor

from graphkit.ops.csr import csr_tensor


def drop_adj(adj: Tensor, p: float, training: bool = True) -> Tensor:
    r"""Drops every stored entry of a sparse CSR matrix independently with
    probability :obj:`p` and rescales the kept values, so that the expectation
    of every entry is unchanged:

    .. math::
        A'_{ij} = \frac{m_{ij}}{1 - p} A_{ij}, \qquad
        m_{ij} \sim \mathrm{Bernoulli}(1 - p)

    (``DropAdj`` of the official NCN code). Entries are dropped per direction,
    so a symmetric input may come back asymmetric; the kept entries keep their
    order, so sorted columns stay sorted. The mask is drawn from the global
    generator on the device of :obj:`adj`.

    Args:
        adj (torch.Tensor): CSR matrix of shape :obj:`(R, C)`.
        p (float): The drop probability, in :math:`[0, 1)`.
        training (bool, optional): If :obj:`False`, or if :obj:`p` is
            :obj:`0`, :obj:`adj` itself is returned. (default: :obj:`True`)
    """
    if not training or p <= 0.0:
        return adj
    rowptr, col, value = adj.crow_indices(), adj.col_indices(), adj.values()
    keep = torch.rand(col.numel(), device=col.device) >= p
    count = torch.cat([keep.new_zeros(1, dtype=torch.long), keep.long().cumsum(0)])
    return csr_tensor(count[rowptr], col[keep], value[keep] / (1.0 - p), adj.size())
