import networkx as nx
import pytest
import torch

from graphkit.models import MODELS, LinkHeuristic
from graphkit.ops import to_csr

NX = {
    'cn': lambda g, i, j: len(list(nx.common_neighbors(g, i, j))),
    'aa': lambda g, i, j: next(nx.adamic_adar_index(g, [(i, j)]))[2],
    'ra': lambda g, i, j: next(nx.resource_allocation_index(g, [(i, j)]))[2],
}


@pytest.mark.parametrize('kind', ['cn', 'aa', 'ra'])
@pytest.mark.parametrize('seed', [0, 1, 2])
def test_heuristic_matches_networkx(kind, seed):
    gen = torch.Generator().manual_seed(seed)
    num_nodes = 40
    edge_index = torch.randint(num_nodes, (2, 150), generator=gen)
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    pairs = torch.randint(num_nodes, (2, 100), generator=gen)
    pairs = pairs[:, pairs[0] != pairs[1]]

    model = MODELS.get(kind).from_config({'kind': kind}, None)
    assert str(model) == f'LinkHeuristic({kind})'
    out = model(None, to_csr(edge_index, num_nodes), pairs)

    g = nx.Graph()
    g.add_nodes_from(range(num_nodes))
    g.add_edges_from(edge_index.t().tolist())
    expected = torch.tensor([NX[kind](g, i, j) for i, j in pairs.t().tolist()], dtype=torch.float)
    assert torch.allclose(out, expected, atol=1e-5)


def test_heuristic_validation():
    with pytest.raises(ValueError, match="'kind'"):
        LinkHeuristic('jaccard')
    assert not LinkHeuristic.trainable
