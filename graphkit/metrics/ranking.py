r"""Full-ranking top-:math:`k` metrics in memory-bounded query chunks.

Every query (a user, or a node for per-node link metrics) is ranked against **all** :math:`C` candidates (items,
or nodes). Known candidates (training items, known neighbours) are masked with :math:`-\infty` through CSR row
slices before the top-:math:`k`, as in the official UltraGCN / LightGCN evaluation and RecBole's
``_full_sort_batch_eval``, but without the dense :math:`Q \times C` mask those build: peak memory is
:math:`O(\text{chunk\_size} \times C)`.

**Ties** are broken by candidate index, lower index first (ordinal ranks): results are deterministic and do not
depend on :func:`torch.topk`'s internal order.

**Metrics** (binary relevance, per query :math:`q` with ground truth :math:`T_q` and ranked list
:math:`r_1, r_2, \dots`):

.. math::
    \mathrm{Recall@}k = \frac{|\{r_{1..k}\} \cap T_q|}{|T_q|}, \quad
    \mathrm{Precision@}k = \frac{|\{r_{1..k}\} \cap T_q|}{k}, \quad
    \mathrm{NDCG@}k = \frac{\sum_{p=1}^{k} [r_p \in T_q] / \log_2(p + 1)}
                          {\sum_{p=1}^{\min(k, |T_q|)} 1 / \log_2(p + 1)}

``hit@k`` is :math:`[\,|\{r_{1..k}\} \cap T_q| > 0\,]`, ``f1@k`` the per-query :math:`2PR / (P + R)` (0 when
both are 0) and ``mrr`` is :math:`1 / \mathrm{rank}` of the best-ranked ground-truth candidate in the **full**
ranking (after exclusion). Precision divides by :math:`k` even when fewer than :math:`k` candidates remain.

**Denominators.** Queries without ground truth get ``NaN`` in every per-query tensor; :func:`mean_over` then
averages either over the queries *with* ground truth (``'with_truth'``, PyG's ``LinkPredRecall``) or over *all*
queries counting them as 0 (``'all'``, the official UltraGCN / LightGCN code). The official F1 is computed from
the averaged precision and recall (``f1='of_means'``), not as the mean of per-query F1 (``f1='mean'``).
"""
from __future__ import annotations

import math
from typing import Callable, Dict, Iterable, Optional, Tuple, Union

import torch
from torch import Tensor

__all__ = ['topk_full_ranking', 'ranking_metrics', 'mean_over', 'csr_rows']

CSR = Union[Tensor, Tuple[Tensor, Tensor]]


def _parts(csr: CSR, name: str) -> Tuple[Tensor, Tensor, int]:
    """``(rowptr, col, num_rows)`` of a torch sparse CSR tensor or a ``(rowptr, col)`` pair."""
    if isinstance(csr, Tensor):
        if csr.layout != torch.sparse_csr:
            raise ValueError(f"'{name}' must be a torch sparse CSR tensor or a (rowptr, col) pair "
                             f'(got layout {csr.layout})')
        return csr.crow_indices().long(), csr.col_indices().long(), csr.size(0)
    if isinstance(csr, (tuple, list)) and len(csr) == 2:
        rowptr, col = (torch.as_tensor(t).long() for t in csr)
        if rowptr.dim() != 1 or rowptr.numel() < 1 or col.dim() != 1:
            raise ValueError(f"'{name}' must be a (rowptr, col) pair of 1-D tensors")
        return rowptr, col, rowptr.numel() - 1
    raise ValueError(f"'{name}' must be a torch sparse CSR tensor or a (rowptr, col) pair "
                     f'(got {type(csr).__name__})')


def csr_rows(rowptr: Tensor, col: Tensor, rows: Tensor) -> Tuple[Tensor, Tensor]:
    r"""The entries of :obj:`rows` of a CSR matrix as ``(local_row, col)``, where ``local_row`` indexes
    :obj:`rows` (vectorised row slicing, no Python loop)."""
    start, end = rowptr[rows], rowptr[rows + 1]
    count = end - start
    local = torch.repeat_interleave(torch.arange(rows.numel(), device=rows.device), count)
    offset = torch.arange(local.numel(), device=rows.device) - torch.repeat_interleave(
        count.cumsum(0) - count, count)
    return local, col[start[local] + offset]


def _queries(queries: Optional[Tensor], num_queries: int, device: torch.device) -> Tensor:
    if queries is None:
        return torch.arange(num_queries, device=device)
    queries = torch.as_tensor(queries, device=device).long().view(-1)
    if queries.numel() and (int(queries.min()) < 0 or int(queries.max()) >= num_queries):
        raise ValueError(f"'queries' must hold indices in [0, {num_queries}) (got range "
                         f'[{int(queries.min())}, {int(queries.max())}])')
    return queries


def _check_chunk(chunk_size: int) -> None:
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"'chunk_size' must be a positive integer (got {chunk_size!r})")


def _masked_scores(score_fn: Callable[[Tensor], Tensor], q: Tensor,
                   exclude: Optional[Tuple[Tensor, Tensor]]) -> Tensor:
    scores = score_fn(q)
    if scores.dim() != 2 or scores.size(0) != q.numel():
        raise ValueError(f"'score_fn' must return a tensor of shape [{q.numel()}, num_candidates] "
                         f'(got {tuple(scores.shape)})')
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
    kth = scores.topk(k, dim=1, sorted=True).values[:, -1:]          # the k-th largest value per row
    take = scores >= kth
    excess = (take.sum(1) > k).nonzero().view(-1)                    # rows with ties across the cut
    if excess.numel():
        sub = scores[excess]
        equal = sub == kth[excess]
        need = k - (sub > kth[excess]).sum(1, keepdim=True)          # ties to take, lowest index first
        take[excess] = (sub > kth[excess]) | (equal & (equal.cumsum(1) <= need))
    idx = take.nonzero()[:, 1].view(b, k)                             # column indices, ascending per row
    val = scores.gather(1, idx)
    order = torch.sort(val, dim=1, descending=True, stable=True).indices
    idx = idx.gather(1, order)
    return idx.masked_fill(scores.gather(1, idx) == float('-inf'), -1)


def topk_full_ranking(score_fn: Callable[[Tensor], Tensor], num_queries: int, k: int,
                      exclude: Optional[CSR] = None, chunk_size: int = 1024,
                      queries: Optional[Tensor] = None) -> Tensor:
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
        q = queries[start:start + chunk_size]
        scores = _masked_scores(score_fn, q, ex)
        top = _topk_tiebreak(scores, min(k, scores.size(1)))
        if top.size(1) < k:
            top = torch.cat([top, top.new_full((top.size(0), k - top.size(1)), -1)], dim=1)
        out.append(top)
    if not out:
        return torch.empty(0, k, dtype=torch.long, device=device)
    return torch.cat(out, dim=0)


def ranking_metrics(score_fn: Callable[[Tensor], Tensor], truth: CSR, ks: Iterable[int],
                    exclude: Optional[CSR] = None, chunk_size: int = 1024,
                    queries: Optional[Tensor] = None) -> Dict[str, Tensor]:
    r"""Per-query Recall / Precision / NDCG / Hit / F1 at each :math:`k` and MRR over the full ranking.

    Args:
        score_fn (callable): As in :func:`topk_full_ranking`.
        truth (torch.Tensor or (Tensor, Tensor)): Sparse CSR matrix (:math:`Q \times C`) of ground-truth
            candidates (test items); rows may be empty.
        ks (iterable of int): The cut-offs :math:`k`.
        exclude (torch.Tensor or (Tensor, Tensor), optional): Candidates masked before ranking (training
            items); they should be disjoint from :obj:`truth`. (default: :obj:`None`)
        chunk_size (int, optional): Queries scored at once. (default: :obj:`1024`)
        queries (torch.Tensor, optional): The query indices to evaluate (default: all :math:`Q`).

    Returns:
        dict of float tensors of shape :obj:`[len(queries)]`: ``'recall@k'``, ``'precision@k'``, ``'ndcg@k'``,
        ``'hit@k'``, ``'f1@k'`` for every :math:`k` and ``'mrr'``; ``NaN`` for queries without ground truth.
    """
    ks = sorted(set(int(k) for k in ks))
    if not ks or ks[0] < 1:
        raise ValueError(f"'ks' must hold positive integers (got {ks})")
    _check_chunk(chunk_size)
    t_rowptr, t_col, num_queries = _parts(truth, 'truth')
    ex = None
    if exclude is not None:
        ex_rowptr, ex_col, ex_rows = _parts(exclude, 'exclude')
        if ex_rows != num_queries:
            raise ValueError(f"'exclude' has {ex_rows} rows but 'truth' has {num_queries}")
        ex = (ex_rowptr.to(t_rowptr.device), ex_col.to(t_rowptr.device))
    device = t_rowptr.device
    queries = _queries(queries, num_queries, device)
    kmax = ks[-1]
    discount = 1.0 / torch.log2(torch.arange(2, kmax + 2, device=device, dtype=torch.float64))
    idcg_table = torch.cat([discount.new_zeros(1), discount.cumsum(0)])  # idcg_table[m] = Σ_{p<m} discount
    parts: Dict[str, list] = {key: [] for k in ks for key in
                              (f'recall@{k}', f'precision@{k}', f'ndcg@{k}', f'hit@{k}', f'f1@{k}')}
    parts['mrr'] = []
    for start in range(0, queries.numel(), chunk_size):
        q = queries[start:start + chunk_size]
        b = q.numel()
        scores = _masked_scores(score_fn, q, ex)
        num_cand = scores.size(1)
        local, c = csr_rows(t_rowptr, t_col, q)
        if c.numel() and int(c.max()) >= num_cand:
            raise ValueError(f"'truth' holds candidate {int(c.max())} but 'score_fn' returns {num_cand} columns")
        is_true = torch.zeros(b, num_cand, dtype=torch.bool, device=device)
        is_true[local, c] = True
        n_true = torch.bincount(local, minlength=b).to(torch.float64)
        top = _topk_tiebreak(scores, min(kmax, num_cand))
        valid = top >= 0
        hits = is_true.gather(1, top.clamp(min=0)) & valid
        if hits.size(1) < kmax:
            hits = torch.cat([hits, hits.new_zeros(b, kmax - hits.size(1))], dim=1)
        hits = hits.to(torch.float64)
        empty = n_true == 0
        denom = n_true.clamp(min=1)
        for k in ks:
            h = hits[:, :k].sum(1)
            recall, precision = h / denom, h / k
            dcg = (hits[:, :k] * discount[:k]).sum(1)
            idcg = idcg_table[n_true.clamp(max=k).long()]
            ndcg = dcg / idcg.clamp(min=1e-12)
            f1 = torch.where(h > 0, 2 * precision * recall / (precision + recall).clamp(min=1e-12),
                             torch.zeros_like(h))
            for key, val in ((f'recall@{k}', recall), (f'precision@{k}', precision), (f'ndcg@{k}', ndcg),
                             (f'hit@{k}', (h > 0).to(torch.float64)), (f'f1@{k}', f1)):
                parts[key].append(val.masked_fill(empty, math.nan))
        # MRR: rank of the best ground-truth candidate (highest score, then lowest index) in the full ranking.
        masked = scores.masked_fill(~is_true, float('-inf'))
        best_val = masked.max(1, keepdim=True).values
        best_idx = (masked == best_val).to(torch.int8).argmax(1, keepdim=True)  # first (lowest) index
        cols = torch.arange(num_cand, device=device).view(1, -1)
        ahead = (scores > best_val) | ((scores == best_val) & (cols < best_idx))
        rank = 1 + ahead.sum(1).to(torch.float64)
        parts['mrr'].append((1.0 / rank).masked_fill(empty, math.nan))
    return {key: (torch.cat(val) if val else torch.empty(0, dtype=torch.float64, device=device))
            for key, val in parts.items()}


def mean_over(per_query: Dict[str, Tensor], denominator: str = 'with_truth',
              f1: str = 'mean') -> Dict[str, float]:
    r"""Average the per-query metrics of :func:`ranking_metrics`.

    Args:
        per_query (dict): Per-query tensors (``NaN`` for queries without ground truth).
        denominator (str, optional): ``'with_truth'`` averages over queries with ground truth (PyG's
            ``LinkPredRecall``); ``'all'`` over all queries, counting those without as 0 (the official
            UltraGCN / LightGCN code). (default: :obj:`'with_truth'`)
        f1 (str, optional): ``'mean'``: ``f1@k`` is the mean of per-query F1; ``'of_means'``:
            :math:`2 \bar P \bar R / (\bar P + \bar R)` from the averaged precision and recall (the official
            UltraGCN code). (default: :obj:`'mean'`)
    """
    if denominator not in ('with_truth', 'all'):
        raise ValueError(f"'denominator' must be 'with_truth' or 'all' (got {denominator!r})")
    if f1 not in ('mean', 'of_means'):
        raise ValueError(f"'f1' must be 'mean' or 'of_means' (got {f1!r})")
    out: Dict[str, float] = {}
    for key, val in per_query.items():
        val = val.to(torch.float64)
        if denominator == 'all':
            out[key] = float(torch.nan_to_num(val, nan=0.0).mean()) if val.numel() else math.nan
        else:
            ok = ~torch.isnan(val)
            out[key] = float(val[ok].mean()) if bool(ok.any()) else math.nan
    if f1 == 'of_means':
        for key in list(out):
            if key.startswith('f1@'):
                p, r = out[f'precision@{key[3:]}'], out[f'recall@{key[3:]}']
                out[key] = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return out
