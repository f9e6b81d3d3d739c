"""Random small graphs (hypothesis strategies) and brute-force oracles."""
import torch
from hypothesis import strategies as st


@st.composite
def graphs(draw, max_nodes=10, max_edges=30, max_pairs=8):
    """(num_nodes, edges, pairs): isolated nodes, self-loops, duplicates,
    empty batches and (i, i) pairs all occur."""
    n = draw(st.integers(1, max_nodes))
    node = st.integers(0, n - 1)
    edges = draw(st.lists(st.tuples(node, node), max_size=max_edges))
    pairs = draw(st.lists(st.tuples(node, node), max_size=max_pairs))
    return n, edges, pairs


def as_index(tuples, dtype=torch.long):
    if not tuples:
        return torch.empty(2, 0, dtype=dtype)
    return torch.tensor(tuples, dtype=dtype).t().contiguous()


def neighbour_sets(n, edges, symmetric=True, self_loops='remove'):
    """The adjacency that to_csr should build, as python sets."""
    nbrs = [set() for _ in range(n)]
    for i, j in edges:
        nbrs[i].add(j)
        if symmetric:
            nbrs[j].add(i)
    for i in range(n):
        if self_loops != 'keep':
            nbrs[i].discard(i)
        if self_loops == 'add':
            nbrs[i].add(i)
    return nbrs


def coo_to_sets(coo, num_pairs):
    out = [set() for _ in range(num_pairs)]
    for b, u in coo.t().tolist():
        assert u not in out[b], 'duplicate entry'
        out[b].add(u)
    return out
