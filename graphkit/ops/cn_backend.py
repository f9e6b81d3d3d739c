r"""The algorithm behind the common-neighbour operators, chosen by graph density and batch size.

Two backends compute the same sets and sums (:mod:`graphkit.ops.common_neighbors`):

* :obj:`'sparse'`: sorted :obj:`(pair, node)` keys gathered from the CSR rows and intersected with
  :func:`torch.searchsorted`, :math:`O(B \bar d \log(B \bar d))` for :math:`B` pairs of mean degree
  :math:`\bar d`. The only choice for large graphs.
* :obj:`'dense'`: the adjacency as an :math:`N \times N` boolean mask; a chunk of :math:`C` pairs
  gathers :math:`C` mask rows per side, ANDs them, and reads the sets with :func:`torch.nonzero`
  (:math:`O(C N)` byte operations) or pools features with one masked GEMM
  :math:`(\mathbf{A}_{i} \odot \mathbf{A}_{j}) \mathbf{X}` (:math:`2 C N F` flops, recomputed chunk by
  chunk in the backward pass, so no :math:`B \times N` tensor is ever held). For small dense graphs
  (ogbl-ddi: 4,267 nodes, mean degree 500) this does far less work than the sorted keys.

:obj:`'auto'` (the default) takes the dense path when the mask fits in :data:`DENSE_MAX_BYTES` and
its estimated cost is below the sparse one:

.. math::
    N \le \kappa \cdot \bar d \cdot \log_2(2 B \bar d) \quad \text{(sets)}, \qquad
    N F \le \kappa_F \cdot \bar d \cdot (\log_2(2 B \bar d) + F) \quad \text{(feature sums)}

with :math:`\bar d = \mathrm{nnz} / N` and the constants :data:`KAPPA`, :data:`KAPPA_SUM` measured on the
project's CPU (``benchmarks/RESULTS.md``, issue 14's switch-point table). Pooling the dense sets with the sparse
path's product instead of the GEMM was tried and dropped: faster on random pairs, slower on an ogbl-ddi
training batch (``benchmarks/cn_dense_sums.py``). The choice is overridden process-wide
with :func:`set_cn_backend` or for a block with :func:`use_cn_backend`; :func:`cn_backend_counts`
says which backend ran how often (the link task writes it into the run summary).
"""

from __future__ import annotations

import math
import threading
import weakref
from contextlib import contextmanager
from typing import Dict, Iterator, Optional, Tuple

import torch
from torch import Tensor

BACKENDS = ('auto', 'sparse', 'dense')

#: The largest mask the automatic choice builds (:math:`N^2` bytes for sets, :math:`4 N^2` for sums).
DENSE_MAX_BYTES = 1 << 28
#: Elements of one :math:`C \times N` chunk (bounds the working memory of the dense path).
CHUNK_ELEMENTS = 1 << 24
#: Cost ratio sparse / dense per unit of the model above (sets; measured, see the module docstring).
KAPPA = 8.0
#: The same for feature sums, whose dense side is a GEMM.
KAPPA_SUM = 10.0

_BACKEND = 'auto'
_COUNTS: Dict[str, int] = {'sparse': 0, 'dense': 0}
# The last adjacency turned into a dense mask and the mask (eval scores many chunks on one graph).
_MASK_CACHE: Optional[Tuple[weakref.ref, Dict[torch.dtype, Tensor]]] = None


def _check_backend(backend: str, name: str = 'backend') -> str:
    if backend not in BACKENDS:
        raise ValueError(f"'{name}' must be one of {', '.join(BACKENDS)} (got {backend!r})")
    return backend


def set_cn_backend(backend: str) -> None:
    r"""Sets the common-neighbour backend for the whole process: :obj:`'auto'` (chosen per call by
    density and batch size), :obj:`'sparse'` (sorted keys) or :obj:`'dense'` (boolean mask and
    masked GEMM; needs :math:`N^2` bytes)."""
    global _BACKEND
    _BACKEND = _check_backend(backend)


def get_cn_backend() -> str:
    r"""The current setting of :func:`set_cn_backend` (:obj:`'auto'` unless changed)."""
    return _BACKEND


@contextmanager
def use_cn_backend(backend: str) -> Iterator[None]:
    r"""Context manager: the common-neighbour backend :obj:`backend` inside the block, the previous
    setting after it. :obj:`'auto'` inside a forced block restores the automatic choice."""
    global _BACKEND
    _check_backend(backend)
    saved, _BACKEND = _BACKEND, backend
    try:
        yield
    finally:
        _BACKEND = saved


def cn_backend_counts(reset: bool = False) -> Dict[str, int]:
    r"""How many common-neighbour calls each backend served since the process started (or since
    the last :obj:`reset=True`)."""
    out = dict(_COUNTS)
    if reset:
        for key in _COUNTS:
            _COUNTS[key] = 0
    return out


def choose_backend(num_nodes: int, nnz: int, num_pairs: int, channels: int = 0) -> str:
    r"""The backend a call on a graph of :obj:`num_nodes` nodes and :obj:`nnz` stored entries with
    :obj:`num_pairs` pairs takes now (:obj:`channels` > 0: a feature sum of that width)."""
    if _BACKEND != 'auto':
        return _BACKEND
    n = int(num_nodes)
    if n == 0 or num_pairs == 0 or n * n * (4 if channels > 0 else 1) > DENSE_MAX_BYTES:
        return 'sparse'
    d = nnz / n
    if d <= 0:
        return 'sparse'
    log = math.log2(max(2.0 * num_pairs * d, 2.0))
    if channels > 0:
        return 'dense' if n * channels <= KAPPA_SUM * d * (log + channels) else 'sparse'
    return 'dense' if n <= KAPPA * d * log else 'sparse'


def record(backend: str) -> None:
    _COUNTS[backend] += 1


def dense_mask(adj: Tensor, dtype: torch.dtype = torch.bool) -> Tensor:
    r"""The :math:`N \times N` 0/1 mask of the stored entries of a CSR :obj:`adj` (values ignored),
    as :obj:`dtype`. The masks of the last adjacency are cached (by identity), so evaluating many
    chunks on one graph builds them once."""
    global _MASK_CACHE
    cache = _MASK_CACHE
    if cache is None or cache[0]() is not adj:
        cache = _MASK_CACHE = (weakref.ref(adj), {})
    masks = cache[1]
    if dtype not in masks:
        n = adj.size(0)
        rowptr, col = adj.crow_indices().long(), adj.col_indices().long()
        row = torch.repeat_interleave(torch.arange(n, device=col.device), rowptr.diff(), output_size=col.numel())
        mask = torch.zeros(n, adj.size(1), dtype=dtype, device=col.device)
        mask[row, col] = 1
        masks[dtype] = mask
    return masks[dtype]


def _chunks(num_pairs: int, num_nodes: int) -> Iterator[Tuple[int, int]]:
    step = max(1, CHUNK_ELEMENTS // max(num_nodes, 1))
    for start in range(0, num_pairs, step):
        yield start, min(start + step, num_pairs)


def _rows(mask: Tensor, i: Tensor, j: Tensor, s: int, e: int, buf: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    # The mask rows of i[s:e] and j[s:e]; index_select into reused buffers is the fastest gather on CPU.
    shape = (e - s, mask.size(1))
    if buf is None or buf.size(1) < shape[0]:
        buf = mask.new_empty((2,) + shape)
    mi, mj = buf[0, : shape[0]], buf[1, : shape[0]]
    torch.index_select(mask, 0, i[s:e], out=mi)
    torch.index_select(mask, 0, j[s:e], out=mj)
    return mi, mj


# Per thread, the CPU chunk buffer of each mask dtype, reused from call to call.
_WORKSPACE = threading.local()


def _buffer(mask: Tensor, num_pairs: int) -> Tensor:
    # The (2, C, N) buffer of a call's mask-row chunks. On CPU it is kept per thread and dtype and reused
    # (at most 2 * CHUNK_ELEMENTS entries: 128 MiB for float32): a fresh buffer above glibc's mmap threshold
    # is page-faulted in on every call, which doubled the time of per-node ranking on ogbl-ddi.
    step = max(1, CHUNK_ELEMENTS // max(mask.size(1), 1))
    rows = min(step, max(num_pairs, 1))
    if mask.device.type != 'cpu':
        return mask.new_empty(2, rows, mask.size(1))
    buffers = _WORKSPACE.__dict__.setdefault('buffers', {})
    buf = buffers.get(mask.dtype)
    if buf is None or buf.size(1) < rows or buf.size(2) != mask.size(1):
        buffers.pop(mask.dtype, None)  # free the old one before allocating
        buf = buffers[mask.dtype] = mask.new_empty(2, rows, mask.size(1))
    return buf


def release_workspace() -> None:
    r"""Frees this thread's dense-path chunk buffers (the dense backend keeps them for reuse)."""
    _WORKSPACE.__dict__.pop('buffers', None)


def dense_sets(mask: Tensor, i: Tensor, j: Tensor, differences: bool) -> Tuple[Tensor, ...]:
    r"""The :obj:`(2, M)` lists (pair, node) of :math:`\mathcal{N}(i) \cap \mathcal{N}(j)` (and of
    the two differences), sorted by :math:`(b, u)`, from the boolean mask, chunk by chunk."""
    parts: Tuple[list, ...] = ([], [], []) if differences else ([],)
    buf = _buffer(mask, i.numel())
    for s, e in _chunks(i.numel(), mask.size(1)):
        mi, mj = _rows(mask, i, j, s, e, buf)
        sets = (mi & mj, mi & ~mj, mj & ~mi) if differences else (mi.bitwise_and_(mj),)
        for out, m in zip(parts, sets):
            nz = m.nonzero().t()
            nz[0] += s
            out.append(nz)
    empty = torch.empty(2, 0, dtype=torch.long, device=mask.device)
    return tuple(torch.cat(p, dim=1) if p else empty for p in parts)


def dense_count(mask: Tensor, i: Tensor, j: Tensor) -> Tensor:
    r""":math:`|\mathcal{N}(i_b) \cap \mathcal{N}(j_b)|` as :obj:`float32` from the boolean mask,
    chunk by chunk."""
    out = torch.empty(i.numel(), dtype=torch.float32, device=mask.device)
    buf = _buffer(mask, i.numel())
    for s, e in _chunks(i.numel(), mask.size(1)):
        mi, mj = _rows(mask, i, j, s, e, buf)
        out[s:e] = mi.bitwise_and_(mj).sum(1)
    return out


class _MaskedGemm(torch.autograd.Function):
    # z = (M[i] * M[j]) x for a 0/1 float mask M, chunked; the backward recomputes each chunk's
    # product: x.grad = S^T g.

    @staticmethod
    def forward(ctx, x: Tensor, mask: Tensor, i: Tensor, j: Tensor) -> Tensor:  # type: ignore[override]
        out = x.new_empty(i.numel(), x.size(1))
        buf = _buffer(mask, i.numel())
        for s, e in _chunks(i.numel(), mask.size(1)):
            mi, mj = _rows(mask, i, j, s, e, buf)
            torch.mm(mi.mul_(mj), x, out=out[s:e])
        ctx.save_for_backward(i, j)
        ctx.mask = mask
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        i, j = ctx.saved_tensors
        mask = ctx.mask
        gx = None
        if ctx.needs_input_grad[0]:
            gx = grad.new_zeros(mask.size(1), grad.size(1))
            buf = _buffer(mask, i.numel())
            for s, e in _chunks(i.numel(), mask.size(1)):
                mi, mj = _rows(mask, i, j, s, e, buf)
                gx.addmm_(mi.mul_(mj).t(), grad[s:e])
        return gx, None, None, None


def dense_sum(mask: Tensor, i: Tensor, j: Tensor, x: Tensor) -> Tensor:
    r""":math:`\mathbf{z}_b = \sum_{u} \mathbb{1}[u \in \mathcal{N}(i_b) \cap \mathcal{N}(j_b)]
    \mathbf{x}_u` for a 2-D :obj:`x` and a 0/1 :obj:`mask` of its dtype, differentiable w.r.t.
    :obj:`x`."""
    if i.numel() == 0:
        return x.new_zeros(0, x.size(1))
    return _MaskedGemm.apply(x.contiguous(), mask, i, j)
