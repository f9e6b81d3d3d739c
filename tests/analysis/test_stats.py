"""Correlations, binning and the distribution shift against scipy and hand-computed values."""

import math

import pytest
import torch
from scipy import stats as sps

from graphkit.analysis import (
    TC_BINS,
    binned_means,
    correlations,
    distribution_shift,
    pearson,
    quantile_binned_means,
    spearman,
)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_pearson_spearman_match_scipy(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 6, (200,), generator=g).double()  # many ties
    y = x + torch.randn(200, generator=g, dtype=torch.float64)
    y[::17] = math.nan
    ok = ~y.isnan()
    assert pearson(x, y) == pytest.approx(sps.pearsonr(x[ok], y[ok])[0], abs=1e-10)
    assert spearman(x, y) == pytest.approx(sps.spearmanr(x[ok], y[ok])[0], abs=1e-10)


def test_degenerate_correlations_are_nan():
    assert math.isnan(pearson(torch.ones(5), torch.arange(5.0)))
    assert math.isnan(spearman(torch.tensor([1.0]), torch.tensor([2.0])))
    with pytest.raises(ValueError, match="'x' and 'y'"):
        pearson(torch.ones(3), torch.ones(4))


def test_correlations_table_and_mask():
    x = torch.arange(10.0)
    perf = {'mrr': x * 2, 'hit@10': -x}
    out = correlations({'tc': x}, perf, mask=x < 5)
    assert out['mrr']['tc']['pearson'] == pytest.approx(1.0)
    assert out['hit@10']['tc']['spearman'] == pytest.approx(-1.0)
    assert out['mrr']['tc']['n'] == 5


def test_binned_means_by_hand():
    tc = torch.tensor([0.0, 0.1, 0.2, 0.5, 0.99, 1.0, math.nan])
    perf = torch.tensor([1.0, 3.0, 5.0, 7.0, 2.0, 4.0, 9.0])
    rows = binned_means(tc, perf, TC_BINS)
    assert [r['count'] for r in rows] == [2, 1, 1, 0, 2]
    assert rows[0]['mean'] == 2.0 and rows[4]['mean'] == 3.0 and math.isnan(rows[3]['mean'])
    with pytest.raises(ValueError, match="'edges'"):
        binned_means(tc, perf, [0.5, 0.1])


def test_quantile_bins_merge_duplicates():
    deg = torch.tensor([1.0] * 8 + [2.0, 3.0, 4.0, 5.0])
    rows = quantile_binned_means(deg, torch.arange(12.0), num_bins=4)
    assert sum(r['count'] for r in rows) == 12
    assert len(rows) < 4 + 1


def test_distribution_shift_by_hand():
    tr = torch.tensor([0.5, 0.4, 0.9, 0.0])
    te = torch.tensor([0.2, 0.6, 0.3, 0.0])
    has = torch.tensor([True, True, True, False])
    perf = torch.tensor([0.1, 0.9, 0.2, math.nan])
    out = distribution_shift(tr, {'test': te}, {'test': has}, perf)['test']
    assert out['num_nodes'] == 3
    assert out['mean_gap'] == pytest.approx((0.3 - 0.2 + 0.6) / 3)
    assert out['frac_lower'] == pytest.approx(2 / 3)
    assert out['pearson_gap_vs_perf'] < 0
