r"""Link-prediction analysis: per-node performance against topological concentration, degree and density;
correlations, binning, the topological distribution shift, TC-guided edge reweighting and plots. Cluster analysis:
2-D projections of a clustering and its matched confusion matrix."""

from graphkit.analysis import growth, pairs  # noqa: F401  (per-pair buckets; the growing-graph generator)
from graphkit.analysis.clusters import analyze_clusters, plot_confusion, plot_embedding, project_2d
from graphkit.analysis.report import DEFAULT_REPORT_METRICS, analyze_tc, format_report, node_statistics
from graphkit.analysis.reweight import TCReweighter, use_given_weights
from graphkit.analysis.shift import distribution_shift
from graphkit.analysis.stats import TC_BINS, binned_means, correlations, pearson, quantile_binned_means, spearman

__all__ = [
    'pairs',
    'growth',
    'analyze_tc',
    'format_report',
    'node_statistics',
    'DEFAULT_REPORT_METRICS',
    'TCReweighter',
    'use_given_weights',
    'distribution_shift',
    'TC_BINS',
    'binned_means',
    'quantile_binned_means',
    'correlations',
    'pearson',
    'spearman',
    'analyze_clusters',
    'plot_embedding',
    'plot_confusion',
    'project_2d',
]
