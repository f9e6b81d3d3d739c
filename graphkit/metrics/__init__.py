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

from graphkit.ops.topk import topk_full_ranking  # noqa: E402  (re-export: the op lives in graphkit.ops)

from .ranking import mean_over, ranking_metrics  # noqa: E402

__all__ += ['mean_over', 'ranking_metrics', 'topk_full_ranking']

# Topological concentration and per-node link metrics (TC analysis)
from .node_link import DEFAULT_NODE_KS, node_link_metrics, split_node_link_metrics  # noqa: E402
from .topology import (  # noqa: E402
    approximate_tc,
    default_beta,
    node_degree,
    subgraph_density,
    topological_concentration,
    weighted_tc,
)

__all__ += [
    'DEFAULT_NODE_KS',
    'node_link_metrics',
    'split_node_link_metrics',
    'approximate_tc',
    'default_beta',
    'node_degree',
    'subgraph_density',
    'topological_concentration',
    'weighted_tc',
]
