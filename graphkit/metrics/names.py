r"""The metric names each task family reports (keys of ``summary.json``, values in :math:`[0, 1]` unless
named as an error), and whether larger or smaller is better."""

from __future__ import annotations

from typing import Dict, Tuple

__all__ = ['TASK_METRICS', 'metric_direction', 'is_better']

#: Metric keys per task family. Link and recommendation metrics carry a cut-off (``hits@50``, ``recall@20``).
TASK_METRICS: Dict[str, Tuple[str, ...]] = {
    'link': ('hits@K', 'mrr', 'rocauc'),
    'recommend': ('recall@K', 'precision@K', 'ndcg@K', 'f1@K', 'hit@K'),
    'node': ('acc', 'micro_f1', 'macro_f1', 'mean_f1', 'loss'),
    'cluster': ('acc', 'nmi', 'ari', 'f1'),
    'graph': ('acc', 'mae', 'rmse'),
}

#: Metrics where smaller is better; every other metric is maximised.
_MINIMISED = ('loss', 'mae', 'rmse', 'mse')


def metric_direction(name: str) -> str:
    r"""``'min'`` for losses and errors (``loss``, ``mae``, ``rmse``, ``mse``, also as ``valid_loss`` or
    ``mae@...``), ``'max'`` for every other metric (accuracy, F1, Hits@K, MRR, Recall@K, NDCG@K, NMI, ARI)."""
    base = name.lower().partition('@')[0]
    return 'min' if base in _MINIMISED or base.endswith(tuple(f'_{m}' for m in _MINIMISED)) else 'max'


def is_better(score: float, best: float, direction: str) -> bool:
    """Whether :obj:`score` improves on :obj:`best` in :obj:`direction` (a NaN score never does)."""
    if score != score:  # NaN
        return False
    if best != best:
        return True
    return score > best if direction == 'max' else score < best
