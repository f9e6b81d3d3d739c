import networkx as nx
import pytest
import torch
from torch_geometric.data import Batch, Data

from graphkit.ops import gcn_norm, to_csr
from graphkit.tokenize import (
    HACTokenizer,
    KHopTokens,
    RandomWalkTokens,
    graph_offsets,
    hac_bfs_tokens,
    khop_tokens,
    lca_levels,
    random_walk_pe,
    tokenize_graphs,
)
from tests.tokenize.test_hac import _random_graph


def test_random_walk_pe_equals_dense_matrix_powers():
    graphs = [_random_graph(s, n=12, p=0.3) for s in range(3)]
    b = Batch.from_data_list(graphs)
    batch, ptr = graph_offsets(b)
    pe = random_walk_pe(b.edge_index, b.num_nodes, batch, ptr, 4)
    for g, got in zip(graphs, pe.split(12)):
        a = torch.zeros(12, 12)
        a[g.edge_index[0], g.edge_index[1]] = 1.0
        p = a / a.sum(1, keepdim=True).clamp(min=1)
        m, want = torch.eye(12), []
        for _ in range(4):
            m = m @ p
            want.append(m.diagonal())
        assert torch.allclose(got, torch.stack(want, 1), atol=1e-6)


def test_bfs_tokens_are_cluster_means_by_loop():
    data = HACTokenizer()(_random_graph(7, n=20, p=0.2))
    h = torch.randn(20, 3)
    tok = hac_bfs_tokens(h, data.hac_path, 3)
    assert tok.shape == (20, 4, 3) and torch.equal(tok[:, 0], h)
    for v in range(20):
        for l in range(3):
            members = data.hac_path[:, l] == data.hac_path[v, l]
            assert torch.allclose(tok[v, l + 1], h[members].mean(0), atol=1e-6)


def test_khop_tokens_are_matrix_powers():
    data = _random_graph(2, n=10, p=0.3)
    h = torch.randn(10, 2)
    adj = gcn_norm(to_csr(data.edge_index, 10))
    tok = khop_tokens(h, adj, 2)
    dense = adj.to_dense()
    assert torch.allclose(tok[:, 2], dense @ dense @ h, atol=1e-6)
    out = KHopTokens(2)(Data(x=h, edge_index=data.edge_index))
    assert torch.allclose(out.khop_x, tok)


def test_lca_levels_by_brute_force():
    data = HACTokenizer()(_random_graph(9, n=16, p=0.15))
    P = data.hac_path
    lca = lca_levels(P.unsqueeze(1), P.unsqueeze(0), torch.eye(16, dtype=torch.bool))
    L = P.size(1)
    for u in range(16):
        for v in range(16):
            if u == v:
                want = 0
            else:
                same = [l + 1 for l in range(L) if P[u, l] == P[v, l]]
                want = same[0] if same else L + 1
            assert int(lca[u, v]) == want


def test_random_walks_follow_edges_and_are_seeded():
    graphs = [_random_graph(s, n=15, p=0.2, features=0) for s in range(3)]
    b = Batch.from_data_list(graphs)
    a = RandomWalkTokens(5, seed=1)(b.clone()).rw_nodes
    assert torch.equal(a, RandomWalkTokens(5, seed=1)(b.clone()).rw_nodes)
    assert a.shape == (45, 6) and torch.equal(a[:, 0], torch.arange(15).repeat(3))
    G = [nx.Graph(g.edge_index.t().tolist()) for g in graphs]
    for v in range(45):
        g = v // 15
        for s in range(5):
            x, y = int(a[v, s]), int(a[v, s + 1])
            assert (x == y and (x not in G[g] or G[g].degree(x) == 0)) or G[g].has_edge(x, y)


def test_tokenize_graphs_gives_each_graph_its_own_attributes():
    graphs = [_random_graph(s) for s in range(7)]
    out = tokenize_graphs(graphs, HACTokenizer(), chunk=3)
    for g, o in zip(graphs, out):
        alone = HACTokenizer()(g.clone())
        assert torch.equal(o.hac_order, alone.hac_order) and torch.equal(o.hac_path, alone.hac_path)
        assert 'hac_order' not in g  # the input graphs are untouched
    b = Batch.from_data_list(out)  # padded paths batch
    assert b.hac_path.shape == (sum(g.num_nodes for g in graphs), 16)


def test_bad_transform_arguments():
    with pytest.raises(ValueError, match="'hops' >= 1"):
        KHopTokens(0)
    with pytest.raises(ValueError, match="'walk_length' >= 1"):
        RandomWalkTokens(0)
    with pytest.raises(ValueError, match="'batch' must be sorted"):
        graph_offsets(Data(edge_index=torch.zeros(2, 0, dtype=torch.long), batch=torch.tensor([1, 0]), num_nodes=2))
