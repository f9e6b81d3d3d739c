r"""Pair-level link-prediction performance by common-neighbour bucket: how a model does on the test pairs whose
endpoints share no, one, a few or many common neighbours in the training graph.

This is the question behind the `"Neural Common Neighbor with Completion for Link Prediction"
<https://arxiv.org/abs/2302.00890>`_ paper: a common-neighbour heuristic cannot separate pairs with
:math:`|\mathcal{N}(i) \cap \mathcal{N}(j)| = 0` (they all score 0), so whatever a learned model gains there comes
from the representations, not from the count.

For positives :math:`P_b` and negatives :math:`M_b` of bucket :math:`b`, with :math:`\tau_K` the :math:`K`-th
largest score of **all** negatives (OGB's shared-pool Hits@K, a positive tied with :math:`\tau_K` counts as a
miss):

.. math::
    \mathrm{Hits@K}_b = \frac{1}{|P_b|} \sum_{p \in P_b} \mathbb{1}[s_p > \tau_K], \qquad
    \mathrm{Hits@K} = \sum_b \frac{|P_b|}{|P|} \mathrm{Hits@K}_b,

so the difference of two models' Hits@K splits exactly into per-bucket contributions
:math:`\frac{|P_b|}{|P|} (\mathrm{Hits@K}^A_b - \mathrm{Hits@K}^B_b)`. The within-bucket AUC,
:math:`\Pr[s_p > s_n] + \frac{1}{2} \Pr[s_p = s_n]` over :math:`p \in P_b, n \in M_b`, says whether a model
separates positives from negatives that have the *same* common-neighbour bucket (0.5 for the CN heuristic itself).
"""

from __future__ import annotations

import math
from typing import Dict, List, Sequence

import torch
from torch import Tensor

from graphkit.metrics.link import roc_auc

__all__ = [
    'CN_BUCKETS',
    'bucket_labels',
    'cn_buckets',
    'hits_threshold',
    'bucketed_hits',
    'hits_gain_by_bucket',
    'node_pair_hits',
]

#: Lower edges of the common-neighbour buckets: 0, 1, 2-3, 4+.
CN_BUCKETS = (0, 1, 2, 4)


def _check_edges(edges: Sequence[int]) -> List[int]:
    edges = [int(e) for e in edges]
    if not edges or edges[0] != 0 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError(f"'edges' must be increasing integers starting at 0 (got {list(edges)})")
    return edges


def bucket_labels(edges: Sequence[int] = CN_BUCKETS) -> List[str]:
    r"""Readable names of the buckets with lower edges :obj:`edges`: ``['0', '1', '2-3', '4+']`` by default."""
    edges = _check_edges(edges)
    out = []
    for lo, hi in zip(edges, edges[1:] + [None]):
        if hi is None:
            out.append(f'{lo}+')
        elif hi - lo == 1:
            out.append(str(lo))
        else:
            out.append(f'{lo}-{hi - 1}')
    return out


def cn_buckets(counts: Tensor, edges: Sequence[int] = CN_BUCKETS) -> Tensor:
    r"""The bucket index of each common-neighbour count: bucket :math:`b` holds the counts
    :math:`e_b \leq c < e_{b+1}` (the last bucket is open above).

    Args:
        counts (torch.Tensor): Non-negative counts, shape :obj:`(B,)` (*e.g.* :func:`graphkit.ops.cn_count`).
        edges (sequence of int): Lower bucket edges, increasing, starting at 0. (default: :obj:`(0, 1, 2, 4)`)
    """
    edges = _check_edges(edges)
    counts = torch.as_tensor(counts).view(-1)
    if counts.numel() and float(counts.min()) < 0:
        raise ValueError("'counts' must be non-negative")
    bounds = torch.tensor(edges, dtype=torch.float64)
    return torch.searchsorted(bounds, counts.double().cpu(), right=True) - 1


def hits_threshold(neg_score: Tensor, k: int) -> float:
    r"""The Hits@K threshold :math:`\tau_K` of a shared negative pool: its :math:`K`-th largest score, or
    :math:`-\infty` when there are fewer than :math:`K` negatives (every positive is then a hit, as in OGB)."""
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"'k' must be a positive integer (got {k!r})")
    neg = torch.as_tensor(neg_score).double().view(-1)
    if neg.numel() < k:
        return -math.inf
    return float(torch.topk(neg, k).values[-1])


def bucketed_hits(
    pos_score: Tensor,
    neg_score: Tensor,
    pos_counts: Tensor,
    neg_counts: Tensor,
    k: int,
    edges: Sequence[int] = CN_BUCKETS,
) -> List[Dict[str, float]]:
    r"""Hits@K, mean score and within-bucket AUC of the positive and negative test pairs of each
    common-neighbour bucket (see the module docstring for the definitions).

    Args:
        pos_score (torch.Tensor): Scores of the positive pairs, shape :obj:`(P,)`.
        neg_score (torch.Tensor): Scores of the shared negative pool, shape :obj:`(M,)`.
        pos_counts (torch.Tensor): Common-neighbour counts of the positives, shape :obj:`(P,)`.
        neg_counts (torch.Tensor): Common-neighbour counts of the negatives, shape :obj:`(M,)`.
        k (int): The :math:`K` of Hits@K; the threshold comes from all :math:`M` negatives.
        edges (sequence of int): Lower bucket edges. (default: :obj:`(0, 1, 2, 4)`)

    Returns:
        One dict per bucket: ``label``, ``num_pos``, ``num_neg``, ``share_pos`` (:math:`|P_b| / |P|`),
        ``hits`` (:math:`\mathrm{Hits@K}_b`, ``NaN`` without positives), ``neg_above`` (share of the bucket's
        negatives scored above :math:`\tau_K`), ``share_top_neg`` (share of the :math:`K` highest-scored
        negatives that fall in the bucket, ties broken by position), ``mean_pos`` / ``mean_neg`` (mean scores)
        and ``auc`` (within the bucket).
    """
    pos = torch.as_tensor(pos_score).double().view(-1).cpu()
    neg = torch.as_tensor(neg_score).double().view(-1).cpu()
    if pos.numel() != torch.as_tensor(pos_counts).numel():
        raise ValueError(
            f"'pos_score' and 'pos_counts' must have the same length ({pos.numel()} vs "
            f'{torch.as_tensor(pos_counts).numel()})'
        )
    if neg.numel() != torch.as_tensor(neg_counts).numel():
        raise ValueError(
            f"'neg_score' and 'neg_counts' must have the same length ({neg.numel()} vs "
            f'{torch.as_tensor(neg_counts).numel()})'
        )
    if pos.numel() == 0:
        raise ValueError("'pos_score' is empty")
    labels = bucket_labels(edges)
    pb, nb = cn_buckets(pos_counts, edges), cn_buckets(neg_counts, edges)
    tau = hits_threshold(neg, k)
    hit = pos > tau
    top = torch.zeros(neg.numel(), dtype=torch.bool)
    top[torch.argsort(-neg, stable=True)[: min(k, neg.numel())]] = True
    out = []
    for b, label in enumerate(labels):
        p, n = pos[pb == b], neg[nb == b]
        out.append(
            {
                'label': label,
                'num_pos': int(p.numel()),
                'num_neg': int(n.numel()),
                'share_pos': p.numel() / pos.numel(),
                'hits': float(hit[pb == b].double().mean()) if p.numel() else math.nan,
                'neg_above': float((n > tau).double().mean()) if n.numel() else math.nan,
                'share_top_neg': float(top[nb == b].sum()) / max(int(top.sum()), 1),
                'mean_pos': float(p.mean()) if p.numel() else math.nan,
                'mean_neg': float(n.mean()) if n.numel() else math.nan,
                'auc': roc_auc(p, n) if p.numel() and n.numel() else math.nan,  # NaN for an empty side
            }
        )
    return out


def hits_gain_by_bucket(a: List[Dict[str, float]], b: List[Dict[str, float]]) -> List[Dict[str, float]]:
    r"""Split the Hits@K difference of model :obj:`a` over model :obj:`b` (two :func:`bucketed_hits` tables of
    the **same** positives and buckets) into per-bucket contributions
    :math:`\frac{|P_b|}{|P|}(\mathrm{Hits}^a_b - \mathrm{Hits}^b_b)`, which sum to the overall difference.

    Returns:
        One dict per bucket: ``label``, ``share_pos``, ``delta`` (the within-bucket Hits@K difference),
        ``contribution`` and ``fraction`` (of the total difference; ``NaN`` when the total is 0).
    """
    if [r['label'] for r in a] != [r['label'] for r in b] or [r['num_pos'] for r in a] != [r['num_pos'] for r in b]:
        raise ValueError('hits_gain_by_bucket: the two tables must have the same buckets and positives')
    rows = []
    for ra, rb in zip(a, b):
        delta = 0.0 if ra['num_pos'] == 0 else ra['hits'] - rb['hits']
        rows.append(
            {
                'label': ra['label'],
                'share_pos': ra['share_pos'],
                'delta': delta,
                'contribution': ra['share_pos'] * delta,
            }
        )
    total = sum(r['contribution'] for r in rows)
    for r in rows:
        r['fraction'] = r['contribution'] / total if total != 0 else math.nan
    return rows


def node_pair_hits(pos_pairs: Tensor, pos_score: Tensor, neg_score: Tensor, k: int, num_nodes: int) -> Tensor:
    r"""Per-node Hits@K on the evaluation pairs: for each node, the share of its positive pairs (as either end)
    scored above the shared-pool threshold :math:`\tau_K` (the same hits that make up the edge-level Hits@K);
    ``NaN`` for nodes without a positive pair. Cheap where full ranking (:mod:`graphkit.metrics.node_link`) is
    not: it reuses the scores of the evaluation pairs.

    Args:
        pos_pairs (torch.Tensor): Positive pairs, shape :obj:`(2, P)`.
        pos_score (torch.Tensor): Their scores, shape :obj:`(P,)`.
        neg_score (torch.Tensor): Scores of the shared negative pool, shape :obj:`(M,)`.
        k (int): The :math:`K` of Hits@K.
        num_nodes (int): Number of nodes.
    """
    pairs = torch.as_tensor(pos_pairs).long().cpu()
    pos = torch.as_tensor(pos_score).double().view(-1).cpu()
    if pairs.dim() != 2 or pairs.size(0) != 2 or pairs.size(1) != pos.numel():
        raise ValueError(
            f"'pos_pairs' must have shape (2, P) with P = len(pos_score) (got {tuple(pairs.shape)} and {pos.numel()})"
        )
    if pairs.numel() and (int(pairs.min()) < 0 or int(pairs.max()) >= num_nodes):
        raise ValueError(f"'pos_pairs' holds node ids outside [0, {num_nodes})")
    hit = (pos > hits_threshold(neg_score, k)).double()
    ends = pairs.reshape(-1)
    hits = torch.zeros(num_nodes, dtype=torch.float64).index_add_(0, ends, hit.repeat(2))
    count = torch.zeros(num_nodes, dtype=torch.float64).index_add_(0, ends, torch.ones_like(hit).repeat(2))
    return torch.where(count > 0, hits / count.clamp(min=1), torch.full_like(hits, math.nan))
