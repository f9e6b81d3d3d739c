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


def csr_from_rows(rows, num_rows, num_cols):
    """A binary CSR matrix from {row: [columns]} (sorted columns per row)."""
    from graphkit.ops import csr_tensor

    rowptr, col = [0], []
    for r in range(num_rows):
        col += sorted(rows.get(r, []))
        rowptr.append(len(col))
    return csr_tensor(torch.tensor(rowptr), torch.tensor(col, dtype=torch.long), None, (num_rows, num_cols))


def ranking_problem(num_users=13, num_items=9, seed=0):
    """(scores, train, test): integer scores with many ties, train / test items per user, one user
    with every item in train and users without test items."""
    gen = torch.Generator().manual_seed(seed)
    scores = torch.randint(0, 4, (num_users, num_items), generator=gen).float()  # many ties
    train, test = {}, {}
    for u in range(num_users):
        perm = torch.randperm(num_items, generator=gen).tolist()
        n_train = int(torch.randint(0, num_items - 1, (1,), generator=gen))
        train[u] = perm[:n_train]
        n_test = 0 if u % 4 == 0 else int(torch.randint(1, num_items - n_train + 1, (1,), generator=gen))
        test[u] = perm[n_train : n_train + n_test]
    train[1] = list(range(num_items))  # a user with every item excluded
    test[1] = []
    return scores, train, test


def naive_rank(scores, excluded):
    """The candidates not in `excluded`, by score descending, then index ascending."""
    cand = [c for c in range(len(scores)) if c not in excluded]
    return sorted(cand, key=lambda c: (-float(scores[c]), c))
