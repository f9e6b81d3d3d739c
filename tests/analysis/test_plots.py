"""The TC analysis plots: Pearson r and Spearman rho in each panel's title (equal to the stats module's), degree
on a log axis, binned means with standard-error bars (checked against numpy), and no two text labels of
different panels overlapping (their rendered boxes)."""

import math

import numpy as np
import pytest
import torch

from graphkit.analysis import plots
from graphkit.analysis.plots import log_bin_edges, plot_binned, plot_scatter, plot_shift, standard_error
from graphkit.analysis.stats import TC_BINS, binned_means, pearson, quantile_binned_means, spearman


@pytest.fixture
def figures(monkeypatch):
    """Keep each figure open (the real _save closes it) so that the test can read its artists."""
    kept = []
    save = plots._save

    def keep(fig, path):
        fig.canvas.draw()
        kept.append(fig)
        return save.__wrapped__(fig, path) if hasattr(save, '__wrapped__') else _write(fig, path)

    def _write(fig, path):
        fig.savefig(path, dpi=60)
        return path

    monkeypatch.setattr(plots, '_save', keep)
    yield kept
    import matplotlib.pyplot as plt

    for fig in kept:
        plt.close(fig)


def _data(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    degree = torch.randint(0, 60, (n,), generator=g).double() ** 1.3 // 4
    tc = torch.rand(n, generator=g, dtype=torch.float64)
    perf = (0.5 * tc + 0.1 * torch.rand(n, generator=g, dtype=torch.float64)).clamp(0, 1)
    perf[:7] = float('nan')  # nodes without held-out edges
    stats = {'degree_train': degree, 'density': torch.rand(n, generator=g, dtype=torch.float64), 'tc_test': tc,
             'tc_train': tc.flip(0), 'atc_test': tc - 0.2}  # fmt: skip
    return stats, perf


def _texts(ax):
    """The title, axis labels and the tick labels that are drawn (ticks inside the view limits)."""
    out = [ax.title, ax.xaxis.label, ax.yaxis.label]
    for axis, (lo, hi) in ((ax.xaxis, sorted(ax.get_xlim())), (ax.yaxis, sorted(ax.get_ylim()))):
        for tick in axis.get_major_ticks():
            if lo <= tick.get_loc() <= hi and tick.label1.get_visible():
                out.append(tick.label1)
    return [t for t in out if t.get_text()]


def _no_overlap(fig):
    renderer = fig.canvas.get_renderer()
    axes = [ax for ax in fig.axes if ax.get_visible()]
    boxes = [[(t.get_text(), t.get_window_extent(renderer)) for t in _texts(ax)] for ax in axes]
    for i in range(len(axes)):
        for j in range(i + 1, len(axes)):
            for ta, a in boxes[i]:
                for tb, b in boxes[j]:
                    assert not a.overlaps(b), f'panel {i} {ta!r} overlaps panel {j} {tb!r}'


def test_scatter_titles_log_degree_and_binned_means(tmp_path, figures):
    stats, perf = _data()
    names = ['degree_train', 'density', 'tc_train', 'tc_test', 'atc_test']
    plot_scatter(stats, perf, str(tmp_path / 'scatter.png'), metric='mrr', names=names, min_count=5)
    assert (tmp_path / 'scatter.png').read_bytes()[:4] == b'\x89PNG'
    fig = figures[0]
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 5 and sum(not ax.get_visible() for ax in fig.axes) == 1  # a 2 x 3 grid
    for ax, name in zip(axes, names):
        r, rho = pearson(stats[name], perf), spearman(stats[name], perf)
        assert ax.get_title() == f'{name}\nr = {r:+.3f}, ρ = {rho:+.3f} (n = 393)'
        assert ax.get_xscale() == ('log' if name == 'degree_train' else 'linear')
    # the binned means of the tc_test panel: equal-width bins, mean and SE = std / sqrt(n) by numpy
    x, y = stats['tc_test'][~perf.isnan()].numpy(), perf[~perf.isnan()].numpy()
    edges = np.linspace(x.min(), x.max(), 9)
    line = axes[3].lines[0]
    got_x, got_y = line.get_data()
    want = []
    for k in range(8):
        sel = (x >= edges[k]) & ((x <= edges[k + 1]) if k == 7 else (x < edges[k + 1]))
        if sel.sum() >= 5:
            want.append(((edges[k] + edges[k + 1]) / 2, y[sel].mean()))
    assert np.allclose(got_x, [w[0] for w in want]) and np.allclose(got_y, [w[1] for w in want])
    assert (
        axes[0].get_xlabel().startswith('degree_train (log scale)\n') and 'nodes at 0 not shown' in axes[0].get_xlabel()
    )
    _no_overlap(fig)


def test_binned_panels_error_bars_and_correlations(tmp_path, figures):
    stats, perf = _data(seed=1)
    binned = {
        'tc_test': binned_means(stats['tc_test'], perf, TC_BINS),
        'degree_train': quantile_binned_means(stats['degree_train'], perf, 5),
    }
    corr = {k: {'pearson': pearson(stats[k], perf), 'spearman': spearman(stats[k], perf), 'n': 393} for k in binned}
    plot_binned(binned, str(tmp_path / 'binned.png'), metric='mrr', title='t', correlations=corr)
    fig = figures[0]
    ax_tc, ax_deg = fig.axes[:2]
    assert ax_tc.get_title().startswith('tc_test\nr = ') and 'ρ = ' in ax_deg.get_title()
    assert ax_deg.get_xscale() == 'log' and ax_tc.get_xscale() == 'linear'
    # the y error bars of the tc panel are the standard errors of the bins
    rows = [r for r in binned['tc_test'] if r['count']]
    segments = [c for c in ax_tc.collections if len(c.get_segments()) == len(rows)]
    spans = sorted(
        [abs(seg[1][1] - seg[0][1]) / 2 for seg in c.get_segments()] for c in segments if c.get_segments()[0][0][0] ==
        c.get_segments()[0][1][0]
    )[0]  # fmt: skip
    se = [r['std'] / math.sqrt(r['count']) for r in rows]
    assert np.allclose(spans, se)
    _no_overlap(fig)
    # without correlations the titles are the names (the report of an older caller)
    plot_binned(binned, str(tmp_path / 'b2.png'))
    assert figures[1].axes[0].get_title() == 'tc_test'


def test_shift_plot(tmp_path, figures):
    stats, _ = _data()
    has = {s: torch.rand(400) > 0.3 for s in ('valid', 'test')}
    plot_shift(stats['tc_train'], {'valid': stats['tc_test'], 'test': stats['tc_test']}, has, str(tmp_path / 's.png'))
    assert figures[0].axes[0].get_title().startswith('valid: ')
    _no_overlap(figures[0])


def test_helpers():
    assert standard_error(2.0, 4) == 1.0 and math.isnan(standard_error(1.0, 1))
    edges = log_bin_edges(torch.tensor([0.0, 1, 2, 3, 10, 100, 1000]), 3)
    assert edges == [1, 10, 100, 1000]
    assert log_bin_edges(torch.zeros(3)) == []
