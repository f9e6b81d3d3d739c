"""Per-node full-ranking link metrics against a naive per-node Python loop."""

import math

import pytest
import torch

from graphkit.metrics.node_link import node_link_metrics, split_node_link_metrics
from graphkit.models.gae import GAE
from graphkit.models.heuristics import LinkHeuristic
from graphkit.ops import to_csr


def _graph(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    e = torch.randint(0, n - 2, (2, 3 * n), generator=g)  # last two nodes isolated
    e = torch.unique(torch.sort(e[:, e[0] != e[1]], dim=0).values, dim=1)
    perm = torch.randperm(e.size(1), generator=g)
    e = e[:, perm]
    m = e.size(1)
    split = {
        'train': {'edge': e[:, : int(0.7 * m)].t()},
        'valid': {'edge': e[:, int(0.7 * m) : int(0.8 * m)].t()},
        'test': {'edge': e[:, int(0.8 * m) :].t()},
    }
    return split, torch.randn(n, 8, generator=g)


def naive(model, x, adj, truth, exclude, n, ks, exclude_self=False):
    model.eval()
    with torch.no_grad():
        h = model.encode(x, adj)
    tn = [set() for _ in range(n)]
    for i, j in truth.t().tolist():
        if i != j:
            tn[i].add(j)
            tn[j].add(i)
    xn = [set() for _ in range(n)]
    for i, j in exclude.t().tolist() if exclude is not None else []:
        if i != j:
            xn[i].add(j)
            xn[j].add(i)
    out = {f'{m}@{k}': [math.nan] * n for k in ks for m in ('recall', 'precision', 'f1', 'ndcg', 'hit')}
    out['mrr'] = [math.nan] * n
    for i in range(n):
        if not tn[i]:
            continue
        with torch.no_grad():
            s = model.predict(h, adj, torch.tensor([[i] * n, list(range(n))])).tolist()
        cand = [v for v in range(n) if v not in xn[i] and not (exclude_self and v == i)]
        ranked = sorted(cand, key=lambda v: (-s[v], v))  # ordinal: lower index first on ties
        for k in ks:
            hits = [v in tn[i] for v in ranked[:k]]
            h_ = sum(hits)
            r, p = h_ / len(tn[i]), h_ / k
            dcg = sum(1 / math.log2(q + 2) for q, hit in enumerate(hits) if hit)
            idcg = sum(1 / math.log2(q + 2) for q in range(min(k, len(tn[i]))))
            out[f'recall@{k}'][i], out[f'precision@{k}'][i] = r, p
            out[f'f1@{k}'][i] = 2 * p * r / (p + r) if h_ else 0.0
            out[f'ndcg@{k}'][i], out[f'hit@{k}'][i] = dcg / idcg, float(h_ > 0)
        first = next(q for q, v in enumerate(ranked) if v in tn[i])
        out['mrr'][i] = 1.0 / (first + 1)
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in out.items()}


def _check(out, ref):
    assert set(out) == set(ref)
    for key in ref:
        assert torch.allclose(out[key], ref[key], equal_nan=True, atol=1e-9), key


@pytest.mark.parametrize('model_name', ['gae', 'cn'])
@pytest.mark.parametrize('split_name', ['test', 'valid'])
@pytest.mark.parametrize('exclude_self', [False, True])
def test_per_node_metrics_equal_naive_loop(model_name, split_name, exclude_self):
    torch.manual_seed(0)
    n = 40
    split, x = _graph(n)
    train = split['train']['edge'].t()
    adj = to_csr(train, n)
    model = GAE(8, n, hidden_channels=16) if model_name == 'gae' else LinkHeuristic('cn')  # cn: many ties
    ks = (1, 5, 10, 50)
    out = split_node_link_metrics(
        model, x, adj, split, split_name, n, ks=ks, chunk_size=7, exclude_self=exclude_self, pair_chunk_size=17
    )  # default exclude='known'; 17 pairs per model call: the chunks cut across query rows
    known = train if split_name == 'valid' else torch.cat([train, split['valid']['edge'].t()], 1)
    ref = naive(model, x, adj, split[split_name]['edge'].t(), known, n, ks, exclude_self)
    _check(out, ref)
    # nodes without truth edges (the isolated ones) are NaN
    assert math.isnan(out['mrr'][n - 1]) and math.isnan(out['mrr'][n - 2])


def test_no_exclusion_and_errors():
    n = 40
    split, x = _graph(n, seed=1)
    adj = to_csr(split['train']['edge'].t(), n)
    model = LinkHeuristic('ra')
    out = split_node_link_metrics(model, x, adj, split, 'test', n, exclude='none', ks=(3,))
    ref = naive(model, x, adj, split['test']['edge'].t(), None, n, (3,))
    _check(out, ref)
    with pytest.raises(ValueError, match="'split'"):
        split_node_link_metrics(model, x, adj, split, 'train')
    for bad in ('all', 'spec'):  # 'spec': the old name of 'known'
        with pytest.raises(ValueError, match="'exclude'"):
            split_node_link_metrics(model, x, adj, split, exclude=bad)
    with pytest.raises(ValueError, match="'truth_edges'"):
        node_link_metrics(model, x, adj, torch.tensor([[0], [n + 5]]))
    with pytest.raises(ValueError, match="'pair_chunk_size'"):
        split_node_link_metrics(model, x, adj, split, pair_chunk_size=0)
