r"""Matplotlib figures of the TC analysis, written as PNG files with the non-interactive Agg backend.

Every panel that relates a node statistic to per-node performance names Pearson's :math:`r` and Spearman's
:math:`\rho` in its title (when they are given or can be computed), draws degree on a log scale, and shows
binned means with standard-error bars, :math:`\mathrm{SE} = s / \sqrt{n}` over the :math:`n` nodes of a bin.
Panels are laid out on a grid of at most three columns, with the y-label on the first column only, so that no
axis label runs into its neighbour.
"""

from __future__ import annotations

import math
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor

__all__ = ['plot_binned', 'plot_shift', 'plot_scatter', 'standard_error', 'is_degree', 'log_bin_edges']

#: Panels per row of a figure.
MAX_COLUMNS = 3


def _pyplot():
    import matplotlib

    if matplotlib.get_backend().lower() != 'agg':
        try:
            matplotlib.use('Agg', force=False)
        except Exception:  # noqa: BLE001 - an interactive backend already in use (notebooks): keep it
            pass
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp.png'
    fig.savefig(tmp, dpi=110, bbox_inches='tight')
    os.replace(tmp, path)
    _pyplot().close(fig)
    return path


def is_degree(name: str) -> bool:
    """Whether the statistic :obj:`name` is a degree (drawn on a log scale)."""
    return 'degree' in name.lower()


def standard_error(std: float, count: int) -> float:
    r"""The standard error of a bin's mean, :math:`s / \sqrt{n}` (``NaN`` for fewer than two nodes)."""
    if count < 2 or std is None or std != std:
        return math.nan
    return float(std) / math.sqrt(count)


def log_bin_edges(values: Tensor, num_bins: int = 8) -> List[float]:
    r"""About :obj:`num_bins` log-spaced bin edges over the positive values of :obj:`values` (integer degrees
    get integer edges, merged where they coincide); ``[]`` if no value is positive."""
    v = values[values > 0].double()
    if v.numel() == 0:
        return []
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        return [lo, lo + 1.0]
    edges = torch.logspace(math.log10(lo), math.log10(hi), num_bins + 1, dtype=torch.float64).tolist()
    if bool((v == v.round()).all()):
        edges = sorted({math.floor(edges[0])} | {math.ceil(e) for e in edges[1:]})
    return edges if len(edges) > 1 else [lo, hi]


def _grid(plt, n: int, width: float = 4.2, height: float = 3.5, sharey: bool = True):
    cols = min(max(n, 1), MAX_COLUMNS)
    rows = max(1, math.ceil(n / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(width * cols, height * rows), squeeze=False, sharey=sharey, layout='constrained'
    )
    flat = [ax for row in axes for ax in row]
    fig.get_layout_engine().set(w_pad=0.12, h_pad=0.08)
    for ax in flat[n:]:
        ax.set_visible(False)
    for k, ax in enumerate(flat[:n]):
        if k % cols:  # the shared y-label on the first column only
            ax.tick_params(labelleft=True)
    return fig, flat[:n], cols


def _corr_title(name: str, corr: Optional[Mapping[str, Any]]) -> str:
    if not corr:
        return name
    r, rho = corr.get('pearson'), corr.get('spearman')
    fmt = lambda v: '-' if v is None or v != v else f'{v:+.3f}'  # noqa: E731
    n = corr.get('n')
    return f'{name}\nr = {fmt(r)}, ρ = {fmt(rho)}' + (f' (n = {n})' if n else '')


def _bin_points(rows: Sequence[Mapping[str, float]], log: bool) -> Tuple[List[float], List[float], List[float], list]:
    """x centres, means, standard errors and x extents of the non-empty bins (log: geometric centres)."""
    xs, ys, es, spans = [], [], [], []
    for r in rows:
        if not r['count'] or r['mean'] != r['mean']:
            continue
        lo, hi = float(r['lo']), float(r['hi'])
        if log:
            lo = max(lo, 0.5)  # a bin starting at degree 0 is drawn from 0.5 on the log axis
            x = math.sqrt(lo * max(hi, lo))
        else:
            x = (lo + hi) / 2
        xs.append(x)
        ys.append(float(r['mean']))
        es.append(standard_error(r.get('std', math.nan), int(r['count'])))
        spans.append((x - lo, max(hi, lo) - x))
    return xs, ys, es, spans


def plot_binned(
    binned: Dict[str, List[Dict[str, float]]],
    path: str,
    metric: str = 'performance',
    title: Optional[str] = None,
    correlations: Optional[Mapping[str, Mapping[str, Any]]] = None,
) -> str:
    r"""One panel per statistic: the mean per-node performance of each bin (the horizontal bar spans the bin)
    with its standard-error bar and node count; degree on a log axis.

    Args:
        binned (dict): ``{statistic: [{'lo', 'hi', 'count', 'mean', 'std'}, ...]}`` as
            :func:`~graphkit.analysis.stats.binned_means` returns.
        path (str): The PNG file.
        metric (str): Name of the per-node metric (the y-axis).
        title (str, optional): Figure title.
        correlations (dict, optional): ``{statistic: {'pearson', 'spearman', 'n'}}`` (the report's
            ``correlations[metric]``); shown in each panel's title.
    """
    plt = _pyplot()
    names = list(binned)
    fig, axes, _ = _grid(plt, len(names))
    for k, (ax, name) in enumerate(zip(axes, names)):
        log = is_degree(name)
        xs, ys, es, spans = _bin_points(binned[name], log)
        if xs:
            xerr = [[s[0] for s in spans], [s[1] for s in spans]]
            yerr = [0.0 if e != e else e for e in es]
            ax.errorbar(xs, ys, xerr=xerr, yerr=yerr, fmt='o', ms=5, capsize=3, lw=1.2, color='tab:blue')
            counts = [r['count'] for r in binned[name] if r['count'] and r['mean'] == r['mean']]
            for x, y, e, n in zip(xs, ys, yerr, counts):  # vertical, so that narrow bins' counts do not collide
                ax.annotate(
                    f'n={n}', (x, y + e), xytext=(0, 3), textcoords='offset points', ha='center', va='bottom',
                    rotation=90, fontsize=7,
                )  # fmt: skip
        if log:
            ax.set_xscale('log')
        from_zero = log and any(float(r['lo']) <= 0 < r['count'] for r in binned[name])
        ax.set_xlabel(
            f'{name}{" (log scale)" + (chr(10) + "the bin from 0 drawn from 0.5" if from_zero else "") if log else ""}'
        )
        ax.set_title(_corr_title(name, (correlations or {}).get(name)), fontsize=9)
        ax.grid(alpha=0.3)
        ax.margins(y=0.25)
        if k % MAX_COLUMNS == 0:
            ax.set_ylabel(f'mean {metric} per bin (± SE)')
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_shift(
    tc_train: Tensor, tc_other: Dict[str, Tensor], has_other: Dict[str, Tensor], path: str, title: Optional[str] = None
) -> str:
    r"""Histograms of :math:`TC^{Train}` and :math:`TC^{Val/Test}` over the nodes with such edges, with the
    mean of each as a dashed line."""
    plt = _pyplot()
    fig, axes, _ = _grid(plt, len(tc_other), width=4.5, height=3.4, sharey=False)
    bins = [i / 20 for i in range(21)]
    for k, (ax, (name, tc)) in enumerate(zip(axes, tc_other.items())):
        mask = has_other[name].cpu()
        a, b = tc_train.cpu()[mask].double(), tc.cpu()[mask].double()
        for values, label, color in (
            (a, r'$TC^{\mathrm{Train}}$', 'tab:blue'),
            (b, rf'$TC^{{\mathrm{{{name}}}}}$', 'tab:orange'),
        ):
            ax.hist(values.numpy(), bins=bins, alpha=0.55, label=label, color=color)
            if values.numel():
                ax.axvline(float(values.mean()), color=color, ls='--', lw=1)
        ax.set_title(f'{name}: {int(mask.sum())} nodes (dashed: means)', fontsize=9)
        ax.set_xlabel('TC (K=1)')
        if k == 0:
            ax.set_ylabel('nodes')
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_scatter(
    stats: Dict[str, Tensor],
    perf: Tensor,
    path: str,
    metric: str = 'performance',
    names: Optional[Sequence[str]] = None,
    num_bins: int = 8,
    min_count: int = 5,
) -> str:
    r"""Per-node performance against each statistic: the nodes (faint), binned means with standard-error bars
    (equal-width bins, log-spaced for degree, which is drawn on a log axis without its zero-degree nodes; bins
    of fewer than :obj:`min_count` nodes are not drawn), and
    Pearson's :math:`r` / Spearman's :math:`\rho` over all nodes with a value in each panel's title (NaN nodes
    left out)."""
    from graphkit.analysis.stats import binned_means, pearson, spearman

    plt = _pyplot()
    names = list(names or stats)
    fig, axes, _ = _grid(plt, len(names))
    y_all = perf.detach().double().cpu().view(-1)
    for k, (ax, name) in enumerate(zip(axes, names)):
        x_all = stats[name].detach().double().cpu().view(-1)
        ok = ~(x_all.isnan() | y_all.isnan())
        x, y = x_all[ok], y_all[ok]
        corr = {'pearson': pearson(x, y), 'spearman': spearman(x, y), 'n': int(x.numel())}
        log = is_degree(name)
        hidden = 0
        if log:
            hidden = int((x <= 0).sum())
            x, y = x[x > 0], y[x > 0]
        ax.scatter(x.numpy(), y.numpy(), s=4, alpha=0.25, color='tab:gray', lw=0, label='nodes')
        if x.numel():
            if log:
                edges = log_bin_edges(x, num_bins)
            else:
                lo, hi = float(x.min()), float(x.max())
                edges = (
                    [lo, lo + 1.0] if hi <= lo else torch.linspace(lo, hi, num_bins + 1, dtype=torch.float64).tolist()
                )
            rows = [r for r in binned_means(x, y, edges) if r['count'] >= min_count]
            xs, ys, es, _ = _bin_points(rows, log)
            yerr = [0.0 if e != e else e for e in es]
            label = f'bin mean ± SE (bins of ≥ {min_count} nodes)'
            ax.errorbar(xs, ys, yerr=yerr, fmt='o-', ms=4, capsize=3, lw=1.4, color='tab:red', label=label)
        if log:
            ax.set_xscale('log')
        label = f'{name} (log scale)' + (f'\n{hidden} nodes at 0 not shown' if hidden else '') if log else name
        ax.set_xlabel(label)
        ax.set_title(_corr_title(name, corr), fontsize=9)
        ax.grid(alpha=0.3)
        if k % MAX_COLUMNS == 0:
            ax.set_ylabel(f'per-node {metric}')
    if axes:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc='outside lower center', ncol=len(labels), fontsize=8, frameon=False)
    return _save(fig, path)
