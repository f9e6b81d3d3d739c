r"""Sparse-dense matrix products over a CSR adjacency."""

from torch import Tensor
from torch_geometric.utils import scatter
from torch_geometric.utils import spmm as pyg_spmm

from graphkit.ops._backend import with_torch_sparse
from graphkit.ops.adjacency import _check_adj, _row_index

_REDUCE = ('sum', 'mean', 'max', 'min')


def _spmm_gather(adj: Tensor, x: Tensor, reduce: str) -> Tensor:
    # Plain-torch fallback: gather A_ij * x_j per stored entry, reduce per row.
    rowptr, col = adj.crow_indices().long(), adj.col_indices().long()
    row = _row_index(rowptr, col.numel())
    msg = adj.values().to(x.dtype).view(-1, 1) * x[col]
    return scatter(msg, row, dim=0, dim_size=adj.size(0), reduce=reduce)


def spmm(adj: Tensor, x: Tensor, reduce: str = 'sum') -> Tensor:
    r"""Sparse-dense product :math:`\mathbf{A} \mathbf{X}` with a row
    reduction:

    .. math::
        \mathbf{y}_i = \bigoplus_{j \,:\, A_{ij} \neq 0} A_{ij}\,\mathbf{x}_j

    where :math:`\bigoplus` is :obj:`'sum'`, :obj:`'mean'`, :obj:`'max'` or
    :obj:`'min'` (element-wise). Rows without entries give :obj:`0`.

    Dispatches through :func:`torch_geometric.utils.spmm`; on CUDA, where
    :obj:`torch.sparse.mm` has no :obj:`'max'`/:obj:`'min'`, it uses
    :obj:`torch_sparse` when installed and otherwise a gather-scatter path.
    Differentiable with respect to :obj:`x`.

    Args:
        adj (torch.Tensor): CSR matrix of shape :obj:`(M, N)`: a square
            adjacency, or a bipartite one with the destinations as rows.
        x (torch.Tensor): Dense features of shape :obj:`(N, F)` or :obj:`(N,)`;
            the result has shape :obj:`(M, F)` or :obj:`(M,)`.
        reduce (str, optional): The reduction. (default: :obj:`'sum'`)
    """
    m = _check_adj(adj, square=False)
    n = adj.size(1)
    if reduce == 'add':
        reduce = 'sum'
    if reduce not in _REDUCE:
        raise ValueError(f"'reduce' must be one of {_REDUCE} (got {reduce!r})")
    if not isinstance(x, Tensor) or x.dim() not in (1, 2) or x.size(0) != n:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"'x' must have shape ({n}, F) or ({n},) to match 'adj' (got {shape})")
    if not x.is_floating_point():
        raise ValueError(f"'x' must be a floating tensor (got {x.dtype})")
    squeeze = x.dim() == 1
    if squeeze:
        x = x.unsqueeze(-1)
    if adj.values().dtype != x.dtype:
        adj = adj.to(x.dtype)

    if adj.is_cuda and reduce in ('max', 'min'):
        if with_torch_sparse():
            from torch_geometric.typing import SparseTensor

            out = pyg_spmm(SparseTensor.from_torch_sparse_csr_tensor(adj), x, reduce)
        else:
            out = _spmm_gather(adj, x, reduce)
    elif adj._nnz() == 0:
        out = x.new_zeros(m, x.size(1))
    else:
        out = pyg_spmm(adj, x, reduce)
    return out.squeeze(-1) if squeeze else out
