r"""``graphkit analyze tc``: node statistics (degree, density, TC, ATC), the per-node link-prediction
performance of a trained run, their correlations, binned means, the topological distribution shift, a
``report.json`` and PNG plots, following Sections 3-4 of the `"A Topological Perspective on Demystifying
GNN-Based Link Prediction Performance" <https://arxiv.org/abs/2310.04612>`_ paper."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Sequence

import torch
from torch import Tensor

from graphkit.analysis.plots import plot_binned, plot_scatter, plot_shift
from graphkit.analysis.shift import distribution_shift
from graphkit.analysis.stats import TC_BINS, binned_means, correlations, quantile_binned_means
from graphkit.io import atomic_write_text
from graphkit.metrics.node_link import DEFAULT_NODE_KS, split_node_link_metrics
from graphkit.metrics.topology import approximate_tc, node_degree, subgraph_density, topological_concentration

__all__ = ['node_statistics', 'analyze_tc', 'format_report', 'DEFAULT_REPORT_METRICS']

#: Per-node metrics correlated in the report (the first one is the headline metric).
DEFAULT_REPORT_METRICS = ('mrr', 'hit@10', 'ndcg@10', 'recall@20')


def _edges(split: Dict[str, Tensor]) -> Tensor:
    if 'edge' not in split:
        raise ValueError(f"TC analysis needs 'edge' arrays in the split dict (got keys {sorted(split)})")
    return split['edge'].t().long()


def node_statistics(
    split_edge: Dict[str, Dict[str, Tensor]], num_nodes: int, *, K: int = 1, atc_dim: int = 256, seed: int = 0
) -> Dict[str, Tensor]:
    r"""Per-node statistics of an OGB split dict: ``degree_train``, ``degree_test``, ``density`` (1-hop ego
    subgraph of the training graph), ``tc_train``, ``tc_valid``, ``tc_test`` (exact, :obj:`K` hops) and
    ``atc_test`` (:func:`approximate_tc`, dimension :obj:`atc_dim`, seeded). Tensors of shape :obj:`(N,)`."""
    train, valid, test = (_edges(split_edge[s]) for s in ('train', 'valid', 'test'))
    return {
        'degree_train': node_degree(train, num_nodes),
        'degree_test': node_degree(test, num_nodes),
        'density': subgraph_density(train, num_nodes),
        'tc_train': topological_concentration(train, None, num_nodes, K=K),
        'tc_valid': topological_concentration(train, valid, num_nodes, K=K),
        'tc_test': topological_concentration(train, test, num_nodes, K=K),
        'atc_test': approximate_tc(train, test, num_nodes, K=K, d=atc_dim, seed=seed),
    }


def _clean(obj: Any) -> Any:
    """JSON-safe copy: NaN / inf become null, tensors become lists."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, Tensor):
        return _clean(obj.tolist())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj


def analyze_tc(
    split_edge: Dict[str, Dict[str, Tensor]],
    num_nodes: int,
    out: str = 'tc_report',
    *,
    dataset: str = '',
    seed: int = 0,
    K: int = 1,
    atc_dim: int = 256,
    model: Optional[torch.nn.Module] = None,
    x: Optional[Tensor] = None,
    adj: Optional[Tensor] = None,
    model_name: Optional[str] = None,
    ks: Iterable[int] = DEFAULT_NODE_KS,
    metrics: Sequence[str] = DEFAULT_REPORT_METRICS,
    num_degree_bins: int = 5,
    chunk_size: int = 64,
    plots: bool = True,
    info: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    r"""Topological-concentration analysis of a link-prediction split, and of a trained link model if given.

    Computes :func:`node_statistics`; the topological distribution shift (:math:`TC^{Train}` vs
    :math:`TC^{Val}` / :math:`TC^{Test}`); and, with :obj:`model`, the per-node test performance of
    :obj:`model` (:func:`~graphkit.metrics.node_link.split_node_link_metrics`: full ranking, train + valid
    neighbours masked), Pearson / Spearman correlations with every statistic, binned means (TC in bins of width
    0.2, degree in quantile bins) and whether :math:`TC^{Test}` correlates more strongly than the training
    degree with the headline metric. Writes ``report.json`` (atomically) and PNG plots into :obj:`out`.

    ``graphkit analyze tc`` (:func:`graphkit.tasks.analyze.analyze_tc_run`) calls this with a dataset and,
    optionally, the best model of a ``graphkit train`` run.

    Args:
        split_edge (dict): OGB-form split dict with ``'edge'`` arrays for train / valid / test.
        num_nodes (int): Number of nodes.
        out (str): Output directory. (default: :obj:`'tc_report'`)
        dataset (str): Dataset name, for the report and plot titles. (default: :obj:`''`)
        seed (int): ATC seed, and recorded split seed. (default: :obj:`0`)
        K (int): Hops of TC / ATC. (default: :obj:`1`)
        atc_dim (int): ATC projection dimension. (default: :obj:`256`)
        model (torch.nn.Module, optional): A trained link model (``encode(x, adj)`` / ``predict(h, adj, pairs)``).
        x (Tensor, optional): Node features for :obj:`model`. (default: :obj:`None`)
        adj (Tensor, optional): The graph :obj:`model` scores test pairs on. (default: :obj:`None`)
        model_name (str, optional): Name of :obj:`model` in the report. (default: :obj:`None`)
        ks (iterable of int): Cut-offs of the per-node metrics. (default: :obj:`(5, 10, 20, 50, 100)`)
        metrics (sequence of str): Per-node metrics to correlate, headline first.
            (default: :obj:`('mrr', 'hit@10', 'ndcg@10', 'recall@20')`)
        num_degree_bins (int): Quantile bins of degree. (default: :obj:`5`)
        chunk_size (int): Query nodes scored at once. (default: :obj:`64`)
        plots (bool): Write PNG plots. (default: :obj:`True`)
        info (dict, optional): Extra fields recorded in the report (*e.g.* the run directory).

    Returns:
        The report dict (also in ``out/report.json``; ``NaN`` written as ``null``).
    """
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if model is not None and adj is None:
        raise ValueError("'analyze_tc' needs 'adj' (the graph the model scores on) when 'model' is given")
    split, n = split_edge, int(num_nodes)
    report: Dict[str, Any] = {'dataset': dataset, 'K': K, 'atc_dim': atc_dim, 'seed': seed, 'num_nodes': n}
    if model is not None:
        report['model'] = model_name or model.__class__.__name__
    report.update(info or {})

    stats = node_statistics(split, n, K=K, atc_dim=atc_dim, seed=seed)
    deg = stats['degree_train']
    has = {s: (node_degree(_edges(split[s]), n) > 0) & (deg > 1) for s in ('valid', 'test')}
    report['node_stats'] = {k: {'mean': float(v.mean()), 'std': float(v.std())} for k, v in stats.items()}

    perf: Dict[str, Tensor] = {}
    if model is not None:
        allm = split_node_link_metrics(model, x, adj, split, 'test', n, ks=ks, chunk_size=chunk_size)
        missing = [m for m in metrics if m not in allm]
        if missing:
            raise ValueError(f"'metrics' {missing} are not computed; known: {sorted(allm)}")
        perf = {m: allm[m].cpu() for m in metrics}
        ok = ~allm['mrr'].isnan()
        report['num_eval_nodes'] = int(ok.sum())
        report['performance'] = {m: float(v[ok].mean()) for m, v in allm.items()}

    headline = metrics[0] if perf else None
    report['shift'] = distribution_shift(
        stats['tc_train'],
        {'valid': stats['tc_valid'], 'test': stats['tc_test']},
        has,
        perf.get(headline) if perf else None,
    )
    files = []
    if plots:
        files.append(
            plot_shift(
                stats['tc_train'],
                {'valid': stats['tc_valid'], 'test': stats['tc_test']},
                has,
                str(out_dir / 'tc_shift.png'),
                title=f'{dataset}: topological distribution shift',
            )
        )
    if perf:
        report['correlations'] = correlations(stats, perf)
        y = perf[headline]
        report['binned'] = {
            'metric': headline,
            'tc_test': binned_means(stats['tc_test'], y, TC_BINS),
            'tc_train': binned_means(stats['tc_train'], y, TC_BINS),
            'degree_train': quantile_binned_means(deg, y, num_degree_bins),
        }
        c = report['correlations'][headline]
        r_tc, r_deg = c['tc_test']['pearson'], c['degree_train']['pearson']
        per_metric = {
            m: abs(report['correlations'][m]['tc_test']['pearson'])
            > abs(report['correlations'][m]['degree_train']['pearson'])
            for m in metrics
        }
        report['claim'] = {
            'statement': 'corr(TC^Test, per-node performance) > corr(degree^Train, per-node performance)',
            'metric': headline,
            'pearson_tc_test': r_tc,
            'pearson_degree_train': r_deg,
            'spearman_tc_test': c['tc_test']['spearman'],
            'spearman_degree_train': c['degree_train']['spearman'],
            'holds': bool(abs(r_tc) > abs(r_deg)),
            'holds_per_metric': per_metric,
        }
        if plots:
            files.append(
                plot_binned(
                    {k: report['binned'][k] for k in ('tc_test', 'tc_train', 'degree_train')},
                    str(out_dir / 'binned.png'),
                    metric=headline,
                    title=f'{dataset} / {report["model"]}: mean {headline} per bin',
                    correlations=report['correlations'][headline],
                )
            )
            files.append(
                plot_scatter(
                    stats,
                    y,
                    str(out_dir / 'scatter.png'),
                    metric=headline,
                    names=['degree_train', 'density', 'tc_train', 'tc_test', 'atc_test'],
                )
            )
    report['plots'] = [os.path.basename(f) for f in files]
    atomic_write_text(out_dir / 'report.json', json.dumps(_clean(report), indent=2, allow_nan=False) + '\n')
    return _clean(report)


def format_report(report: Dict[str, Any]) -> str:
    r"""The correlation table of a report (Pearson, and Spearman for the headline metric), the distribution
    shift and the verdict on TC vs degree, as printed by ``graphkit analyze tc``."""

    def f(v: Optional[float]) -> str:
        return '-' if v is None or (isinstance(v, float) and math.isnan(v)) else f'{v:+.3f}'

    lines = [
        f'TC analysis of {report["dataset"]} (K={report["K"]}, {report["num_nodes"]} nodes, seed {report["seed"]})'
    ]
    shift = report.get('shift', {})
    for name, row in shift.items():
        lines.append(
            f'  shift {name:<5}: mean TC^Train {row["mean_tc_train"]:.3f} vs TC^{name} '
            f'{row[f"mean_tc_{name}"]:.3f} over {row["num_nodes"]} nodes; '
            f'{100 * row["frac_lower"]:.1f}% of them lower'
        )
    if 'correlations' not in report:
        lines.append('  (no run directory: no per-node performance, no correlations)')
        return '\n'.join(lines)
    corr = report['correlations']
    metrics = list(corr)
    head = metrics[0]
    lines.append(
        f'Per-node test performance of {report.get("model")} ({report["num_eval_nodes"]} nodes): '
        + ', '.join(f'{m} {report["performance"][m]:.4f}' for m in metrics)
    )
    lines.append(f'{"statistic":<14}' + ''.join(f'{m:>11}' for m in metrics) + f'{"ρ " + head:>12}')
    for stat in corr[head]:
        lines.append(
            f'{stat:<14}'
            + ''.join(f'{f(corr[m][stat]["pearson"]):>11}' for m in metrics)
            + f'{f(corr[head][stat]["spearman"]):>12}'
        )
    claim = report['claim']
    lines.append(
        f'Pearson r; ρ = Spearman. TC^Test vs degree^Train on {head}: '
        f'{f(claim["pearson_tc_test"])} vs {f(claim["pearson_degree_train"])} -> '
        f'{"TC explains more" if claim["holds"] else "TC does NOT explain more"} '
        f'(holds on {sum(claim["holds_per_metric"].values())}/{len(metrics)} metrics)'
    )
    return '\n'.join(lines)
