import math

import pytest
import torch

from graphkit.metrics import ranking
from graphkit.metrics.ranking import mean_over, ranking_metrics
from tests.ops._ops_graphs import csr_from_rows as _csr
from tests.ops._ops_graphs import naive_rank as _naive_rank
from tests.ops._ops_graphs import ranking_problem as _problem


def _naive(scores, train, test, k):
    out = {key: [] for key in ('recall', 'precision', 'ndcg', 'hit', 'f1', 'mrr')}
    for u in range(scores.size(0)):
        ranked = _naive_rank(scores[u], set(train[u]))
        truth = set(test[u])
        if not truth:
            for key in out:
                out[key].append(math.nan)
            continue
        top = ranked[:k]
        h = sum(c in truth for c in top)
        rec, prec = h / len(truth), h / k
        dcg = sum(1 / math.log2(p + 2) for p, c in enumerate(top) if c in truth)
        idcg = sum(1 / math.log2(p + 2) for p in range(min(k, len(truth))))
        first = next(p for p, c in enumerate(ranked) if c in truth)
        out['recall'].append(rec)
        out['precision'].append(prec)
        out['ndcg'].append(dcg / idcg)
        out['hit'].append(float(h > 0))
        out['f1'].append(2 * prec * rec / (prec + rec) if h else 0.0)
        out['mrr'].append(1 / (first + 1))
    return out


@pytest.mark.parametrize('chunk_size', [1, 5, 1024])
@pytest.mark.parametrize('k', [1, 2, 5, 20])
def test_metrics_match_naive_loop(chunk_size, k):
    scores, train, test = _problem()
    res = ranking_metrics(
        lambda q: scores[q], _csr(test, 13, 9), [k], exclude=_csr(train, 13, 9), chunk_size=chunk_size
    )
    naive = _naive(scores, train, test, k)
    for key in ('recall', 'precision', 'ndcg', 'hit', 'f1'):
        torch.testing.assert_close(res[f'{key}@{k}'], torch.tensor(naive[key], dtype=torch.float64), equal_nan=True)
    torch.testing.assert_close(res['mrr'], torch.tensor(naive['mrr'], dtype=torch.float64), equal_nan=True)


def test_chunks_are_capped_by_elements(monkeypatch):
    scores, train, test = _problem()  # 13 queries x 9 candidates
    sizes = []

    def score_fn(q):
        sizes.append(q.numel())
        return scores[q]

    args = (_csr(test, 13, 9), [2, 5])
    whole = ranking_metrics(score_fn, *args, exclude=_csr(train, 13, 9), chunk_size=8)
    assert sizes == [8, 5]
    monkeypatch.setattr(ranking, 'CHUNK_ELEMENTS', 20)  # 2 queries of 9 candidates per chunk
    sizes.clear()
    capped = ranking_metrics(score_fn, *args, exclude=_csr(train, 13, 9), chunk_size=8)
    assert sizes == [2] * 6 + [1]
    t = args[0]
    sizes.clear()  # a (rowptr, col) truth does not know the candidate count: the first chunk tells
    tupled = ranking_metrics(
        score_fn, (t.crow_indices(), t.col_indices()), [2, 5], exclude=_csr(train, 13, 9), chunk_size=8
    )
    assert sizes == [8, 2, 2, 1]
    for key in whole:
        torch.testing.assert_close(capped[key], whole[key], equal_nan=True)
        torch.testing.assert_close(tupled[key], whole[key], equal_nan=True)


def test_queries_subset_and_tuple_csr():
    scores, train, test = _problem()
    ex = _csr(train, 13, 9)
    q = torch.tensor([5, 2, 7])
    full = ranking_metrics(lambda i: scores[i], _csr(test, 13, 9), [3], exclude=ex)
    sub = ranking_metrics(
        lambda i: scores[i],
        _csr(test, 13, 9),
        [3],
        exclude=(ex.crow_indices(), ex.col_indices()),
        queries=q,
        chunk_size=2,
    )
    torch.testing.assert_close(sub['ndcg@3'], full['ndcg@3'][q], equal_nan=True)


def test_mean_over_denominators():
    scores, train, test = _problem()
    res = ranking_metrics(lambda q: scores[q], _csr(test, 13, 9), [2], exclude=_csr(train, 13, 9))
    rec = res['recall@2']
    with_truth = mean_over(res, 'with_truth')
    all_users = mean_over(res, 'all')
    n_truth = int((~torch.isnan(rec)).sum())
    assert with_truth['recall@2'] == pytest.approx(float(rec.nansum()) / n_truth)
    assert all_users['recall@2'] == pytest.approx(float(rec.nansum()) / 13)
    of_means = mean_over(res, 'all', f1='of_means')
    p, r = all_users['precision@2'], all_users['recall@2']
    assert of_means['f1@2'] == pytest.approx(2 * p * r / (p + r))


def test_errors():
    with pytest.raises(ValueError, match='ks'):
        ranking_metrics(lambda q: torch.zeros(q.numel(), 3), (torch.tensor([0, 0]), torch.tensor([])), [0])
    with pytest.raises(ValueError, match='score_fn'):
        ranking_metrics(lambda q: torch.zeros(3), (torch.tensor([0, 0, 0]), torch.tensor([])), [1])
    with pytest.raises(ValueError, match='chunk_size'):
        ranking_metrics(
            lambda q: torch.zeros(q.numel(), 3), (torch.tensor([0, 0]), torch.tensor([])), [1], chunk_size=0
        )
    with pytest.raises(ValueError, match='denominator'):
        mean_over({}, 'users')
    with pytest.raises(ValueError, match='exclude'):
        ranking_metrics(
            lambda q: torch.zeros(q.numel(), 3),
            (torch.tensor([0, 0, 0]), torch.tensor([])),
            [1],
            exclude=torch.zeros(2, 3),
        )
