r"""Matplotlib figures of the TC analysis, written as PNG files with the non-interactive Agg backend."""

from __future__ import annotations

import math
import os
from typing import Dict, List, Optional, Sequence

from torch import Tensor

__all__ = ['plot_binned', 'plot_shift', 'plot_scatter']


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


def plot_binned(
    binned: Dict[str, List[Dict[str, float]]], path: str, metric: str = 'performance', title: Optional[str] = None
) -> str:
    r"""One panel per statistic: mean per-node performance per bin (bar heights), with node counts."""
    plt = _pyplot()
    names = list(binned)
    fig, axes = plt.subplots(1, max(len(names), 1), figsize=(4.2 * max(len(names), 1), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names):
        rows = binned[name]
        labels = [f'[{r["lo"]:.3g}, {r["hi"]:.3g}{"]" if k == len(rows) - 1 else ")"}' for k, r in enumerate(rows)]
        means = [0.0 if math.isnan(r['mean']) else r['mean'] for r in rows]
        bars = ax.bar(range(len(rows)), means, color='tab:blue')
        for bar, r in zip(bars, rows):
            ax.annotate(
                f'n={r["count"]}',
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha='center',
                va='bottom',
                fontsize=7,
            )
        ax.set_xticks(range(len(rows)), labels, rotation=35, ha='right', fontsize=7)
        ax.set_xlabel(name)
        ax.set_ylabel(f'mean {metric}')
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_shift(
    tc_train: Tensor, tc_other: Dict[str, Tensor], has_other: Dict[str, Tensor], path: str, title: Optional[str] = None
) -> str:
    r"""Histograms of :math:`TC^{Train}` and :math:`TC^{Val/Test}` over the nodes with such edges."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(tc_other), figsize=(4.5 * len(tc_other), 3.4), squeeze=False)
    bins = [i / 20 for i in range(21)]
    for ax, (name, tc) in zip(axes[0], tc_other.items()):
        mask = has_other[name].cpu()
        ax.hist(tc_train.cpu()[mask].numpy(), bins=bins, alpha=0.6, label='TC^Train')
        ax.hist(tc.cpu()[mask].numpy(), bins=bins, alpha=0.6, label=f'TC^{name}')
        ax.set_xlabel('TC (K=1)')
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
) -> str:
    r"""Scatter plots of per-node performance against each statistic (NaN nodes left out)."""
    plt = _pyplot()
    names = list(names or stats)
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.2), squeeze=False)
    ok = ~perf.isnan()
    for ax, name in zip(axes[0], names):
        ax.scatter(stats[name].cpu()[ok.cpu()].numpy(), perf.cpu()[ok].numpy(), s=4, alpha=0.4)
        ax.set_xlabel(name)
        ax.set_ylabel(metric)
    return _save(fig, path)
