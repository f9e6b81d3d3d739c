import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from graphkit.metrics import (
    EVALUATOR_SEMANTICS,
    OGB_EVAL_METRICS,
    Evaluator,
    hits_at_k,
    mrr,
    roc_auc,
)
from graphkit.metrics import link as link_module

ogb_lp = pytest.importorskip('ogb.linkproppred')

SEEDS = list(range(10))  # 10 seeds x 100 random cases each for Hits@K and MRR
CASES_PER_SEED = 100
MODES = ('int', 'float', 'equal')  # small-range integers, continuous, pos copied from neg


@pytest.fixture(scope='module')
def ogb_hits():
    return ogb_lp.Evaluator('ogbl-ppa')


@pytest.fixture(scope='module')
def ogb_mrr():
    return ogb_lp.Evaluator('ogbl-citation2')


@pytest.fixture(scope='module')
def ogb_rocauc():
    return ogb_lp.Evaluator('ogbl-vessel')


def random_pos_neg(rng: np.random.Generator, num_pos: int, neg_shape, mode: str):
    r"""Scores with deliberate ties. ``'equal'`` draws each positive from its negatives' values
    (the whole pool for 1-d negatives, its own row for 2-d ones)."""
    if mode == 'int':
        neg = rng.integers(0, 5, size=neg_shape).astype(np.float32)
        pos = rng.integers(0, 5, size=num_pos).astype(np.float32)
    else:
        neg = rng.standard_normal(size=neg_shape).astype(np.float32)
        pos = rng.standard_normal(size=num_pos).astype(np.float32)
        if mode == 'equal' and neg.size > 0:
            if neg.ndim == 1:
                pos = rng.choice(neg, size=num_pos)
            else:
                pos = neg[np.arange(num_pos), rng.integers(0, neg.shape[1], size=num_pos)]
    return pos, neg


def brute_hits(pos, neg, k: int) -> float:
    neg = sorted(float(v) for v in neg)
    if len(neg) < k:
        return 1.0
    threshold = neg[-k]
    return sum(1 for p in pos if float(p) > threshold) / len(pos)


def brute_ranks(pos, neg):
    ranks = []
    for p, row in zip(pos.tolist(), neg.tolist()):
        greater = sum(1 for v in row if v > p)
        equal = sum(1 for v in row if v == p)
        ranks.append(1 + greater + 0.5 * equal)
    return ranks


def brute_auc(pos, neg) -> Fraction:
    twice = sum(2 * (p > n) + (p == n) for p in pos.tolist() for n in neg.tolist())
    return Fraction(twice, 2 * len(pos) * len(neg))


# Random comparisons with ogb and brute force ---------------------------------------------------


@pytest.mark.parametrize('seed', SEEDS)
def test_hits_matches_ogb_and_brute_force(seed, ogb_hits):
    rng = np.random.default_rng(seed)
    ours = Evaluator('ogbl-ppa')
    for case in range(CASES_PER_SEED):
        k = int(rng.integers(1, 101))
        num_neg = int(rng.integers(0, 160))  # often fewer than k
        num_pos = int(rng.integers(1, 40))
        pos, neg = random_pos_neg(rng, num_pos, num_neg, MODES[case % 3])
        ours.K = ogb_hits.K = k
        expected = brute_hits(pos, neg, k)
        for a, b in ((pos, neg), (torch.from_numpy(pos), torch.from_numpy(neg)), (pos, torch.from_numpy(neg))):
            out = ours.eval({'y_pred_pos': a, 'y_pred_neg': b})
            assert list(out) == [f'hits@{k}']
            assert type(out[f'hits@{k}']) is float
            assert out == ogb_hits.eval({'y_pred_pos': a, 'y_pred_neg': b})
            assert out[f'hits@{k}'] == expected
            assert hits_at_k(a, b, k) == expected


@pytest.mark.parametrize('seed', SEEDS)
def test_mrr_matches_ogb_and_brute_force(seed, ogb_mrr):
    rng = np.random.default_rng(100 + seed)
    ours = Evaluator('ogbl-citation2')
    for case in range(CASES_PER_SEED):
        num_pos, num_neg = int(rng.integers(0, 12)), int(rng.integers(0, 25))
        pos, neg = random_pos_neg(rng, num_pos, (num_pos, num_neg), MODES[case % 3])
        tpos, tneg = torch.from_numpy(pos), torch.from_numpy(neg)
        expected = ogb_mrr.eval({'y_pred_pos': tpos, 'y_pred_neg': tneg})

        out = ours.eval({'y_pred_pos': tpos, 'y_pred_neg': tneg})
        assert out.keys() == expected.keys()
        for key, value in expected.items():
            assert out[key].dtype == torch.float32 and torch.equal(out[key], value)
        assert torch.equal(mrr(tpos, tneg), expected['mrr_list'])

        # ogb 1.3.6 raises TypeError on two numpy arrays; ours returns the same numbers:
        out = ours.eval({'y_pred_pos': pos, 'y_pred_neg': neg})
        for key, value in expected.items():
            assert isinstance(out[key], np.ndarray) and out[key].dtype == np.float32
            assert np.array_equal(out[key], value.numpy())
        assert torch.equal(mrr(pos, neg), expected['mrr_list'])

        ranks = brute_ranks(pos, neg)
        assert out['mrr_list'].tolist() == [float(np.float32(1 / r)) for r in ranks]
        for k in (1, 3, 10):
            assert out[f'hits@{k}_list'].tolist() == [float(r <= k) for r in ranks]


@pytest.mark.parametrize('seed', SEEDS)
def test_rocauc_matches_ogb_and_brute_force(seed, ogb_rocauc):
    rng = np.random.default_rng(200 + seed)
    ours = Evaluator('ogbl-vessel')
    for case in range(30):  # each sklearn call costs milliseconds: 300 cases in total
        num_pos, num_neg = int(rng.integers(1, 30)), int(rng.integers(1, 30))
        pos, neg = random_pos_neg(rng, num_pos, num_neg, MODES[case % 3])
        exact = brute_auc(pos, neg)
        out = ours.eval({'y_pred_pos': pos, 'y_pred_neg': neg})
        assert type(out['rocauc']) is float
        assert out == ogb_rocauc.eval({'y_pred_pos': pos, 'y_pred_neg': neg})
        assert math.isclose(out['rocauc'], exact, rel_tol=1e-12)
        tpos, tneg = torch.from_numpy(pos), torch.from_numpy(neg)
        assert ours.eval({'y_pred_pos': tpos, 'y_pred_neg': tneg}) == out
        # The pure-torch fallback is the exactly rounded pair count.
        assert link_module._roc_auc_torch(torch.from_numpy(pos), torch.from_numpy(neg)) == float(exact)


# Hand-checked tie rules ------------------------------------------------------------------------


def test_hits_tie_with_threshold_is_a_miss():
    neg = torch.tensor([5.0, 4.0, 3.0, 2.0])
    pos = torch.tensor([3.0, 3.5, 6.0, 1.0])
    assert hits_at_k(pos, neg, 3) == 0.5  # threshold 3.0: the tied 3.0 misses
    assert hits_at_k(pos, neg, 1) == 0.25
    assert hits_at_k(pos, neg, 4) == 0.75
    assert hits_at_k(pos, neg, 5) == 1.0  # fewer negatives than K
    assert hits_at_k(torch.empty(0), neg, 5) == 1.0  # ogb returns 1.0 here too


def test_mrr_tie_counts_half():
    pos = torch.tensor([1.0, 1.0, 0.0])
    neg = torch.tensor([[1.0, 0.0], [2.0, 1.0], [0.0, 0.0]])
    out = Evaluator('ogbl-citation2').eval({'y_pred_pos': pos, 'y_pred_neg': neg})
    assert torch.equal(out['mrr_list'], 1 / torch.tensor([1.5, 2.5, 2.0]))
    assert out['hits@1_list'].tolist() == [0.0, 0.0, 0.0]
    assert out['hits@3_list'].tolist() == [1.0, 1.0, 1.0]


def test_mrr_shared_row_broadcasts():
    pos = torch.tensor([3.0, 1.0])
    neg = torch.tensor([[2.0, 1.0]])
    assert torch.equal(mrr(pos, neg), 1 / torch.tensor([1.0, 2.5]))


def test_rocauc_fallback_without_sklearn(monkeypatch):
    pos, neg = torch.tensor([1.0, 2.0, 2.0]), torch.tensor([2.0, 0.0])
    with_sklearn = roc_auc(pos, neg)
    monkeypatch.setattr(link_module, '_has_sklearn', lambda: False)
    assert roc_auc(pos, neg) == roc_auc(pos.numpy(), neg.numpy()) == 4 / 6
    assert math.isclose(with_sklearn, 4 / 6, rel_tol=1e-12)
    with pytest.warns(UserWarning, match='only one class'):
        assert math.isnan(roc_auc(pos, torch.empty(0)))
    with pytest.raises(ValueError, match='NaN'):
        roc_auc(torch.tensor([math.nan]), neg)


def test_mixed_dtypes_match_ogb(ogb_hits, ogb_mrr):
    rng = np.random.default_rng(7)
    pos = torch.from_numpy(rng.integers(0, 4, 20)).to(torch.float64) + 0.1
    neg = torch.from_numpy(rng.integers(0, 4, 200)).to(torch.float32) + 0.1
    ours = Evaluator('ogbl-ppa')
    for k in (1, 20, 100):
        ours.K = ogb_hits.K = k
        for a, b in ((pos, neg), (neg[:20], pos.repeat(10)), (pos.long(), neg)):
            assert ours.eval({'y_pred_pos': a, 'y_pred_neg': b}) == ogb_hits.eval({'y_pred_pos': a, 'y_pred_neg': b})
    out = Evaluator('ogbl-citation2').eval({'y_pred_pos': pos, 'y_pred_neg': neg.view(20, 10)})
    expected = ogb_mrr.eval({'y_pred_pos': pos, 'y_pred_neg': neg.view(20, 10)})
    assert all(torch.equal(out[key], expected[key]) for key in expected)


# Interface -------------------------------------------------------------------------------------


@pytest.mark.parametrize('name', list(OGB_EVAL_METRICS))
def test_evaluator_interface(name):
    ours, theirs = Evaluator(name), ogb_lp.Evaluator(name)
    assert ours.eval_metric == theirs.eval_metric == OGB_EVAL_METRICS[name]
    assert hasattr(ours, 'K') == hasattr(theirs, 'K')
    if hasattr(ours, 'K'):
        assert ours.K == theirs.K
        ours.K = 7
        assert "'hits@7'" in ours.expected_output_format
    assert name in ours.expected_input_format and 'y_pred_neg' in ours.expected_input_format
    assert name in ours.expected_output_format
    assert str(ours) == f"Evaluator(name='{name}')"
    assert EVALUATOR_SEMANTICS == 'ogb-1.3.6'


def test_metric_names():
    assert OGB_EVAL_METRICS['ogbl-ddi'] == 'hits@20'
    assert OGB_EVAL_METRICS['ogbl-collab'] == 'hits@50'
    assert OGB_EVAL_METRICS['ogbl-ppa'] == 'hits@100'
    assert OGB_EVAL_METRICS['ogbl-vessel'] == 'rocauc'
    for name in ('ogbl-citation2', 'ogbl-wikikg2', 'ogbl-biokg'):
        assert OGB_EVAL_METRICS[name] == 'mrr'


# Errors ----------------------------------------------------------------------------------------


def test_unknown_name():
    with pytest.raises(ValueError, match="Unknown dataset name 'ogbl-foo'.*ogbl-collab"):
        Evaluator('ogbl-foo')


@pytest.mark.parametrize('name', ['ogbl-ppa', 'ogbl-citation2', 'ogbl-vessel'])
def test_bad_input(name):
    ev = Evaluator(name)
    neg = torch.rand(4, 3) if ev.eval_metric == 'mrr' else torch.rand(12)
    pos = torch.rand(4)
    with pytest.raises(ValueError, match="missing the key 'y_pred_neg'"):
        ev.eval({'y_pred_pos': pos})
    with pytest.raises(ValueError, match="missing the key 'y_pred_pos'"):
        ev.eval({'pos': pos, 'y_pred_neg': neg})
    with pytest.raises(ValueError, match="'input_dict' must be a dict"):
        ev.eval([pos, neg])
    with pytest.raises(ValueError, match="'y_pred_pos' must be a numpy ndarray or a torch"):
        ev.eval({'y_pred_pos': pos.tolist(), 'y_pred_neg': neg})
    with pytest.raises(ValueError, match="'y_pred_pos' must be 1-dimensional"):
        ev.eval({'y_pred_pos': pos.view(2, 2), 'y_pred_neg': neg})
    with pytest.raises(ValueError, match="'y_pred_neg' must be"):
        ev.eval({'y_pred_pos': pos, 'y_pred_neg': neg.view(-1)[:, None, None]})
    with pytest.raises(ValueError, match="'y_pred_pos' must hold real scores"):
        ev.eval({'y_pred_pos': pos > 0.5, 'y_pred_neg': neg})
    with pytest.raises(ValueError, match="'y_pred_neg' must hold real scores"):
        ev.eval({'y_pred_pos': pos, 'y_pred_neg': neg.to(torch.complex64)})
    with pytest.raises(ValueError, match="'y_pred_neg' must hold real scores"):
        ev.eval({'y_pred_pos': pos.numpy(), 'y_pred_neg': neg.numpy().astype(object)})


def test_bad_k_and_shapes():
    ev = Evaluator('ogbl-collab')
    for k in (0, -1, 2.5, '5', True, None):
        ev.K = k
        with pytest.raises(ValueError, match="'K' must be a positive integer"):
            ev.eval({'y_pred_pos': torch.rand(3), 'y_pred_neg': torch.rand(60)})
    with pytest.raises(ValueError, match="'y_pred_pos' is empty"):
        hits_at_k(torch.empty(0), torch.rand(60), 50)
    with pytest.raises(ValueError, match=r"'y_pred_neg' must have shape \(num_edges, num_neg\)"):
        mrr(torch.rand(4), torch.rand(3, 5))
