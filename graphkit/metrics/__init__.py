r"""Evaluation metrics: OGB-exact link-prediction metrics (:mod:`graphkit.metrics.link`)."""
from .link import (
    EVALUATOR_SEMANTICS,
    OGB_EVAL_METRICS,
    Evaluator,
    hits_at_k,
    mrr,
    roc_auc,
)

__all__ = [
    'EVALUATOR_SEMANTICS',
    'OGB_EVAL_METRICS',
    'Evaluator',
    'hits_at_k',
    'mrr',
    'roc_auc',
]