"""Pair metrics by common-neighbour bucket against numpy loops and the OGB evaluator."""

import math

import numpy as np
import pytest
import torch

from graphkit.analysis.pairs import (
    CN_BUCKETS,
    bucket_labels,
    bucketed_hits,
    cn_buckets,
    hits_gain_by_bucket,
    hits_threshold,
    node_pair_hits,
)
from graphkit.metrics.link import hits_at_k


def _brute(pos, neg, pc, nc, k, edges):
    """Plain loops: bucket of a count, the K-th largest negative, strict '>' hits, tie-halved AUC."""

    def bucket(c):
        return max(b for b, e in enumerate(edges) if c >= e)

    tau = sorted(neg, reverse=True)[k - 1] if len(neg) >= k else -math.inf
    top = sorted(range(len(neg)), key=lambda i: (-neg[i], i))[: min(k, len(neg))]
    rows = []
    for b in range(len(edges)):
        p = [s for s, c in zip(pos, pc) if bucket(c) == b]
        n = [s for s, c in zip(neg, nc) if bucket(c) == b]
        auc = math.nan
        if p and n:
            auc = sum((x > y) + 0.5 * (x == y) for x in p for y in n) / (len(p) * len(n))
        rows.append(
            {
                'num_pos': len(p),
                'num_neg': len(n),
                'hits': sum(s > tau for s in p) / len(p) if p else math.nan,
                'neg_above': sum(s > tau for s in n) / len(n) if n else math.nan,
                'share_top_neg': sum(bucket(nc[i]) == b for i in top) / max(len(top), 1),
                'auc': auc,
            }
        )
    return rows


def test_labels_and_buckets():
    assert bucket_labels() == ['0', '1', '2-3', '4+']
    assert bucket_labels((0, 5, 10)) == ['0-4', '5-9', '10+']
    assert cn_buckets(torch.tensor([0, 1, 2, 3, 4, 100.0])).tolist() == [0, 1, 2, 2, 3, 3]
    with pytest.raises(ValueError, match="'edges'"):
        cn_buckets(torch.tensor([1]), (1, 2))
    with pytest.raises(ValueError, match="'counts'"):
        cn_buckets(torch.tensor([-1]))


@pytest.mark.parametrize('seed', range(6))
@pytest.mark.parametrize('k', [1, 5, 50])
def test_bucketed_hits_matches_loops(seed, k):
    rng = np.random.default_rng(seed)
    P, M = int(rng.integers(1, 40)), int(rng.integers(1, 60))
    pos = rng.integers(0, 6, P).astype(float)  # integer scores: many ties, also with the threshold
    neg = rng.integers(0, 6, M).astype(float)
    pc, nc = rng.integers(0, 7, P), rng.integers(0, 3, M)
    rows = bucketed_hits(torch.tensor(pos), torch.tensor(neg), torch.tensor(pc), torch.tensor(nc), k)
    want = _brute(pos.tolist(), neg.tolist(), pc.tolist(), nc.tolist(), k, CN_BUCKETS)
    for got, exp in zip(rows, want):
        for key, value in exp.items():
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(got[key]), key
            else:
                assert got[key] == pytest.approx(value), key
    # the weighted bucket hits are the OGB Hits@K of all positives
    total = sum(r['share_pos'] * r['hits'] for r in rows if r['num_pos'])
    assert total == pytest.approx(hits_at_k(torch.tensor(pos), torch.tensor(neg), k))


def test_threshold_and_gain_decomposition():
    assert hits_threshold(torch.tensor([3.0, 1.0, 2.0]), 2) == 2.0
    assert hits_threshold(torch.tensor([3.0]), 2) == -math.inf
    with pytest.raises(ValueError, match="'k'"):
        hits_threshold(torch.tensor([1.0]), 0)
    g = torch.Generator().manual_seed(0)
    pc, nc = torch.randint(0, 6, (80,), generator=g), torch.randint(0, 2, (90,), generator=g)
    neg = torch.randn(90, generator=g)
    a = bucketed_hits(torch.randn(80, generator=g) + pc, neg, pc, nc, 10)
    b = bucketed_hits(torch.randn(80, generator=g), neg, pc, nc, 10)
    rows = hits_gain_by_bucket(a, b)
    total = sum(r['share_pos'] * r['hits'] for r in a) - sum(r['share_pos'] * r['hits'] for r in b)
    assert sum(r['contribution'] for r in rows) == pytest.approx(total)
    assert sum(r['fraction'] for r in rows) == pytest.approx(1.0)
    with pytest.raises(ValueError, match='same buckets'):
        hits_gain_by_bucket(a, a[:2])


def test_bad_lengths():
    with pytest.raises(ValueError, match="'pos_score' and 'pos_counts'"):
        bucketed_hits(torch.ones(3), torch.ones(2), torch.ones(2), torch.ones(2), 1)
    with pytest.raises(ValueError, match="'neg_score' and 'neg_counts'"):
        bucketed_hits(torch.ones(2), torch.ones(2), torch.ones(2), torch.ones(3), 1)


@pytest.mark.parametrize('seed', range(3))
def test_node_pair_hits_matches_loops(seed):
    g = torch.Generator().manual_seed(seed)
    n, P = 12, 30
    pairs = torch.randint(0, n, (2, P), generator=g)
    pos, neg = torch.randint(0, 4, (P,), generator=g).double(), torch.randint(0, 4, (20,), generator=g).double()
    got = node_pair_hits(pairs, pos, neg, 5, n)
    tau = sorted(neg.tolist(), reverse=True)[4]
    for v in range(n):
        mine = [float(pos[b]) > tau for b in range(P) for end in (0, 1) if int(pairs[end, b]) == v]
        if mine:
            assert float(got[v]) == pytest.approx(sum(mine) / len(mine))
        else:
            assert math.isnan(float(got[v]))
    with pytest.raises(ValueError, match="'pos_pairs'"):
        node_pair_hits(pairs[:, :3], pos, neg, 5, n)
    with pytest.raises(ValueError, match='outside'):
        node_pair_hits(pairs, pos, neg, 5, 3)
