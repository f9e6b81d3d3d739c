import math

import networkx as nx
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import Batch, Data

from graphkit.tokenize import (
    HACTokenizer,
    dfs_permutation,
    edge_affinity,
    graph_offsets,
    hac,
    hac_reference,
    max_depth_bound,
    node_scores,
)


def _random_graph(seed, n=None, p=None, features=3):
    g = torch.Generator().manual_seed(seed)
    n = int(torch.randint(1, 40, (1,), generator=g)) if n is None else n
    p = float(torch.rand(1, generator=g)) * 0.3 if p is None else p
    mask = torch.rand(n, n, generator=g) < p
    ei = torch.triu(mask, 1).nonzero().t()
    ei = torch.cat([ei, ei.flip(0)], dim=1)
    x = torch.randn(n, features, generator=g) if features else None
    return Data(x=x, edge_index=ei, num_nodes=n)


def _nx(data):
    G = nx.Graph()
    G.add_nodes_from(range(data.num_nodes))
    G.add_edges_from(data.edge_index.t().tolist())
    return G


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_vectorised_rounds_equal_the_loop_reference(seed):
    data = _random_graph(seed)
    feat = data.x.double()
    ei = data.edge_index
    w = edge_affinity(feat, ei[0], ei[1])
    score = node_scores(feat)
    res = hac(ei, data.num_nodes, w, score)
    assert res.levels.t().tolist() == hac_reference(ei.t().tolist(), data.num_nodes, w.tolist(), score.tolist())


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.booleans())
def test_roots_are_the_connected_components_and_depth_is_logarithmic(seed, with_x):
    data = _random_graph(seed, features=3 if with_x else 0)
    out = HACTokenizer()(data.clone())
    for comp in nx.connected_components(_nx(data)):
        root = int(out.hac_root[next(iter(comp))])
        assert root in comp and all(int(out.hac_root[v]) == root for v in comp)
        depth = {int(out.hac_depth[v]) for v in comp}
        assert len(depth) == 1 and depth.pop() <= max_depth_bound(len(comp)) == math.ceil(math.log2(len(comp))) * (
            len(comp) > 1
        )
    # nodes of different components never share a root
    comps = list(nx.connected_components(_nx(data)))
    assert len({int(out.hac_root[next(iter(c))]) for c in comps}) == len(comps)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_every_cluster_is_contiguous_in_the_dfs_order(seed):
    data = HACTokenizer()(_random_graph(seed))
    order = data.hac_order
    assert sorted(order.tolist()) == list(range(data.num_nodes))
    labels = torch.cat([data.hac_path, data.hac_root.view(-1, 1)], dim=1)
    for level in range(labels.size(1)):
        for c in labels[:, level].unique():
            pos = sorted(order[labels[:, level] == c].tolist())
            assert pos == list(range(pos[0], pos[0] + len(pos)))  # one block


def test_clusters_are_nested_and_named_by_a_member():
    data = HACTokenizer()(_random_graph(3, n=30, p=0.15))
    path = data.hac_path
    for l in range(path.size(1)):
        for c in path[:, l].unique():
            members = (path[:, l] == c).nonzero().view(-1)
            assert int(c) in members.tolist()  # the representative is a member
            if l + 1 < path.size(1):
                assert path[members, l + 1].unique().numel() == 1  # the whole cluster moves up together


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_permute_then_inverse_is_the_identity(seed):
    graphs = [HACTokenizer()(_random_graph(seed + i)) for i in range(3)]
    batch = Batch.from_data_list(graphs)
    b, ptr = graph_offsets(batch)
    for key in ('hac_order', 'node_order'):
        perm, inverse = dfs_permutation(batch[key], b, ptr)
        x = torch.randn(batch.num_nodes, 4)
        assert torch.equal(x[perm][inverse], x)
        assert torch.equal(b[perm], b)  # graphs stay contiguous and in place


def test_relabelling_the_nodes_relabels_the_tree():
    data = HACTokenizer()(_random_graph(11, n=25, p=0.2))
    perm = torch.randperm(25, generator=torch.Generator().manual_seed(0))  # new id of old node: inv[old]
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(25)
    moved = Data(x=data.x[perm], edge_index=inv[data.edge_index], num_nodes=25)
    out = HACTokenizer()(moved)
    # continuous features: no ties, so the same tree and the same DFS sequence of the original nodes
    assert torch.equal(perm[out.hac_path[inv]], data.hac_path)
    assert torch.equal(out.hac_order[inv], data.hac_order)


def test_a_batch_equals_each_graph_alone():
    graphs = [_random_graph(s) for s in range(5)] + [Data(edge_index=torch.zeros(2, 0, dtype=torch.long), num_nodes=3)]
    for g in graphs[:-1]:
        g.x = None
    alone = [HACTokenizer()(g.clone()) for g in graphs]
    batched = HACTokenizer()(Batch.from_data_list(graphs))
    counts = (batched.ptr[1:] - batched.ptr[:-1]).tolist()
    for key in ('hac_root', 'hac_path', 'hac_order', 'hac_depth', 'node_order'):
        for a, b in zip(alone, batched[key].split(counts)):
            assert torch.equal(a[key], b), key


def test_ties_are_broken_by_node_index_deterministically():
    ring = torch.tensor([[0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 0]])
    data = Data(edge_index=torch.cat([ring, ring.flip(0)], 1), num_nodes=6)
    a, b = HACTokenizer()(data.clone()), HACTokenizer()(data.clone())
    assert torch.equal(a.hac_path, b.hac_path)
    # all affinities and scores tie: each cluster picks the pair (lo, hi) of smallest ranks, so node v > 0 picks
    # (v - 1, v), and the chain merges into one cluster in one round
    assert a.hac_path[:, 0].tolist() == [0] * 6
    assert a.hac_root.tolist() == [0] * 6


def test_padding_and_bad_arguments():
    data = _random_graph(5, n=20, p=0.3)
    out = HACTokenizer(num_levels=None)(data.clone())
    assert out.hac_path.size(1) == int(out.hac_depth.max())
    with pytest.raises(ValueError, match="more than 'num_levels' = 1"):
        HACTokenizer(num_levels=1)(data.clone())
    with pytest.raises(ValueError, match="unknown 'features'"):
        HACTokenizer(features='pagerank')
    with pytest.raises(ValueError, match="unknown 'affinity'"):
        HACTokenizer(affinity='euclid')
    with pytest.raises(ValueError, match="features 'x'"):
        HACTokenizer(features='x')(Data(edge_index=data.edge_index, num_nodes=20))
    with pytest.raises(ValueError, match='outside'):
        hac(torch.tensor([[0], [5]]), 3, torch.ones(1))
    assert repr(HACTokenizer()) == "HACTokenizer(features='auto', affinity='cosine', num_levels=16)"
