r"""Construction of :pytorch:`PyTorch` sparse tensors, and the entries of CSR rows.

Every sparse tensor graphkit builds goes through :func:`csr_tensor` (from
:obj:`(rowptr, col, value)`), :func:`to_sparse_csr` (from a dense or COO
tensor) or :func:`coo_tensor`. They pass :obj:`check_invariants` to
:pytorch:`PyTorch` explicitly, so its *"Sparse invariant checks are implicitly
disabled"* warning never fires for them, and the CSR ones silence its *"Sparse
CSR tensor support is in beta state"* warning with a
:func:`warnings.catch_warnings` filter on those two messages only, for the
duration of the call. No other warning is filtered, and no filter outlives
the call.

.. note::
    :pytorch:`PyTorch` emits the beta notice once per process, with the first
    CSR tensor built by anyone. Importing :mod:`graphkit.ops` builds an empty
    one under the filter, so the notice does not appear later either (*e.g.*
    from :func:`torch.sparse.mm`, which converts COO operands to CSR).
"""

import re
import warnings
from contextlib import contextmanager
from typing import Iterator, Optional, Tuple, Union

import torch
from torch import Tensor

Size = Union[int, Tuple[int, int], torch.Size]

# The message prefixes of the two warnings that a first sparse construction emits.
_SPARSE_WARNINGS = (
    'Sparse CSR tensor support is in beta state',
    'Sparse invariant checks are implicitly disabled',
)
# PyTorch emits each of them at most once per process (TORCH_WARN_ONCE), the beta warning on the first CSR
# construction. Once a CSR construction has run under the filter nothing is left to silence, so later calls
# skip `catch_warnings` (entering it also resets the registries that show other warnings once per location).
_SILENCED = False


@contextmanager
def _quiet_sparse_warnings() -> Iterator[None]:
    global _SILENCED
    if _SILENCED:
        yield
        return
    with warnings.catch_warnings():
        for message in _SPARSE_WARNINGS:
            warnings.filterwarnings('ignore', message=re.escape(message), category=UserWarning)
        yield
    _SILENCED = True


def _size(size: Size) -> Tuple[int, int]:
    if isinstance(size, int):
        return size, size
    rows, cols = size
    return int(rows), int(cols)


def csr_tensor(
    rowptr: Tensor,
    col: Tensor,
    value: Optional[Tensor],
    size: Size,
    *,
    check_invariants: bool = False,
) -> Tensor:
    r"""Builds the :obj:`torch.sparse_csr` matrix :math:`\mathbf{M}` of shape
    :obj:`size` whose row :math:`i` stores the columns
    ``col[rowptr[i]:rowptr[i + 1]]`` with values
    ``value[rowptr[i]:rowptr[i + 1]]``.

    The constructor of every CSR tensor in graphkit (see the module
    docstring for the warnings it silences).

    Args:
        rowptr (torch.Tensor): Row pointers of shape :obj:`(R + 1,)`,
            non-decreasing, from :obj:`0` to :obj:`nnz`.
        col (torch.Tensor): Column indices of shape :obj:`(nnz,)`.
        value (torch.Tensor, optional): Values of shape :obj:`(nnz,)`; ones
            of the default floating dtype if :obj:`None`.
        size (int or (int, int)): The shape :obj:`(R, C)`; an :obj:`int`
            means a square matrix.
        check_invariants (bool, optional): If :obj:`True`, :pytorch:`PyTorch`
            validates the CSR invariants (sorted pointers, columns in range)
            at :math:`O(\text{nnz})` cost. graphkit's own constructions satisfy
            them by design and skip the check. (default: :obj:`False`)
    """
    if value is None:
        value = torch.ones(col.numel(), device=col.device)
    with _quiet_sparse_warnings():
        return torch.sparse_csr_tensor(rowptr, col, value, size=_size(size), check_invariants=check_invariants)


def to_sparse_csr(x: Tensor) -> Tensor:
    r"""Converts a dense (strided) or sparse COO matrix to :obj:`torch.sparse_csr`
    (:meth:`torch.Tensor.to_sparse_csr`; duplicate COO entries are summed, zeros of a
    dense matrix are not stored). A CSR tensor is returned unchanged.

    Args:
        x (torch.Tensor): A two-dimensional tensor.
    """
    if x.layout == torch.sparse_csr:
        return x
    with _quiet_sparse_warnings():
        return x.to_sparse_csr()


def coo_tensor(
    indices: Tensor,
    value: Optional[Tensor],
    size: Size,
    *,
    is_coalesced: Optional[bool] = None,
    check_invariants: bool = False,
) -> Tensor:
    r"""Builds the sparse COO matrix of shape :obj:`size` with entries
    :math:`M_{\mathrm{indices}[0, e], \mathrm{indices}[1, e]} = \mathrm{value}_e`
    (:func:`torch.sparse_coo_tensor` with an explicit :obj:`check_invariants`,
    so without :pytorch:`PyTorch`'s warning about implicitly disabled checks).

    Args:
        indices (torch.Tensor): Integer tensor of shape :obj:`(2, nnz)`.
        value (torch.Tensor, optional): Values of shape :obj:`(nnz,)`; ones
            of the default floating dtype if :obj:`None`.
        size (int or (int, int)): The shape; an :obj:`int` means square.
        is_coalesced (bool, optional): Declares the indices sorted and
            unique (then :meth:`~torch.Tensor.coalesce` is free); :obj:`None`
            lets :pytorch:`PyTorch` assume they are not. (default: :obj:`None`)
        check_invariants (bool, optional): If :obj:`True`, validates the
            indices against :obj:`size`. (default: :obj:`False`)
    """
    if value is None:
        value = torch.ones(indices.size(1), device=indices.device)
    return torch.sparse_coo_tensor(
        indices, value, _size(size), is_coalesced=is_coalesced, check_invariants=check_invariants
    )


# PyTorch's beta notice comes with the first CSR tensor of the process, whoever builds it: also the CSR tensors
# that torch.sparse.mm builds internally from COO operands, or PyG's conversions. graphkit's sparse code is CSR
# throughout, so the notice is consumed here once, when graphkit.ops is imported, under the narrow filter above.
csr_tensor(torch.zeros(1, dtype=torch.long), torch.zeros(0, dtype=torch.long), None, (0, 0))
# Sparse constructors that graphkit does not call itself (PyG's GCNConv builds CSR tensors without passing
# check_invariants) warn that invariant checks are "implicitly disabled". Make the default explicit, once: a
# no-op for the checks (they stay off), and a user who turned them on keeps them on.
if not torch.sparse.check_sparse_tensor_invariants.is_enabled():
    torch.sparse.check_sparse_tensor_invariants.disable()


def csr_rows(rowptr: Tensor, col: Tensor, rows: Tensor) -> Tuple[Tensor, Tensor]:
    r"""The stored entries of the rows :obj:`rows` of a CSR matrix, as two
    tensors :obj:`(local, cols)` of equal length: entry :math:`e` is column
    ``cols[e]`` of row ``rows[local[e]]``.

    .. math::
        \{(b, c) : c \in \mathrm{col}[\mathrm{rowptr}[r_b] : \mathrm{rowptr}[r_b + 1]]\}

    Vectorised (no Python loop over rows); the entries come out grouped by
    :math:`b` in increasing order and, within a group, in storage order (so
    sorted when the columns of each row are). Rows may repeat.

    Args:
        rowptr (torch.Tensor): Row pointers (:obj:`int64`) of shape :obj:`(R + 1,)`.
        col (torch.Tensor): Column indices of shape :obj:`(nnz,)`.
        rows (torch.Tensor): The row indices (:obj:`int64`) of shape :obj:`(B,)`, in :math:`[0, R)`.
    """
    start = rowptr[rows]
    count = rowptr[rows + 1] - start
    total = int(count.sum())
    local = torch.repeat_interleave(torch.arange(rows.numel(), device=rows.device), count, output_size=total)
    offset = torch.cumsum(count, 0) - count  # exclusive prefix sum
    return local, col[start[local] + torch.arange(total, device=rows.device) - offset[local]]
