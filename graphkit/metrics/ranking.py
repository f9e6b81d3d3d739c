r"""Full-ranking top-:math:`k` metrics in memory-bounded query chunks.

Every query (a user, or a node for per-node link metrics) is ranked against **all** :math:`C` candidates (items,
or nodes) as :func:`graphkit.ops.topk_full_ranking` ranks them: known candidates (training items, known
neighbours) are masked with :math:`-\infty` through CSR row slices, peak memory is
:math:`O(\text{chunk\_size} \times C)` (on CPU a chunk holds at most :data:`CHUNK_ELEMENTS` scores, so its
temporaries are small enough for the allocator to reuse instead of faulting in fresh pages for each; with a
:obj:`(rowptr, col)` ground truth, whose candidate count is unknown, from the second chunk on), and **ties** are
broken by candidate index, lower index first (ordinal ranks), so results are deterministic.

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
from typing import Callable, Dict, Iterable, Optional

import torch
from torch import Tensor

from graphkit.ops.csr import csr_rows
from graphkit.ops.topk import CSR, _check_chunk, _masked_scores, _parts, _queries, _topk_tiebreak

__all__ = ['ranking_metrics', 'mean_over', 'dot_product_ranking', 'ranking_sums', 'means_from_sums']

#: Scores per query chunk on CPU (queries x candidates). 2^20 float32 scores (4 MiB) keep every
#: temporary of a chunk below the C allocator's mmap threshold; 2,048 ML-1M / Amazon-CDs users per chunk (the
#: official test batch) spent more time in page faults than in the ranking (``benchmarks/ranking_chunks.py``).
CHUNK_ELEMENTS = 1 << 20


def ranking_metrics(
    score_fn: Callable[[Tensor], Tensor],
    truth: CSR,
    ks: Iterable[int],
    exclude: Optional[CSR] = None,
    chunk_size: int = 1024,
    queries: Optional[Tensor] = None,
) -> Dict[str, Tensor]:
    r"""Per-query Recall / Precision / NDCG / Hit / F1 at each :math:`k` and MRR over the full ranking.

    Args:
        score_fn (callable): As in :func:`graphkit.ops.topk_full_ranking`.
        truth (torch.Tensor or (Tensor, Tensor)): Sparse CSR matrix (:math:`Q \times C`) of ground-truth
            candidates (test items); rows may be empty.
        ks (iterable of int): The cut-offs :math:`k`.
        exclude (torch.Tensor or (Tensor, Tensor), optional): Candidates masked before ranking (training
            items); they should be disjoint from :obj:`truth`. (default: :obj:`None`)
        chunk_size (int, optional): Queries scored at once, at most; on CPU also at most
            :data:`CHUNK_ELEMENTS` scores. (default: :obj:`1024`)
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
    parts: Dict[str, list] = {
        key: [] for k in ks for key in (f'recall@{k}', f'precision@{k}', f'ndcg@{k}', f'hit@{k}', f'f1@{k}')
    }
    parts['mrr'] = []

    def capped(num_cand: int) -> int:
        return min(chunk_size, max(1, CHUNK_ELEMENTS // max(num_cand, 1))) if device.type == 'cpu' else chunk_size

    # A CSR tensor knows the candidate count; a (rowptr, col) pair does not: the first chunk then tells.
    start, step = 0, capped(truth.size(1)) if isinstance(truth, Tensor) else chunk_size
    while start < queries.numel():
        q = queries[start : start + step]
        start += q.numel()
        b = q.numel()
        scores = _masked_scores(score_fn, q, ex)
        num_cand = scores.size(1)
        step = capped(num_cand)  # (CUDA's caching allocator reuses its blocks: no cap there)
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
            f1 = torch.where(h > 0, 2 * precision * recall / (precision + recall).clamp(min=1e-12), torch.zeros_like(h))
            for key, val in (
                (f'recall@{k}', recall),
                (f'precision@{k}', precision),
                (f'ndcg@{k}', ndcg),
                (f'hit@{k}', (h > 0).to(torch.float64)),
                (f'f1@{k}', f1),
            ):
                parts[key].append(val.masked_fill(empty, math.nan))
        # MRR: rank of the best ground-truth candidate (highest score, then lowest index) in the full ranking.
        masked = scores.masked_fill(~is_true, float('-inf'))
        best_val = masked.max(1, keepdim=True).values
        best_idx = (masked == best_val).to(torch.int8).argmax(1, keepdim=True)  # first (lowest) index
        cols = torch.arange(num_cand, device=device).view(1, -1)
        ahead = (scores > best_val) | ((scores == best_val) & (cols < best_idx))
        rank = 1 + ahead.sum(1).to(torch.float64)
        parts['mrr'].append((1.0 / rank).masked_fill(empty, math.nan))
    return {
        key: (torch.cat(val) if val else torch.empty(0, dtype=torch.float64, device=device))
        for key, val in parts.items()
    }


def mean_over(per_query: Dict[str, Tensor], denominator: str = 'with_truth', f1: str = 'mean') -> Dict[str, float]:
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
    return _f1_of_means(out) if f1 == 'of_means' else out


def _f1_of_means(out: Dict[str, float]) -> Dict[str, float]:
    """``f1@k`` replaced by :math:`2 \bar P \bar R / (\bar P + \bar R)` of the averaged precision and recall."""
    for key in list(out):
        if key.startswith('f1@'):
            p, r = out[f'precision@{key[3:]}'], out[f'recall@{key[3:]}']
            out[key] = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return out


@torch.no_grad()
def dot_product_ranking(
    user_emb: Tensor,
    item_emb: Tensor,
    truth: CSR,
    exclude: Optional[CSR],
    ks: Iterable[int],
    chunk_size: int = 2048,
    denominator: str = 'all',
) -> Dict[str, float]:
    r"""Full-ranking metrics of dot-product scores :math:`\mathbf{E}_U \mathbf{E}_I^\top` (never materialised:
    :obj:`chunk_size` users at a time), as the recommendation task reports them: Recall / Precision / NDCG / Hit
    per user from :func:`ranking_metrics`, averaged over :obj:`denominator` users (:func:`mean_over`), F1 from
    the averaged precision and recall."""
    per_user = ranking_metrics(lambda q: user_emb[q] @ item_emb.t(), truth, ks, exclude=exclude, chunk_size=chunk_size)
    return mean_over(per_user, denominator, f1='of_means')


def ranking_sums(per_query: Dict[str, Tensor]) -> Tensor:
    r"""The reducible state of :func:`mean_over`: per metric (in the order of :obj:`per_query`) the sum of the
    values of the queries with ground truth, their number and the number of all queries (a float64 tensor of
    shape :obj:`[M, 3]`). States of disjoint query sets add up; :func:`means_from_sums` turns their sum into the
    :func:`mean_over` of the union (sharded evaluation under ``torchrun``)."""
    rows = []
    for val in per_query.values():
        val = val.to(torch.float64)
        ok = ~torch.isnan(val)
        rows.append(torch.stack([val[ok].sum(), ok.sum().to(torch.float64), val.new_tensor(float(val.numel()))]))
    if not rows:
        return torch.zeros(0, 3, dtype=torch.float64)
    return torch.stack(rows)


def means_from_sums(
    keys: Iterable[str], sums: Tensor, denominator: str = 'with_truth', f1: str = 'mean'
) -> Dict[str, float]:
    r""":func:`mean_over` from the (summed) :func:`ranking_sums` of the metrics :obj:`keys`: the sum over the
    queries with ground truth divided by their number (``'with_truth'``) or by the number of all queries
    (``'all'``, queries without ground truth counting 0); F1 of the means with ``f1='of_means'``."""
    if denominator not in ('with_truth', 'all'):
        raise ValueError(f"'denominator' must be 'with_truth' or 'all' (got {denominator!r})")
    if f1 not in ('mean', 'of_means'):
        raise ValueError(f"'f1' must be 'mean' or 'of_means' (got {f1!r})")
    out: Dict[str, float] = {}
    for key, (total, with_truth, everyone) in zip(keys, sums.tolist()):
        count = everyone if denominator == 'all' else with_truth
        out[key] = total / count if count > 0 else math.nan
    return _f1_of_means(out) if f1 == 'of_means' else out
