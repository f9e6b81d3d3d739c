r"""Dropout: of the entries of a dense tensor (:func:`packed_dropout`, a cheaper mask on CPU) and of the stored
entries of a sparse CSR adjacency (:func:`drop_adj`)."""

from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from graphkit.ops.csr import csr_tensor

#: Resolution of the keep probability of :func:`packed_dropout` on CPU: one 16-bit slice of a random word per entry.
MASK_BITS = 16


def _keep_level(p: float) -> Tuple[int, float]:
    # The number K of the 2^16 slice values that keep an entry, and the keep probability K / 2^16.
    levels = 1 << MASK_BITS
    k = int(round((1.0 - p) * levels))
    return k, k / levels


def keep_mask(shape: torch.Size, p: float) -> Tensor:
    r"""A boolean CPU mask of :obj:`shape` whose entries are :obj:`True` independently with probability
    :math:`q = K / 2^{16}`, :math:`K = \mathrm{round}((1 - p) \cdot 2^{16})`: every full-range 64-bit
    word of the global generator gives four entries, one per 16-bit slice. About 7x cheaper than
    :meth:`torch.Tensor.bernoulli_`, which draws and converts one random number per entry."""
    k, _ = _keep_level(p)
    numel = 1
    for size in shape:
        numel *= int(size)
    words = torch.empty((numel + 3) // 4, dtype=torch.int64).random_(-(1 << 63), None)
    # A slice read as int16 is uniform on [-2^15, 2^15): exactly K of its values lie below K - 2^15.
    return (words.view(torch.int16)[:numel] < k - (1 << (MASK_BITS - 1))).view(shape)


class _Dropout(torch.autograd.Function):
    # y = m * x / q with a saved boolean mask (1 byte per entry; F.dropout saves a float mask).

    @staticmethod
    def forward(ctx, x: Tensor, p: float) -> Tensor:  # type: ignore[override]
        _, q = _keep_level(p)
        keep = keep_mask(x.shape, p)
        ctx.save_for_backward(keep)
        ctx.scale = 1.0 / q
        return torch.where(keep, x, 0.0).mul_(ctx.scale)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        (keep,) = ctx.saved_tensors
        return torch.where(keep, grad, 0.0).mul_(ctx.scale), None


def packed_dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    r"""Inverted dropout, :math:`\mathbf{y} = \mathbf{m} \odot \mathbf{x} / q` with independent
    :math:`m \sim \mathrm{Bernoulli}(q)`, :math:`q = 1 - p` (`Srivastava et al., JMLR 2014
    <https://jmlr.org/papers/v15/srivastava14a.html>`_), as :func:`torch.nn.functional.dropout`.

    On CPU the mask comes from :func:`keep_mask`: :math:`q` is :math:`1 - p` rounded to a multiple of
    :math:`2^{-16}` (so the drop probability is off by at most :math:`7.7 \cdot 10^{-6}`), and the
    scale is :math:`1 / q` of the rounded :math:`q`, so :math:`\mathbb{E}[\mathbf{y}] = \mathbf{x}`
    exactly. The backward pass reuses the boolean mask. Dropped entries are :obj:`0` even where
    :obj:`x` is not finite. On other devices this is :func:`torch.nn.functional.dropout`, whose fused
    kernels are already cheap. The mask is drawn from the global generator, so
    :func:`torch.manual_seed` makes it reproducible.

    Args:
        x (torch.Tensor): The input, of a floating dtype.
        p (float, optional): The drop probability, in :math:`[0, 1]`. (default: :obj:`0.5`)
        training (bool, optional): If :obj:`False`, or if :obj:`p` is :obj:`0`, :obj:`x` itself is
            returned. (default: :obj:`True`)
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability 'p' must be in [0, 1] (got {p})")
    if not training or p == 0.0:
        return x
    if x.device.type != 'cpu' or not x.is_floating_point():
        return F.dropout(x, p, training)
    k, _ = _keep_level(p)
    if k == 0:  # q rounds to 0: everything is dropped
        return torch.where(torch.zeros((), dtype=torch.bool), x, 0.0)
    if k == 1 << MASK_BITS:  # p < 2^-17 rounds to no dropout
        return x
    return _Dropout.apply(x, p)


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
