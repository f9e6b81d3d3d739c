r"""In-process generators for the synthetic tasks of the `"Best of Both Worlds: Advantages of Hybrid Graph Sequence
Models" <https://arxiv.org/abs/2411.15671>`_ paper (Tables 1-2), as :class:`~graphkit.data.tu.GraphDataset`.

The paper does not say how its graphs were generated; these are our definitions (``docs/gsm.md``). Every graph
has :obj:`num_nodes` nodes, its node ids shuffled, and constant input features unless stated.

* ``synthetic-degree`` (local, node level, 11 classes): :math:`G(n, p)` with mean degree 4; the target is the
  node's degree, capped at 10.
* ``synthetic-cycle`` (local, graph level, 2 classes): a random recursive tree plus one edge that closes a cycle of
  length 3-6 (class 1) or of length >= 9 (class 0): both classes have the same node and edge counts.
* ``synthetic-triangles`` (local, node level, regression, RMSE): :math:`G(n, p)` with mean degree 6; the number
  of triangles through each node.
* ``synthetic-connectivity`` (global, graph level, 2 classes): one random Hamiltonian cycle plus :math:`n/10`
  chords (class 1, connected), or two cycles of random sizes in :math:`[n/4, 3n/4]` with the same number of chords
  in total (class 0): same node and edge counts, every degree >= 2.
* ``synthetic-colour`` (global, graph level, 4 classes): :math:`G(n, p)` with mean degree 3, nodes coloured 0-3
  (one-hot input) with one colour strictly most frequent; the target is that colour.
* ``synthetic-shortest-path`` (global, node level, regression, RMSE): a random recursive tree plus :math:`n/10`
  chords, input ``[1, is_source]`` for one random source; the hop distance to it.

Splits: 60 / 20 / 20 train / valid / test graphs, drawn with the seed, as are the graphs themselves.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import torch
from torch_geometric.data import Data

from graphkit.data.tu import GraphDataset

__all__ = ['SYNTHETIC_TASKS', 'make_synthetic', 'load_synthetic_dataset']


def _undirected(edges: np.ndarray, n: int, rng: np.random.Generator) -> torch.Tensor:
    """Both directions of the unique non-loop edges, the nodes relabelled by a random permutation."""
    e = edges[edges[:, 0] != edges[:, 1]]
    e = np.unique(np.sort(e, axis=1), axis=0)
    perm = rng.permutation(n)
    e = perm[e]
    ei = torch.from_numpy(np.concatenate([e, e[:, ::-1]]).T.copy()).long()
    return ei, perm


def _gnp(n: int, mean_degree: float, rng: np.random.Generator) -> np.ndarray:
    m = rng.binomial(n * (n - 1) // 2, min(mean_degree / max(n - 1, 1), 1.0))
    return rng.integers(0, n, size=(m, 2))


def _tree(n: int, rng: np.random.Generator) -> np.ndarray:
    child = np.arange(1, n)
    return np.stack([child, (rng.random(n - 1) * child).astype(np.int64)], axis=1)


def _degrees(ei: torch.Tensor, n: int) -> torch.Tensor:
    return torch.bincount(ei[0], minlength=n)


def _hops(edges: np.ndarray, n: int, source: int) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import shortest_path

    a = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
    return shortest_path(a, directed=False, unweighted=True, indices=source)


def _degree(n: int, rng: np.random.Generator) -> Data:
    ei, _ = _undirected(_gnp(n, 4.0, rng), n, rng)
    return Data(x=torch.ones(n, 1), edge_index=ei, y=_degrees(ei, n).clamp(max=10), num_nodes=n)


def _cycle(n: int, rng: np.random.Generator, label: int) -> Data:
    tree = _tree(n, rng)
    u = int(rng.integers(n))
    dist = _hops(tree, n, u)
    want = (dist >= 2) & (dist <= 5) if label else dist >= 8
    cand = np.nonzero(want)[0]
    if len(cand) == 0:  # a shallow tree: the farthest node (short trees only in tiny test graphs)
        cand = np.nonzero(dist == (dist.max() if not label else min(dist.max(), 2)))[0]
    v = int(rng.choice(cand))
    ei, _ = _undirected(np.concatenate([tree, [[u, v]]]), n, rng)
    return Data(x=torch.ones(n, 1), edge_index=ei, y=torch.tensor([label]), num_nodes=n)


def _triangles(n: int, rng: np.random.Generator) -> Data:
    ei, _ = _undirected(_gnp(n, 6.0, rng), n, rng)
    from graphkit.ops import to_csr

    a = to_csr(ei, n).to_dense()
    tri = ((a @ a) * a).sum(1) / 2
    return Data(x=torch.ones(n, 1), edge_index=ei, y=tri.float(), num_nodes=n)


def _ring(nodes: np.ndarray) -> np.ndarray:
    return np.stack([nodes, np.roll(nodes, -1)], axis=1)


def _connectivity(n: int, rng: np.random.Generator, label: int) -> Data:
    chords = max(n // 10, 1)
    order = rng.permutation(n)
    if label:
        parts = [order]
    else:
        k = int(rng.integers(max(n // 4, 3), max(3 * n // 4, 4) + 1)) if n >= 6 else n // 2
        parts = [order[:k], order[k:]]
    edges = [_ring(p) for p in parts]
    per = np.array([len(p) for p in parts]) / n
    counts = np.floor(per * chords).astype(int)
    counts[0] += chords - counts.sum()
    for p, c in zip(parts, counts):
        edges.append(p[rng.integers(0, len(p), size=(c, 2))])
    ei, _ = _undirected(np.concatenate(edges), n, rng)
    return Data(x=torch.ones(n, 1), edge_index=ei, y=torch.tensor([label]), num_nodes=n)


def _colour(n: int, rng: np.random.Generator, colours: int = 4) -> Data:
    ei, _ = _undirected(_gnp(n, 3.0, rng), n, rng)
    while True:
        p = rng.dirichlet(np.ones(colours))
        c = rng.choice(colours, size=n, p=p)
        counts = np.bincount(c, minlength=colours)
        if (counts == counts.max()).sum() == 1:
            break
    x = torch.nn.functional.one_hot(torch.from_numpy(c), colours).float()
    return Data(x=x, edge_index=ei, y=torch.tensor([int(counts.argmax())]), num_nodes=n)


def _shortest_path(n: int, rng: np.random.Generator) -> Data:
    edges = np.concatenate([_tree(n, rng), rng.integers(0, n, size=(max(n // 10, 1), 2))])
    src = int(rng.integers(n))
    dist = _hops(edges, n, src)
    ei, perm = _undirected(edges, n, rng)
    y = torch.empty(n)
    y[torch.from_numpy(perm)] = torch.from_numpy(dist).float()
    x = torch.zeros(n, 2)
    x[:, 0] = 1.0
    x[int(perm[src]), 1] = 1.0
    return Data(x=x, edge_index=ei, y=y, num_nodes=n)


#: name -> (generator(n, rng, index), level, num_classes (0: regression), metric, locality)
SYNTHETIC_TASKS: Dict[str, Tuple[Callable[..., Data], str, int, str, str]] = {
    'degree': (lambda n, rng, i: _degree(n, rng), 'node', 11, 'acc', 'local'),
    'cycle': (lambda n, rng, i: _cycle(n, rng, i % 2), 'graph', 2, 'acc', 'local'),
    'triangles': (lambda n, rng, i: _triangles(n, rng), 'node', 0, 'rmse', 'local'),
    'connectivity': (lambda n, rng, i: _connectivity(n, rng, i % 2), 'graph', 2, 'acc', 'global'),
    'colour': (lambda n, rng, i: _colour(n, rng), 'graph', 4, 'acc', 'global'),
    'shortest-path': (lambda n, rng, i: _shortest_path(n, rng), 'node', 0, 'rmse', 'global'),
}
_ALIASES = {'color': 'colour', 'triangle': 'triangles', 'sp': 'shortest-path', 'shortest_path': 'shortest-path'}


def make_synthetic(task: str, num_graphs: int = 200, num_nodes: int = 1000, seed: int = 0) -> GraphDataset:
    r"""Generate the synthetic :obj:`task` (a key of :obj:`SYNTHETIC_TASKS`): :obj:`num_graphs` graphs of
    :obj:`num_nodes` nodes from a generator seeded with :obj:`seed`, and a seeded 60 / 20 / 20 split."""
    key = _ALIASES.get(task, task)
    if key not in SYNTHETIC_TASKS:
        raise ValueError(f"Unknown synthetic task '{task}'; known: {', '.join(SYNTHETIC_TASKS)}")
    if num_graphs < 3:
        raise ValueError(f"'num_graphs' must be >= 3 (got {num_graphs})")
    if num_nodes < 4:
        raise ValueError(f"'num_nodes' must be >= 4 (got {num_nodes})")
    gen, level, num_classes, metric, locality = SYNTHETIC_TASKS[key]
    rng = np.random.default_rng(seed)
    graphs: List[Data] = [gen(num_nodes, rng, i) for i in range(num_graphs)]
    perm = torch.from_numpy(rng.permutation(num_graphs))
    a, b = int(0.6 * num_graphs), int(0.8 * num_graphs)
    split = {'train': perm[:a], 'valid': perm[a:b], 'test': perm[b:]}
    info: Dict[str, Any] = {'generator': key, 'locality': locality, 'num_graphs': num_graphs, 'num_nodes': num_nodes}
    info['seed'] = seed
    return GraphDataset(f'synthetic-{key}', graphs, num_classes, level, metric, split, 'in-process', info)


def load_synthetic_dataset(
    name: str, root: str = '', seed: int = 0, num_graphs: int = 200, num_nodes: int = 1000, **kwargs: Any
) -> GraphDataset:
    r"""``synthetic-<task>`` as a registry loader (nothing is read from :obj:`root`)."""
    return make_synthetic(name[len('synthetic-') :], num_graphs, num_nodes, seed)
