r"""Correlations and binned means of per-node link-prediction performance against node statistics (degree,
density, TC), as in Section 3 of the `"A Topological Perspective on Demystifying GNN-Based Link Prediction
Performance" <https://arxiv.org/abs/2310.04612>`_ paper.

All functions take 1-D tensors of equal length and ignore positions where either value is ``NaN`` (nodes
without held-out edges have no per-node performance).
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

import torch
from torch import Tensor

__all__ = ['pearson', 'spearman', 'correlations', 'binned_means', 'quantile_binned_means', 'TC_BINS']

#: TC bins of width 0.2: [0, .2), [.2, .4), [.4, .6), [.6, .8), [.8, 1].
TC_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def _pair(x: Tensor, y: Tensor, name: str = 'y') -> tuple:
    x, y = torch.as_tensor(x).double().view(-1).cpu(), torch.as_tensor(y).double().view(-1).cpu()
    if x.numel() != y.numel():
        raise ValueError(f"'x' and '{name}' must have the same length (got {x.numel()} and {y.numel()})")
    ok = ~(torch.isnan(x) | torch.isnan(y))
    return x[ok], y[ok]


def pearson(x: Tensor, y: Tensor) -> float:
    r"""Pearson's :math:`r` over the positions where both are defined (``NaN`` if fewer than 2 or constant)."""
    x, y = _pair(x, y)
    if x.numel() < 2:
        return math.nan
    x, y = x - x.mean(), y - y.mean()
    den = float(x.norm() * y.norm())
    return float((x * y).sum()) / den if den > 0 else math.nan


def _rank(v: Tensor) -> Tensor:
    """Average ranks (ties share the mean of their positions), 1-based."""
    order = torch.argsort(v, stable=True)
    sorted_v = v[order]
    ranks = torch.empty_like(v)
    ranks[order] = torch.arange(1, v.numel() + 1, dtype=v.dtype)
    _, inverse, counts = torch.unique_consecutive(sorted_v, return_inverse=True, return_counts=True)
    sums = torch.zeros(counts.numel(), dtype=v.dtype).index_add_(0, inverse, ranks[order])
    ranks[order] = (sums / counts)[inverse]
    return ranks


def spearman(x: Tensor, y: Tensor) -> float:
    r"""Spearman's :math:`\rho`: Pearson's :math:`r` of the tie-averaged ranks."""
    x, y = _pair(x, y)
    if x.numel() < 2:
        return math.nan
    return pearson(_rank(x), _rank(y))


def correlations(
    stats: Dict[str, Tensor], perf: Dict[str, Tensor], mask: Optional[Tensor] = None
) -> Dict[str, Dict[str, Dict[str, float]]]:
    r"""Pearson and Spearman correlation of every per-node performance metric with every node statistic.

    Args:
        stats (dict): Node statistics, name to tensor of shape :obj:`(N,)`.
        perf (dict): Per-node metrics, name to tensor of shape :obj:`(N,)` (``NaN`` where undefined).
        mask (torch.Tensor, optional): Boolean :obj:`(N,)` of the nodes to use. (default: all)

    Returns:
        ``{metric: {stat: {'pearson': r, 'spearman': rho, 'n': count}}}``.
    """
    out: Dict[str, Dict[str, Dict[str, float]]] = {}
    for m, y in perf.items():
        y = torch.as_tensor(y).double().cpu()
        if mask is not None:
            y = y.masked_fill(~mask.cpu(), math.nan)
        out[m] = {}
        for s, x in stats.items():
            xs, ys = _pair(x, y, m)
            out[m][s] = {'pearson': pearson(xs, ys), 'spearman': spearman(xs, ys), 'n': int(xs.numel())}
    return out


def binned_means(values: Tensor, perf: Tensor, edges: Sequence[float] = TC_BINS) -> List[Dict[str, float]]:
    r"""Mean per-node performance in bins of :obj:`values` with the given edges; bins are half-open
    :math:`[e_b, e_{b+1})` except the last, which is closed. Values outside the edges are dropped.

    Returns:
        a list of ``{'lo', 'hi', 'count', 'mean', 'std'}`` (``mean``/``std`` ``NaN`` for empty bins).
    """
    v, p = _pair(values, perf, 'perf')
    edges = [float(e) for e in edges]
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError(f"'edges' must be at least two increasing numbers (got {edges})")
    out = []
    for b, (lo, hi) in enumerate(zip(edges, edges[1:])):
        last = b == len(edges) - 2
        sel = (v >= lo) & ((v <= hi) if last else (v < hi))
        q = p[sel]
        out.append(
            {
                'lo': lo,
                'hi': hi,
                'count': int(q.numel()),
                'mean': float(q.mean()) if q.numel() else math.nan,
                'std': float(q.std()) if q.numel() > 1 else math.nan,
            }
        )
    return out


def quantile_binned_means(values: Tensor, perf: Tensor, num_bins: int = 5) -> List[Dict[str, float]]:
    r"""Mean per-node performance in :obj:`num_bins` quantile bins of :obj:`values` (e.g. degree); duplicate
    quantiles (many nodes of equal degree) are merged, so fewer bins may come back."""
    if not isinstance(num_bins, int) or num_bins < 1:
        raise ValueError(f"'num_bins' must be a positive integer (got {num_bins!r})")
    v, _ = _pair(values, perf, 'perf')
    if v.numel() == 0:
        return []
    qs = torch.quantile(v, torch.linspace(0, 1, num_bins + 1, dtype=v.dtype))
    edges = torch.unique(qs).tolist()
    if len(edges) == 1:
        edges = [edges[0], edges[0] + 1.0]
    return binned_means(values, perf, edges)
