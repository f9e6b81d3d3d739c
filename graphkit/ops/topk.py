r"""Top-:math:`k` over a full candidate set, in memory-bounded chunks of queries.

Every query (a user, an item, a node) is scored against **all** :math:`C`
candidates by a callback. Known candidates (training items, known neighbours)
are masked with :math:`-\infty` through CSR row slices (:func:`csr_rows`)
before the top-:math:`k`, as in the official UltraGCN / LightGCN evaluation
and RecBole's ``_full_sort_batch_eval``, but without the dense
:math:`Q \times C` mask those build: peak memory is
:math:`O(\text{chunk\_size} \times C)`.

**Ties** are broken by candidate index, lower index first (ordinal ranks):
results are deterministic and do not depend on :func:`torch.topk`'s internal
order.
"""

from typing import Callable, Optional, Tuple, Union

import torch
from torch import Tensor

from graphkit.ops.csr import csr_rows

CSR = Union[Tensor, Tuple[Tensor, Tensor]]


def _parts(csr: CSR, name: str) -> Tuple[Tensor, Tensor, int]:
    """``(rowptr, col, num_rows)`` of a torch sparse CSR tensor or a ``(rowptr, col)`` pair."""
    if isinstance(csr, Tensor):
        if csr.layout != torch.sparse_csr:
            raise ValueError(
                f"'{name}' must be a torch sparse CSR tensor or a (rowptr, col) pair (got layout {csr.layout})"
            )
        return csr.crow_indices().long(), csr.col_indices().long(), csr.size(0)
    if isinstance(csr, (tuple, list)) and len(csr) == 2:
        rowptr, col = (torch.as_tensor(t).long() for t in csr)
        if rowptr.dim() != 1 or rowptr.numel() < 1 or col.dim() != 1:
            raise ValueError(f"'{name}' must be a (rowptr, col) pair of 1-D tensors")
        return rowptr, col, rowptr.numel() - 1
    raise ValueError(f"'{name}' must be a torch sparse CSR tensor or a (rowptr, col) pair (got {type(csr).__name__})")


def _queries(queries: Optional[Tensor], num_queries: int, device: torch.device) -> Tensor:
    if queries is None:
        return torch.arange(num_queries, device=device)
    queries = torch.as_tensor(queries, device=device).long().view(-1)
    if queries.numel() and (int(queries.min()) < 0 or int(queries.max()) >= num_queries):
        raise ValueError(
            f"'queries' must hold indices in [0, {num_queries}) (got range "
            f'[{int(queries.min())}, {int(queries.max())}])'
        )
    return queries


def _check_chunk(chunk_size: int) -> None:
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"'chunk_size' must be a positive integer (got {chunk_size!r})")


def _masked_scores(score_fn: Callable[[Tensor], Tensor], q: Tensor, exclude: Optional[Tuple[Tensor, Tensor]]) -> Tensor:
    scores = score_fn(q)
    if scores.dim() != 2 or scores.size(0) != q.numel():
        raise ValueError(
            f"'score_fn' must return a tensor of shape [{q.numel()}, num_candidates] (got {tuple(scores.shape)})"
        )
    scores = scores.detach().float()
    if exclude is not None:
        rowptr, col = exclude
        local, c = csr_rows(rowptr.to(q.device), col.to(q.device), q)
        scores = scores.index_put((local, c), scores.new_full((), float('-inf')))  # a copy: never in place
    return scores


def _topk_tiebreak(scores: Tensor, k: int) -> Tensor:
    r"""Top-:obj:`k` column indices per row, score descending, ties by lower column index; positions whose
    score is :math:`-\infty` (masked) are set to :obj:`-1`. Requires :obj:`k <= scores.size(1)`."""
    b, c = scores.shape
    if k == 0 or b == 0:
        return torch.empty(b, k, dtype=torch.long, device=scores.device)
    kth = scores.topk(k, dim=1, sorted=True).values[:, -1:]  # the k-th largest value per row
    take = scores >= kth
    excess = (take.sum(1) > k).nonzero().view(-1)  # rows with ties across the cut
    if excess.numel():
        sub = scores[excess]
        equal = sub == kth[excess]
        need = k - (sub > kth[excess]).sum(1, keepdim=True)  # ties to take, lowest index first
        take[excess] = (sub > kth[excess]) | (equal & (equal.cumsum(1) <= need))
    idx = take.nonzero()[:, 1].view(b, k)  # column indices, ascending per row
    val = scores.gather(1, idx)
    order = torch.sort(val, dim=1, descending=True, stable=True).indices
    idx = idx.gather(1, order)
    return idx.masked_fill(scores.gather(1, idx) == float('-inf'), -1)


def topk_full_ranking(
    score_fn: Callable[[Tensor], Tensor],
    num_queries: int,
    k: int,
    exclude: Optional[CSR] = None,
    chunk_size: int = 1024,
    queries: Optional[Tensor] = None,
) -> Tensor:
    r"""The top-:obj:`k` candidates of each query over the full candidate set, in chunks of queries.

    Args:
        score_fn (callable): Maps a LongTensor of query indices (shape :obj:`[b]`) to their scores against all
            :math:`C` candidates (shape :obj:`[b, C]`).
        num_queries (int): Number of queries :math:`Q` (rows of :obj:`exclude`).
        k (int): Number of candidates to return per query.
        exclude (torch.Tensor or (Tensor, Tensor), optional): A sparse CSR matrix (:math:`Q \times C`), or its
            ``(rowptr, col)``, of candidates masked with :math:`-\infty` before the top-:math:`k` (training
            items). (default: :obj:`None`)
        chunk_size (int, optional): Queries scored at once; memory is :math:`O(\text{chunk\_size} \cdot C)`.
            (default: :obj:`1024`)
        queries (torch.Tensor, optional): The query indices to rank (default: all :math:`Q`).

    Returns:
        LongTensor of shape :obj:`[len(queries), k]`: candidate indices, best first, ties broken by lower index.
        Positions beyond the candidates left after exclusion (or beyond :math:`C` when :obj:`k > C`) are
        :obj:`-1`.
    """
    if not isinstance(k, int) or k < 0:
        raise ValueError(f"'k' must be a non-negative integer (got {k!r})")
    _check_chunk(chunk_size)
    ex = None if exclude is None else _parts(exclude, 'exclude')[:2]
    device = ex[0].device if ex is not None else torch.device('cpu')
    queries = _queries(queries, num_queries, device)
    out = []
    for start in range(0, queries.numel(), chunk_size):
        q = queries[start : start + chunk_size]
        scores = _masked_scores(score_fn, q, ex)
        top = _topk_tiebreak(scores, min(k, scores.size(1)))
        if top.size(1) < k:
            top = torch.cat([top, top.new_full((top.size(0), k - top.size(1)), -1)], dim=1)
        out.append(top)
    if not out:
        return torch.empty(0, k, dtype=torch.long, device=device)
    return torch.cat(out, dim=0)
