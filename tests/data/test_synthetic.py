import networkx as nx
import pytest
import torch

from graphkit.data import load_dataset
from graphkit.data.synthetic import SYNTHETIC_TASKS, make_synthetic


def _nx(g):
    G = nx.Graph()
    G.add_nodes_from(range(g.num_nodes))
    G.add_edges_from(g.edge_index.t().tolist())
    return G


@pytest.mark.parametrize('task', list(SYNTHETIC_TASKS))
def test_seeded_sizes_and_split(task):
    a = make_synthetic(task, num_graphs=10, num_nodes=30, seed=3)
    b = make_synthetic(task, num_graphs=10, num_nodes=30, seed=3)
    assert len(a) == 10 and all(g.num_nodes == 30 for g in a.graphs)
    assert all(torch.equal(x.edge_index, y.edge_index) and torch.equal(x.y, y.y) for x, y in zip(a.graphs, b.graphs))
    assert sorted(torch.cat(list(a.split.values())).tolist()) == list(range(10))
    for g in a.graphs:
        assert g.edge_index.size(1) % 2 == 0 and not (g.edge_index[0] == g.edge_index[1]).any()
        assert g.y.numel() == (30 if a.level == 'node' else 1)


def test_targets_by_networkx():
    for g in make_synthetic('degree', 3, 40).graphs:
        G = _nx(g)
        assert g.y.tolist() == [min(G.degree(v), 10) for v in range(40)]
    for g in make_synthetic('triangles', 3, 40).graphs:
        tri = nx.triangles(_nx(g))
        assert g.y.tolist() == [float(tri[v]) for v in range(40)]
    for g in make_synthetic('connectivity', 6, 40).graphs:
        G = _nx(g)
        assert int(nx.is_connected(G)) == int(g.y) and nx.number_connected_components(G) == 2 - int(g.y)
        assert min(d for _, d in G.degree()) >= 2
    for g in make_synthetic('cycle', 6, 60).graphs:
        cycle = nx.cycle_basis(_nx(g))
        assert len(cycle) == 1 and (len(cycle[0]) <= 6) == bool(g.y)
    for g in make_synthetic('colour', 3, 40).graphs:
        assert int(g.y) == int(g.x.sum(0).argmax())
    for g in make_synthetic('shortest-path', 3, 40).graphs:
        src = int(g.x[:, 1].argmax())
        dist = nx.single_source_shortest_path_length(_nx(g), src)
        assert g.y.tolist() == [float(dist[v]) for v in range(40)]


def test_registry_names_and_errors():
    ds = load_dataset('synthetic-connectivity', 'graph', num_graphs=4, num_nodes=10)
    assert ds.name == 'synthetic-connectivity' and ds.metric == 'acc'
    assert load_dataset('synthetic-triangles', 'graph', num_graphs=3, num_nodes=8).metric == 'rmse'
    with pytest.raises(ValueError, match='Unknown synthetic task'):
        make_synthetic('planarity')
    with pytest.raises(ValueError, match="'num_nodes' must be >= 4"):
        make_synthetic('degree', num_nodes=2)
