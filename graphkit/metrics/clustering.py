r"""Clustering metrics against ground-truth classes: accuracy after the best one-to-one matching of clusters to
classes (Hungarian algorithm on the rectangular confusion matrix), macro-F1 after that same matching, NMI
(arithmetic normalisation) and ARI, the four numbers of ``graphkit train pamc`` (``acc``, ``f1``, ``nmi``,
``ari``).

Every metric reads the :math:`K_p \times K_c` contingency table :math:`n_{pc}` (nodes in cluster :math:`p` with
class :math:`c`; only labels that occur are rows / columns), built once with :func:`torch.bincount`. Cluster ids
need not be :math:`0 \dots K-1`, and the number of clusters may differ from the number of classes; nothing is
changed in place (the official PamC code overwrites predictions when clusters are missing). NMI and ARI equal
scikit-learn's ``normalized_mutual_info_score`` (``average_method='arithmetic'``) and ``adjusted_rand_score``,
including their conventions for single-cluster labelings.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Tuple

import numpy as np
import torch
from torch import Tensor

__all__ = [
    'contingency_table',
    'match_clusters',
    'cluster_accuracy',
    'matched_f1',
    'normalized_mutual_info',
    'adjusted_rand_index',
    'clustering_metrics',
    'matched_confusion',
]


def _labels(x: Any, name: str) -> Tensor:
    t = torch.as_tensor(x)
    if t.numel() == 0:
        raise ValueError(f"'{name}' must hold at least one node (got an empty {type(x).__name__})")
    if t.dim() != 1 or t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise ValueError(f"'{name}' must be a 1-D tensor or array of integer labels (got {t.dtype}, {tuple(t.shape)})")
    return t.long().cpu()


def contingency_table(pred: Any, target: Any) -> Tuple[Tensor, Tensor, Tensor]:
    r"""``(table, clusters, classes)``: the :math:`K_p \times K_c` :obj:`int64` table :math:`n_{pc}` and the
    sorted cluster and class labels that index its rows and columns.

    Args:
        pred (Tensor or array): Predicted cluster of each node, :math:`[N]` integers.
        target (Tensor or array): True class of each node, :math:`[N]` integers.
    """
    p, t = _labels(pred, 'pred'), _labels(target, 'target')
    if p.numel() != t.numel():
        raise ValueError(f"'pred' and 'target' must have the same length (got {p.numel()} and {t.numel()})")
    clusters, pi = torch.unique(p, return_inverse=True)
    classes, ti = torch.unique(t, return_inverse=True)
    kc = classes.numel()
    table = torch.bincount(pi * kc + ti, minlength=clusters.numel() * kc).view(clusters.numel(), kc)
    return table, clusters, classes


def _hungarian(table: Tensor) -> Tuple[np.ndarray, np.ndarray]:
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment(table.numpy(), maximize=True)


def match_clusters(pred: Any, target: Any) -> Dict[int, int]:
    r"""The one-to-one map cluster :math:`\to` class that maximises the number of matched nodes,
    :math:`\max_{\pi} \sum_p n_{p \pi(p)}` (:func:`scipy.optimize.linear_sum_assignment` on the rectangular
    table). With more clusters than classes the surplus clusters are left out of the map; with fewer, some
    classes get no cluster."""
    table, clusters, classes = contingency_table(pred, target)
    rows, cols = _hungarian(table)
    return {int(clusters[r]): int(classes[c]) for r, c in zip(rows, cols)}


def _acc_f1(table: Tensor) -> Tuple[float, float]:
    rows, cols = _hungarian(table)
    n = int(table.sum())
    matched = table[torch.as_tensor(rows, dtype=torch.long), torch.as_tensor(cols, dtype=torch.long)]
    acc = int(matched.sum()) / n
    # per class c: tp = n_{p c} of its matched cluster p, predicted = |p|, true = |c|; F1 = 2 tp / (|p| + |c|)
    f1 = torch.zeros(table.size(1), dtype=torch.float64)
    cluster_size, class_size = table.sum(1).double(), table.sum(0).double()
    for r, c in zip(rows, cols):
        f1[c] = 2.0 * float(table[r, c]) / float(cluster_size[r] + class_size[c])
    return acc, float(f1.mean())


def cluster_accuracy(pred: Any, target: Any) -> float:
    r"""Clustering accuracy :math:`\frac{1}{N} \max_{\pi} \sum_i [\pi(p_i) = c_i]` over one-to-one maps
    :math:`\pi` from clusters to classes (see :func:`match_clusters`): 1 for a relabelled perfect clustering."""
    return _acc_f1(contingency_table(pred, target)[0])[0]


def matched_f1(pred: Any, target: Any) -> float:
    r"""Macro-F1 over the true classes after the matching of :func:`match_clusters`:
    :math:`\frac{1}{K_c} \sum_c \frac{2\, n_{\pi^{-1}(c) c}}{|\pi^{-1}(c)| + |c|}`, 0 for a class left without a
    cluster (nodes of unmatched clusters count as wrong for every class). Equals scikit-learn's
    ``f1_score(target, matched_pred, labels=classes, average='macro', zero_division=0)``."""
    return _acc_f1(contingency_table(pred, target)[0])[1]


def _entropy(counts: Tensor, n: int) -> float:
    p = counts[counts > 0].double() / n
    return float(-(p * p.log()).sum())


def _nmi(table: Tensor) -> float:
    kp, kc = table.shape
    if kp == kc == 1:  # both labelings put everything together: a perfect match (scikit-learn's convention)
        return 1.0
    n = int(table.sum())
    a, b = table.sum(1).double(), table.sum(0).double()
    nz = table > 0
    nij = table[nz].double()
    outer = (a.view(-1, 1) * b.view(1, -1))[nz]
    mi = max(float((nij / n * (torch.log(nij) + math.log(n) - torch.log(outer))).sum()), 0.0)
    if mi == 0.0:
        return 0.0
    normaliser = max((_entropy(a, n) + _entropy(b, n)) / 2, float(np.finfo(np.float64).eps))
    return mi / normaliser


def normalized_mutual_info(pred: Any, target: Any) -> float:
    r"""Normalised mutual information with the arithmetic mean of the entropies,

    .. math::
        \mathrm{NMI} = \frac{I(P; C)}{\tfrac12 (H(P) + H(C))}, \qquad
        I(P; C) = \sum_{p, c} \frac{n_{pc}}{N} \log \frac{N\, n_{pc}}{n_{p\cdot}\, n_{\cdot c}},

    1 when both labelings have a single label and 0 when :math:`I = 0` otherwise (scikit-learn's conventions)."""
    return _nmi(contingency_table(pred, target)[0])


def _ari(table: Tensor) -> float:
    # ordered pair counts (scikit-learn's pair confusion matrix), in exact Python integers
    n = int(table.sum())
    a, b = table.sum(1), table.sum(0)
    squares = int((table * table).sum())
    same_both = squares - n
    same_pred = int((a * a).sum()) - squares  # pairs in one cluster, different classes
    same_true = int((b * b).sum()) - squares  # pairs in one class, different clusters
    neither = n * n - same_pred - same_true - squares
    if same_pred == 0 and same_true == 0:
        return 1.0
    num = 2 * (same_both * neither - same_true * same_pred)
    den = (same_both + same_true) * (same_true + neither) + (same_both + same_pred) * (same_pred + neither)
    return num / den


def adjusted_rand_index(pred: Any, target: Any) -> float:
    r"""The adjusted Rand index of Hubert and Arabie,

    .. math::
        \mathrm{ARI} = \frac{\sum_{pc} \binom{n_{pc}}{2} - \sum_p \binom{n_{p\cdot}}{2} \sum_c
        \binom{n_{\cdot c}}{2} / \binom{N}{2}}{\tfrac12 \big[\sum_p \binom{n_{p\cdot}}{2} + \sum_c
        \binom{n_{\cdot c}}{2}\big] - \sum_p \binom{n_{p\cdot}}{2} \sum_c \binom{n_{\cdot c}}{2} / \binom{N}{2}},

    computed from pair counts in exact integers; 1 for identical partitions."""
    return _ari(contingency_table(pred, target)[0])


def clustering_metrics(pred: Any, target: Any) -> Dict[str, float]:
    r"""``{'acc', 'nmi', 'ari', 'f1'}`` of the clustering :obj:`pred` against the classes :obj:`target`
    (one contingency table, one matching)."""
    table = contingency_table(pred, target)[0]
    acc, f1 = _acc_f1(table)
    return {'acc': acc, 'nmi': _nmi(table), 'ari': _ari(table), 'f1': f1}


def matched_confusion(pred: Any, target: Any) -> Tuple[Tensor, Tensor, Tensor]:
    r"""``(confusion, classes, clusters)``: the :math:`K_c \times K_p` confusion matrix (rows: classes, columns:
    clusters): matched clusters first, in the order of the classes they match, then unmatched clusters by size.
    When every class has a cluster, the trace over :math:`N` is :func:`cluster_accuracy`."""
    table, clusters, classes = contingency_table(pred, target)
    rows, cols = _hungarian(table)
    by_class = dict(zip(cols.tolist(), rows.tolist()))
    order = [by_class[c] for c in range(classes.numel()) if c in by_class]
    rest = sorted(set(range(clusters.numel())) - set(order), key=lambda r: -int(table[r].sum()))
    order = torch.as_tensor(order + rest, dtype=torch.long)
    return table[order].t().contiguous(), classes, clusters[order]
