r"""Evaluation metrics: OGB-exact link metrics, full-ranking metrics, classification metrics, per-node link
metrics and topology (TC, ATC), and the metric names and directions of every task family."""

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

from .ranking import dot_product_ranking, mean_over, ranking_metrics  # noqa: E402

__all__ += ['dot_product_ranking', 'mean_over', 'ranking_metrics', 'topk_full_ranking']

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

# Node / graph classification and the metric names of every task family
from .classification import classification_metrics, f1_scores, regression_metrics  # noqa: E402
from .names import TASK_METRICS, is_better, metric_direction  # noqa: E402

__all__ += [
    'classification_metrics',
    'f1_scores',
    'regression_metrics',
    'TASK_METRICS',
    'is_better',
    'metric_direction',
]

# Clustering against ground-truth classes (graphkit train pamc)
from .clustering import (  # noqa: E402
    adjusted_rand_index,
    cluster_accuracy,
    clustering_metrics,
    contingency_table,
    match_clusters,
    matched_confusion,
    matched_f1,
    normalized_mutual_info,
)

__all__ += [
    'adjusted_rand_index',
    'cluster_accuracy',
    'clustering_metrics',
    'contingency_table',
    'match_clusters',
    'matched_confusion',
    'matched_f1',
    'normalized_mutual_info',
]
