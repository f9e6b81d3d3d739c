"""The growing-graph generator, the time-ordered split and the shift per time step against brute force."""

import pytest
import torch

from graphkit.analysis.growth import growing_graph, shift_by_time, time_ordered_split


def test_growing_graph_is_seeded_simple_and_grows():
    ei, t = growing_graph(300, num_steps=5, seed=3)
    ei2, t2 = growing_graph(300, num_steps=5, seed=3)
    assert torch.equal(ei, ei2) and torch.equal(t, t2)
    assert not torch.equal(ei, growing_graph(300, num_steps=5, seed=4)[0])
    assert bool((ei[0] < ei[1]).all())  # pairs i < j, hence no self-loops
    codes = ei[0] * 300 + ei[1]
    assert codes.unique().numel() == codes.numel()  # each pair once
    assert int(ei.max()) == 299 and int(t.min()) == 0 and int(t.max()) == 4
    assert bool((t[1:] >= t[:-1]).all())  # edges come in time order
    # a node exists from its arrival step on: its first edge is no earlier than its group's step
    first = torch.full((300,), 99).scatter_reduce(0, ei.reshape(-1), t.repeat(2), reduce='amin')
    assert int(first[-1]) == 4
    # with arrival_steps, every node has an edge by then, and later steps still add edges
    ei, t = growing_graph(300, num_steps=5, seed=3, arrival_steps=3)
    first = torch.full((300,), 99).scatter_reduce(0, ei.reshape(-1), t.repeat(2), reduce='amin')
    assert int(first.max()) <= 2 and int((t == 4).sum()) > 0


@pytest.mark.parametrize(
    'kwargs, match',
    [
        ({'num_nodes': 3}, 'num_nodes'),
        ({'closure': 1.5}, 'closure'),
        ({'num_steps': 0}, 'num_steps'),
        ({'arrival_steps': 20}, 'arrival_steps'),
        ({'activity': -1.0}, 'activity'),
    ],
)
def test_growing_graph_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        growing_graph(**{'num_nodes': 50, **kwargs})


def test_time_ordered_split_partitions_by_time():
    ei, t = growing_graph(200, num_steps=6, seed=0)
    split = time_ordered_split(ei, t, 200, valid_from=4, test_from=5, num_neg=2, seed=1)
    for name, (lo, hi) in {'train': (0, 3), 'valid': (4, 4), 'test': (5, 5)}.items():
        want = {(int(a), int(b)) for (a, b), s in zip(ei.t(), t) if lo <= int(s) <= hi}
        got = {tuple(e) for e in split[name]['edge'].tolist()}
        assert got == want
        assert bool(((split[name]['year'] >= lo) & (split[name]['year'] <= hi)).all())
    edges = {tuple(e) for e in ei.t().tolist()}
    for name in ('valid', 'test'):
        neg = {tuple(e) for e in split[name]['edge_neg'].tolist()}
        assert len(neg) == 2 * split[name]['edge'].size(0)
        assert not neg & edges
    assert not {tuple(e) for e in split['valid']['edge_neg'].tolist()} & {
        tuple(e) for e in split['test']['edge_neg'].tolist()
    }
    with pytest.raises(ValueError, match='valid_from'):
        time_ordered_split(ei, t, 200, 5, 5)
    with pytest.raises(ValueError, match="no 'test'"):
        time_ordered_split(ei, t, 200, 4, 9)
    with pytest.raises(ValueError, match='once'):
        time_ordered_split(torch.cat([ei, ei.flip(0)], 1), t.repeat(2), 200, 4, 5)


def test_shift_by_time_matches_sets():
    n = 150
    ei, t = growing_graph(n, num_steps=5, seed=2)
    split = time_ordered_split(ei, t, n, valid_from=3, test_from=4)
    nb = [set() for _ in range(n)]
    for a, b in split['train']['edge'].tolist():
        nb[a].add(b)
        nb[b].add(a)

    def lcc(i):  # K = 1 TC^Train: local clustering coefficient
        d = len(nb[i])
        return sum(len(nb[i] & nb[j]) for j in nb[i]) / (d * (d - 1))

    rows = shift_by_time(split, n)
    assert sorted(rows) == [3, 4]
    for year, row in rows.items():
        later = [
            e
            for s in ('valid', 'test')
            for e, y in zip(split[s]['edge'].tolist(), split[s]['year'].tolist())
            if y == year
        ]
        new = [set() for _ in range(n)]
        for a, b in later:
            new[a].add(b)
            new[b].add(a)
        nodes = [i for i in range(n) if new[i] and len(nb[i]) > 1]
        tc_t = [sum(len(nb[i] & nb[j]) for j in new[i]) / (len(new[i]) * len(nb[i])) for i in nodes]
        tc_tr = [lcc(i) for i in nodes]
        assert row['num_edges'] == len(later) and row['num_nodes'] == len(nodes)
        assert row['mean_tc_t'] == pytest.approx(sum(tc_t) / len(nodes))
        assert row['mean_tc_train'] == pytest.approx(sum(tc_tr) / len(nodes))
    with pytest.raises(ValueError, match="'year'"):
        shift_by_time({s: {'edge': v['edge']} for s, v in split.items()}, n)
