"""Exact TC, ATC, degree and density against plain-Python references and networkx."""

from collections import Counter
from typing import Dict, List, Optional

import networkx as nx
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphkit.metrics.topology import (
    approximate_tc,
    default_beta,
    node_degree,
    subgraph_density,
    topological_concentration,
    weighted_tc,
)

# Plain-Python reference: BFS over walk lists, as the official ``cal_tc`` ##############################


def _neighbours(edges: torch.Tensor, n: int) -> List[List[int]]:
    nbrs = [set() for _ in range(n)]
    for i, j in edges.t().tolist():
        if i != j:
            nbrs[i].add(j)
            nbrs[j].add(i)
    return [sorted(s) for s in nbrs]


def _walks(nbrs: List[List[int]], i: int, K: int) -> List[Counter]:
    out, frontier = [], Counter({i: 1})
    for _ in range(K):
        nxt = Counter()
        for u, c in frontier.items():
            for v in nbrs[u]:
                nxt[v] += c
        out.append(nxt)
        frontier = nxt
    return out


def reference_tc(
    train: torch.Tensor,
    test: Optional[torch.Tensor],
    n: int,
    K: int,
    beta: float,
    mode: str = 'walk',
    nodes: Optional[List[int]] = None,
) -> List[float]:
    """TC by BFS over walk lists, one (i, j) pair at a time (also timed by ``benchmarks/tc.py``); with
    :obj:`nodes`, only those nodes are computed (the others stay 0)."""
    nbrs = _neighbours(train, n)
    t_nbrs = nbrs if test is None else _neighbours(test, n)
    walks: Dict[int, List[Counter]] = {}

    def w(i):
        if i not in walks:
            walks[i] = _walks(nbrs, i, K)
            if mode == 'set':
                walks[i] = [Counter({v: 1 for v in c}) for c in walks[i]]
        return walks[i]

    tc = [0.0] * n
    for i in range(n) if nodes is None else nodes:
        d = len(nbrs[i])
        if not t_nbrs[i] or d == 0 or (test is None and d <= 1):
            continue
        wi = w(i)
        total = 0.0
        for j in t_nbrs[i]:
            wj = w(j)
            inter = norm = 0.0
            for k1 in range(K):
                for k2 in range(K):
                    b = beta ** (k1 + k2)
                    inter += b * sum(c for v, c in wi[k1].items() if v in wj[k2])
                    size = sum(wi[k1].values())
                    if test is None and k1 == 0 and k2 == 0:
                        size -= 1
                    norm += b * size
            total += inter / norm
        tc[i] = total / len(t_nbrs[i])
    return tc


def _random_graph(n: int, m: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    # nodes n-3, n-2 isolated; node n-1 attached to exactly one node (degree 1)
    edges = torch.randint(0, n - 3, (2, m), generator=g)
    return torch.cat([edges, torch.tensor([[n - 1], [0]])], dim=1)


# Degree and density ###################################################################################


def test_degree_and_density_by_hand():
    # triangle 0-1-2 plus a pendant 3 on node 2 and an isolated node 4
    ei = torch.tensor([[0, 1, 2, 2], [1, 2, 0, 3]])
    assert node_degree(ei, 5).tolist() == [2, 2, 3, 1, 0]
    dens = subgraph_density(ei, 5)
    assert torch.allclose(dens, torch.tensor([1.0, 1.0, 4 / 6, 1.0, 0.0]))
    dens2 = subgraph_density(ei, 5, K=2)
    assert torch.allclose(dens2[3], torch.tensor(4 / 6))


@pytest.mark.parametrize('seed', [0, 1])
def test_density_matches_networkx(seed):
    ei = _random_graph(40, 70, seed)
    G = nx.Graph()
    G.add_nodes_from(range(40))
    G.add_edges_from((i, j) for i, j in ei.t().tolist() if i != j)
    for K in (1, 2):
        out = subgraph_density(ei, 40, K=K)
        ref = [
            nx.density(nx.ego_graph(G, i, radius=K)) if len(nx.ego_graph(G, i, radius=K)) > 1 else 0.0
            for i in range(40)
        ]
        assert torch.allclose(out, torch.tensor(ref), atol=1e-6)


# TC ###################################################################################################


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 30), p=st.floats(0.0, 0.6), seed=st.integers(0, 10**6))
def test_k1_train_tc_is_local_clustering(n, p, seed):
    G = nx.gnp_random_graph(n, p, seed=seed)
    ei = torch.tensor(list(G.edges()), dtype=torch.long).t().reshape(2, -1)
    tc = topological_concentration(ei, num_nodes=n, K=1)
    ref = nx.clustering(G)
    assert torch.allclose(tc, torch.tensor([ref[i] for i in range(n)], dtype=torch.float32), atol=1e-6)


@pytest.mark.parametrize('K', [1, 2])
@pytest.mark.parametrize('mode', ['walk', 'set'])
@pytest.mark.parametrize('split', ['train', 'test'])
@pytest.mark.parametrize('seed', [0, 1, 2])
def test_tc_matches_bruteforce(K, mode, split, seed):
    n = 30
    train = _random_graph(n, 45, seed)
    g = torch.Generator().manual_seed(seed + 100)
    test = None if split == 'train' else torch.randint(0, n, (2, 25), generator=g)
    beta = default_beta(train, n)
    out = topological_concentration(train, test, n, K=K, mode=mode)
    ref = reference_tc(train, test, n, K, beta, mode)
    assert torch.allclose(out, torch.tensor(ref, dtype=torch.float32), atol=1e-6)
    assert out[n - 3] == 0 and out[n - 2] == 0  # isolated
    if split == 'train':
        assert out[n - 1] == 0  # degree 1


def test_tc_explicit_beta_and_values_in_range():
    train = _random_graph(30, 60, 3)
    test = torch.randint(0, 30, (2, 20), generator=torch.Generator().manual_seed(3))
    out = topological_concentration(train, test, 30, K=2, beta=0.5)
    ref = reference_tc(train, test, 30, 2, 0.5)
    assert torch.allclose(out, torch.tensor(ref, dtype=torch.float32), atol=1e-6)
    k1 = topological_concentration(train, test, 30, K=1)
    assert (k1 >= 0).all() and (k1 <= 1).all()


def test_tc_errors():
    ei = torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="'K'"):
        topological_concentration(ei, K=0)
    with pytest.raises(ValueError, match="'mode'"):
        topological_concentration(ei, mode='paths')
    with pytest.raises(ValueError, match="'edge_index_t'"):
        topological_concentration(ei, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="'norm'"):
        approximate_tc(ei, norm='l2')


# Weighted TC ##########################################################################################


@pytest.mark.parametrize('seed', [0, 1])
def test_weighted_tc_uniform_equals_k1_tc(seed):
    n = 30
    train = _random_graph(n, 50, seed)
    test = torch.randint(0, n, (2, 20), generator=torch.Generator().manual_seed(seed))
    both = torch.cat([train, train.flip(0)], 1)
    both = torch.unique(both[:, both[0] != both[1]], dim=1)
    both = torch.cat([both, torch.arange(n).repeat(2, 1)], 1)  # self-loops are ignored
    w = torch.rand(both.size(1))
    w[both[0] != both[1]] = 1.0
    out = weighted_tc(both, w, test, n)
    assert torch.allclose(out, topological_concentration(train, test, n, K=1), atol=1e-6)
    # Train: divides by d instead of d - 1
    deg = node_degree(train, n)
    tr = topological_concentration(train, None, n, K=1) * (deg - 1) / deg.clamp(min=1)
    assert torch.allclose(weighted_tc(both, w, None, n), tr, atol=1e-6)


# ATC ##################################################################################################


def test_atc_converges_to_tc():
    n = 60
    train = _random_graph(n, 150, 0)
    test = torch.randint(0, n, (2, 40), generator=torch.Generator().manual_seed(0))
    exact = topological_concentration(train, test, n, K=1)
    err = []
    for d in (16, 1024):
        atc = approximate_tc(train, test, n, K=1, d=d, seed=0, num_draws=4)
        err.append((atc - exact).abs().mean().item())
    assert err[1] < err[0] and err[1] < 0.05


def test_atc_seeded_and_on_device(device):
    train = _random_graph(40, 80, 1).to(device)
    a = approximate_tc(train, K=2, d=32, seed=5)
    b = approximate_tc(train, K=2, d=32, seed=5)
    assert a.device == train.device and torch.equal(a, b)
    for norm in ('self', 'cosine'):
        for prop in ('rw', 'gcn'):
            out = approximate_tc(train, K=2, d=32, seed=5, norm=norm, propagation=prop)
            assert out.shape == (40,) and torch.isfinite(out).all()


def test_atc_correlates_with_tc_on_cora():
    from graphkit.data import load_link_dataset

    ds = load_link_dataset('cora')
    train, test = ds.split_edge['train']['edge'].t(), ds.split_edge['test']['edge'].t()
    n = ds.data.num_nodes
    for t in (None, test):
        exact = topological_concentration(train, t, n, K=1)
        approx = approximate_tc(train, t, n, K=1, d=256, seed=0)
        mask = exact.new_ones(n, dtype=torch.bool) if t is None else node_degree(t, n) > 0
        r = torch.corrcoef(torch.stack([exact[mask], approx[mask]]))[0, 1]
        assert r > 0.9, float(r)
