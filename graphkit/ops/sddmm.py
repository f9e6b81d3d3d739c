r"""Sampled dense-dense products (SDDMM): inner products on a sparse pattern."""

from typing import Optional, Tuple

import torch
from torch import Tensor

from graphkit.ops.csr import csr_tensor


def _row_pattern(index: Tensor) -> Tuple[Tensor, Tensor]:
    # (rowptr, col) of the (B, C) CSR pattern with the m columns index[b] in row b.
    B, m = index.shape
    return torch.arange(B + 1, device=index.device) * m, index.reshape(-1)


class _SampledDot(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, y: Tensor, index: Tensor) -> Tensor:  # type: ignore[override]
        rowptr, col = _row_pattern(index)
        pattern = csr_tensor(rowptr, col, x.new_zeros(col.numel()), (index.size(0), y.size(0)))
        out = torch.sparse.sampled_addmm(pattern, x.detach(), y.detach().t(), beta=0.0).values()
        ctx.save_for_backward(x, y, index)
        return out.view(index.shape)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tuple[Optional[Tensor], Optional[Tensor], None]:  # type: ignore[override]
        x, y, index = ctx.saved_tensors
        (B, m), C = index.shape, y.size(0)
        g = grad.reshape(-1).contiguous()
        rowptr, col = _row_pattern(index)
        grad_x = grad_y = None
        if ctx.needs_input_grad[0]:  # dL/dx_b = sum_k g_bk y_{index[b, k]}
            grad_x = csr_tensor(rowptr, col, g, (B, C)) @ y
        if ctx.needs_input_grad[1]:  # dL/dy_c = sum_{(b, k): index[b, k] = c} g_bk x_b: the transpose
            order = torch.argsort(col, stable=True)
            colptr = torch.zeros(C + 1, dtype=torch.long, device=x.device)
            colptr[1:] = torch.bincount(col, minlength=C).cumsum(0)
            row = torch.div(order, m, rounding_mode='floor')
            grad_y = csr_tensor(colptr, row, g[order], (C, B)) @ x
        return grad_x, grad_y, None


def sampled_dot(x: Tensor, y: Tensor, index: Tensor) -> Tensor:
    r"""Inner products of every row of :obj:`x` with selected rows of :obj:`y`:

    .. math::
        \mathrm{out}_{bk} = \mathbf{x}_b^\top \mathbf{y}_{\mathrm{index}[b, k]}

    *e.g.* the scores of :math:`B` users against :math:`m` sampled items each.
    Computed as a sampled dense-dense product (:func:`torch.sparse.sampled_addmm`)
    on the sparse :math:`B \times C` pattern of :obj:`index` (duplicate indices
    in a row allowed), with two sparse-dense products for the gradients. Same
    numbers as ``(x.unsqueeze(1) * y[index]).sum(-1)``, without the
    :obj:`(B, m, d)` intermediate and without scoring all :math:`C` rows of
    :obj:`y`. Differentiable with respect to :obj:`x` and :obj:`y`.

    Args:
        x (torch.Tensor): Dense matrix of shape :obj:`(B, d)`.
        y (torch.Tensor): Dense matrix of shape :obj:`(C, d)`.
        index (torch.Tensor): Row indices into :obj:`y` of shape
            :obj:`(B, m)`, with :math:`m \le C` (a limit of
            :func:`torch.sparse.sampled_addmm`).

    Returns:
        Tensor of shape :obj:`(B, m)`.
    """
    if x.dim() != 2 or y.dim() != 2 or x.size(1) != y.size(1):
        raise ValueError(
            f"'x' and 'y' must be matrices with the same number of columns (got {tuple(x.shape)} and {tuple(y.shape)})"
        )
    if index.dim() != 2 or index.size(0) != x.size(0):
        raise ValueError(f"'index' must have shape ({x.size(0)}, m) (got {tuple(index.shape)})")
    if index.size(1) > y.size(0):
        raise ValueError(
            f"'index' may hold at most {y.size(0)} columns, the number of rows of 'y' (got {index.size(1)})"
        )
    return _SampledDot.apply(x, y, index)
