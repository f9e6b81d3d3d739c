r"""The GSM++ tokenisers as PyG transforms, and the sequence helpers the model uses: HAC-DFS orders and their
inverse permutation, HAC-BFS multi-level tokens, k-hop (NAGphormer) tokens, random-walk tokens, and the LCA levels
of the hierarchical positional encoding (`"Best of Both Worlds: Advantages of Hybrid Graph Sequence Models"
<https://arxiv.org/abs/2411.15671>`_).

Every transform works on one :class:`~torch_geometric.data.Data` or on a :class:`~torch_geometric.data.Batch`
(many graphs at once, vectorised) and stores **graph-local** node indices, so a tokenised graph can be cached as a
``pre_transform`` and batched later: a batch's global index is ``local + batch.ptr[batch.batch]``.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data
from torch_geometric.transforms import BaseTransform
from torch_geometric.utils import scatter

from graphkit.ops import gcn_norm, spmm, to_csr
from graphkit.tokenize.hac import AFFINITIES, edge_affinity, hac, node_scores

__all__ = [
    'FEATURES',
    'HACTokenizer',
    'KHopTokens',
    'RandomWalkTokens',
    'structural_features',
    'random_walk_pe',
    'graph_offsets',
    'dfs_permutation',
    'hac_bfs_tokens',
    'khop_tokens',
    'lca_levels',
    'tokenize_graphs',
]

#: What the HAC affinity can be computed from (``features`` of :class:`HACTokenizer`).
FEATURES = ('auto', 'x', 'degree', 'rwpe')

#: Above this many entries of the ``[nodes, n_max]`` block, RWPE is computed chunk by chunk of graphs.
_RWPE_BLOCK = 2_000_000


def graph_offsets(data: Data) -> Tuple[Tensor, Tensor]:
    r"""``(batch, ptr)`` of :obj:`data`: the graph of each node and the first node of each graph (one graph
    when :obj:`data` is not a batch). Nodes must be grouped by graph, as PyG's loaders guarantee."""
    n = int(data.num_nodes)
    batch = getattr(data, 'batch', None)
    if batch is None:
        return torch.zeros(n, dtype=torch.long), torch.tensor([0, n])
    ptr = getattr(data, 'ptr', None)
    if ptr is None:
        counts = torch.bincount(batch)
        ptr = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
    if batch.numel() > 1 and bool((batch[1:] < batch[:-1]).any()):
        raise ValueError("'batch' must be sorted: the nodes of each graph contiguous, as PyG's loaders give them")
    return batch, ptr


def random_walk_pe(edge_index: Tensor, num_nodes: int, batch: Tensor, ptr: Tensor, steps: int) -> Tensor:
    r"""Random-walk landing probabilities :math:`[(\mathbf{P}^k)_{vv}]_{k=1}^{K}`, :math:`\mathbf{P} =
    \mathbf{D}^{-1}\mathbf{A}` (RWSE of GraphGPS), exactly. :math:`\mathrm{diag}(\mathbf{P}^k) =
    \mathrm{diag}(\mathbf{S}^k)` with :math:`\mathbf{S} = \mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}`, so the
    walks of all start nodes of a graph are one sparse-dense product per step on a ``[nodes, n_max]`` block;
    large batches go chunk by chunk of graphs (a loop over chunks, not nodes)."""
    n = int(num_nodes)
    out = torch.zeros(n, steps)
    if n == 0 or steps == 0:
        return out
    sizes = (ptr[1:] - ptr[:-1]).tolist()
    g, num_graphs = 0, len(sizes)
    while g < num_graphs:  # greedy chunks of whole graphs with nodes * n_max <= _RWPE_BLOCK
        h, nodes, nmax = g, 0, 0
        while h < num_graphs:
            nn_, mm = nodes + sizes[h], max(nmax, sizes[h])
            if h > g and nn_ * mm > _RWPE_BLOCK:
                break
            nodes, nmax, h = nn_, mm, h + 1
        a, b = int(ptr[g]), int(ptr[h])
        keep = (edge_index[0] >= a) & (edge_index[0] < b)
        sub = edge_index[:, keep] - a
        s = gcn_norm(to_csr(sub, b - a), add_self_loops=False)
        local = torch.arange(a, b) - ptr[batch[a:b]]
        m = torch.zeros(b - a, max(nmax, 1))
        m[torch.arange(b - a), local] = 1.0
        for k in range(steps):
            m = spmm(s, m)
            out[a:b, k] = m[torch.arange(b - a), local]
        g = h
    return out


def structural_features(
    edge_index: Tensor, num_nodes: int, batch: Tensor, ptr: Tensor, kinds: Sequence[str], rw_steps: int = 8
) -> Tensor:
    r"""Label-free node encodings: ``'degree'`` (:math:`\log(1 + d_v)`) and ``'rwpe'`` (:func:`random_walk_pe`)."""
    cols = []
    if 'degree' in kinds:
        deg = scatter(torch.ones(edge_index.size(1)), edge_index[0], dim=0, dim_size=num_nodes, reduce='sum')
        cols.append(torch.log1p(deg).view(-1, 1))
    if 'rwpe' in kinds:
        cols.append(random_walk_pe(edge_index, num_nodes, batch, ptr, rw_steps))
    return torch.cat(cols, dim=1) if cols else torch.zeros(num_nodes, 0)


def _undirected(edge_index: Tensor) -> Tensor:
    ei = torch.cat([edge_index, edge_index.flip(0)], dim=1)
    return ei[:, ei[0] != ei[1]]


class HACTokenizer(BaseTransform):
    r"""The hierarchical affinity clustering (HAC) tokeniser of GSM++, from the `"Best of Both Worlds:
    Advantages of Hybrid Graph Sequence Models" <https://arxiv.org/abs/2411.15671>`_ paper (see
    :mod:`graphkit.tokenize.hac` for the algorithm and its tie-breaking).

    Edge affinities :math:`w_{uv} = \mathrm{sim}(\mathbf{f}_u, \mathbf{f}_v)` from the node encodings
    :math:`\mathbf{f}` (:obj:`features`), Borůvka rounds over all edges of all graphs at once, then per node

    * ``hac_root`` ``[N]``: the representative of its root cluster (= its connected component),
    * ``hac_path`` ``[N, L]``: the representatives of its clusters at levels :math:`1..L` (finest first; a
      component that stopped merging repeats its root up to the pad width),
    * ``hac_order`` ``[N]``: the HAC-DFS leaf rank inside its graph (sorting by root, then by each level from the
      coarsest, then by node rank: every cluster is one contiguous block),
    * ``hac_depth`` ``[N]``: the number of rounds its component took (:math:`\le \lceil \log_2 n \rceil`),
    * ``node_order`` ``[N]``: its rank inside its graph by the node score alone (the plain *node* tokenisation),

    all as graph-local node indices.

    Args:
        features (str or sequence of str): What :math:`\mathbf{f}` is made of: ``'x'`` (the node features),
            ``'degree'``, ``'rwpe'`` (random-walk landing probabilities), any combination, or ``'auto'``: ``x``
            when the graph has non-constant node features, ``('degree', 'rwpe')`` otherwise.
            (default: :obj:`'auto'`)
        affinity (str): ``'cosine'``, ``'dot'`` or ``'neg_l2'``. (default: :obj:`'cosine'`)
        rw_steps (int): Walk lengths :math:`1..K` of ``'rwpe'``. (default: :obj:`8`)
        num_levels (int, optional): Pad width :math:`L` of ``hac_path`` (so graphs of a dataset can be batched);
            a graph that needs more rounds is an error. :obj:`None`: the graph's own number of rounds.
            (default: :obj:`16`, enough for :math:`2^{16}` nodes)
    """

    def __init__(
        self,
        features: Union[str, Sequence[str]] = 'auto',
        affinity: str = 'cosine',
        rw_steps: int = 8,
        num_levels: Optional[int] = 16,
    ) -> None:
        feats = (features,) if isinstance(features, str) else tuple(features)
        name = self.__class__.__name__
        bad = [f for f in feats if f not in FEATURES]
        if bad or not feats or ('auto' in feats and len(feats) > 1):
            raise ValueError(
                f"'{name}' got unknown 'features' {list(feats)} (expected 'auto' or a combination of x, degree, rwpe)"
            )
        if affinity not in AFFINITIES:
            raise ValueError(f"'{name}' got an unknown 'affinity' '{affinity}' (expected one of {AFFINITIES})")
        if rw_steps < 1:
            raise ValueError(f"'{name}' expects 'rw_steps' >= 1 (got {rw_steps})")
        if num_levels is not None and num_levels < 1:
            raise ValueError(f"'{name}' expects 'num_levels' >= 1 or None (got {num_levels})")
        self.features, self.affinity, self.rw_steps, self.num_levels = feats, affinity, rw_steps, num_levels

    def encodings(self, data: Data, batch: Tensor, ptr: Tensor) -> Tensor:
        r"""The node encodings :math:`\mathbf{f}` the affinities are computed from."""
        x = data.x if 'x' in data else None
        kinds = self.features
        if kinds == ('auto',):
            constant = x is None or x.numel() == 0 or bool((x == x[:1]).all())
            kinds = ('degree', 'rwpe') if constant else ('x',)
        if 'x' in kinds and x is None:
            raise ValueError(f"'{self.__class__.__name__}' was asked for features 'x', but the graph has no 'x'")
        n = int(data.num_nodes)
        cols = [x.reshape(n, -1).double()] if 'x' in kinds else []
        rest = [k for k in kinds if k != 'x']
        if rest:
            ei = _undirected(data.edge_index)
            cols.append(structural_features(ei, n, batch, ptr, rest, self.rw_steps).double())
        return torch.cat(cols, dim=1)

    def forward(self, data: Data) -> Data:
        n = int(data.num_nodes)
        batch, ptr = graph_offsets(data)
        feat = self.encodings(data, batch, ptr)
        ei = data.edge_index
        w = edge_affinity(feat, ei[0], ei[1], self.affinity)
        score = node_scores(feat)
        res = hac(ei, n, w, score)
        width = res.num_levels if self.num_levels is None else self.num_levels
        if res.num_levels > width:
            raise ValueError(
                f"'{self.__class__.__name__}': a graph needs {res.num_levels} HAC rounds, more than "
                f"'num_levels' = {width}; raise num_levels (or pass None)"
            )
        levels = res.levels
        if levels.size(1) < width:  # pad with the root
            levels = torch.cat([levels, res.root.view(-1, 1).expand(n, width - levels.size(1))], dim=1)
        base = ptr[batch]
        data.hac_root = res.root - base
        data.hac_path = levels - base.view(-1, 1)
        data.hac_depth = res.depth
        data.hac_order = _dfs_rank(levels, res.root, res.rank, batch, ptr)
        node_perm = torch.sort(res.rank, stable=True).indices  # nodes by rank; then group by graph
        node_perm = node_perm[torch.sort(batch[node_perm], stable=True).indices]
        order = torch.empty_like(node_perm)
        order[node_perm] = torch.arange(n)
        data.node_order = order - base
        return data

    def __repr__(self) -> str:
        feats = self.features[0] if len(self.features) == 1 else list(self.features)
        return (
            f"{self.__class__.__name__}(features={feats!r}, affinity='{self.affinity}', num_levels={self.num_levels})"
        )


def _dfs_rank(levels: Tensor, root: Tensor, rank: Tensor, batch: Tensor, ptr: Tensor) -> Tensor:
    """The HAC-DFS position of every node inside its graph: sort by (graph, root, level L, ..., level 1, node),
    each key being the rank of the representative, by successive stable sorts from the least significant key."""
    n = rank.numel()
    perm = torch.sort(rank, stable=True).indices
    keys = [rank[levels[:, l]] for l in range(levels.size(1))] + [rank[root], batch]
    for key in keys:
        perm = perm[torch.sort(key[perm], stable=True).indices]
    pos = torch.empty_like(perm)
    pos[perm] = torch.arange(n)
    return pos - ptr[batch]


def dfs_permutation(order: Tensor, batch: Tensor, ptr: Tensor) -> Tuple[Tensor, Tensor]:
    r"""``(perm, inverse)`` of a per-graph order (``hac_order`` or ``node_order``, graph-local ranks):
    ``x[perm]`` lists each graph's nodes in that order (graphs stay contiguous, so
    :func:`~torch_geometric.utils.to_dense_batch` applies), and ``x[perm][inverse] == x``."""
    inverse = order + ptr[batch]  # the sequence position of each node
    perm = torch.empty_like(inverse)
    perm[inverse] = torch.arange(inverse.numel(), device=inverse.device)
    return perm, inverse


def hac_bfs_tokens(h: Tensor, path: Tensor, num_levels: int) -> Tensor:
    r"""HAC-BFS tokens: per node, the mean of :obj:`h` over each of its clusters at levels :math:`1..K`,
    preceded by its own row (level 0), as a ``[N, K + 1, F]`` tensor ordered fine to coarse.

    .. math::
        \mathbf{t}_{v,0} = \mathbf{h}_v, \qquad
        \mathbf{t}_{v,\ell} = \frac{1}{|C_\ell(v)|} \sum_{u \in C_\ell(v)} \mathbf{h}_u

    Args:
        h (Tensor): ``[N, F]`` node representations.
        path (Tensor): ``[N, L]`` *global* representatives (``hac_path + ptr[batch]``).
        num_levels (int): :math:`K \le L`, the levels used.
    """
    n, k = h.size(0), min(num_levels, path.size(1))
    if k == 0:
        return h.unsqueeze(1)
    idx = path[:, :k] + torch.arange(k, device=h.device).view(1, -1) * n  # one scatter for every level
    pooled = scatter(h.repeat(k, 1), idx.t().reshape(-1), dim=0, dim_size=k * n, reduce='mean')
    tokens = pooled[idx.reshape(-1)].view(n, k, -1)
    return torch.cat([h.unsqueeze(1), tokens], dim=1)


def khop_tokens(h: Tensor, adj: Tensor, hops: int) -> Tensor:
    r"""NAGphormer's Hop2Token: :math:`[\mathbf{h}, \hat{\mathbf{A}}\mathbf{h}, \dots, \hat{\mathbf{A}}^K
    \mathbf{h}]` as ``[N, K + 1, F]``, with :obj:`adj` the normalised adjacency :math:`\hat{\mathbf{A}}`
    (:func:`graphkit.ops.gcn_norm`)."""
    out = [h]
    for _ in range(hops):
        out.append(spmm(adj, out[-1]))
    return torch.stack(out, dim=1)


def lca_levels(path_u: Tensor, path_v: Tensor, same_node: Optional[Tensor] = None) -> Tensor:
    r"""The level of the lowest common ancestor of node pairs in the HAC tree: 0 for the same node, :math:`\ell`
    for the finest level :math:`\ell \ge 1` at which both are in one cluster, and :math:`L + 1` when they are in
    different components. :obj:`path_u` / :obj:`path_v` are ``[..., L]`` (broadcast) representative paths."""
    eq = (path_u == path_v).long()
    L = path_u.size(-1)
    lvl = L + 1 - eq.sum(-1)  # nested clusters: once equal, equal at every coarser level
    if same_node is not None:
        lvl = torch.where(same_node, torch.zeros_like(lvl), lvl)
    return lvl


class KHopTokens(BaseTransform):
    r"""NAGphormer's k-hop tokens of the node features (`"NAGphormer: A Tokenized Graph Transformer for Node
    Classification in Large Graphs" <https://arxiv.org/abs/2206.04910>`_): stores ``khop_x`` ``[N, K + 1, F]``
    (see :func:`khop_tokens`; :math:`\hat{\mathbf{A}}` with self-loops). GSM++ computes the same tokens of its
    local-encoder outputs inside the model; this transform gives them of the raw features.

    Args:
        hops (int): :math:`K`. (default: :obj:`3`)
    """

    def __init__(self, hops: int = 3) -> None:
        if hops < 1:
            raise ValueError(f"'{self.__class__.__name__}' expects 'hops' >= 1 (got {hops})")
        self.hops = hops

    def forward(self, data: Data) -> Data:
        if data.x is None:
            raise ValueError(f"'{self.__class__.__name__}' needs node features 'x'")
        adj = gcn_norm(to_csr(data.edge_index, int(data.num_nodes)))
        data.khop_x = khop_tokens(data.x.float(), adj, self.hops)
        return data

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(hops={self.hops})'


class RandomWalkTokens(BaseTransform):
    r"""Random-walk tokens (as in CRaWl / Graph Mamba's walk tokenisations): per node, one uniform random walk
    of :obj:`walk_length` steps starting at it, stored as ``rw_nodes`` ``[N, walk_length + 1]`` graph-local node
    indices (position 0 is the start node; an isolated node stays in place). Every walk advances one step at a
    time for all nodes at once. The walks are drawn from a :class:`torch.Generator` seeded with :obj:`seed`, so
    the transform is deterministic and cacheable.

    Args:
        walk_length (int): Steps per walk. (default: :obj:`8`)
        seed (int): Seed of the walks. (default: :obj:`0`)
    """

    def __init__(self, walk_length: int = 8, seed: int = 0) -> None:
        if walk_length < 1:
            raise ValueError(f"'{self.__class__.__name__}' expects 'walk_length' >= 1 (got {walk_length})")
        self.walk_length, self.seed = walk_length, seed

    def forward(self, data: Data) -> Data:
        n = int(data.num_nodes)
        batch, ptr = graph_offsets(data)
        adj = to_csr(data.edge_index, n)
        rowptr, col = adj.crow_indices().long(), adj.col_indices().long()
        deg = rowptr[1:] - rowptr[:-1]
        gen = torch.Generator().manual_seed(self.seed)
        cur = torch.arange(n)
        walk = [cur]
        for _ in range(self.walk_length):
            d = deg[cur]
            r = (torch.rand(n, generator=gen, dtype=torch.float64) * d.clamp(min=1)).long()
            nxt = col[(rowptr[cur] + r).clamp(max=max(col.numel() - 1, 0))] if col.numel() else cur
            cur = torch.where(d > 0, nxt, cur)
            walk.append(cur)
        data.rw_nodes = torch.stack(walk, dim=1) - ptr[batch].view(-1, 1)
        return data

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(walk_length={self.walk_length}, seed={self.seed})'


#: The per-node attributes the tokenisers add (all graph-local, first dimension the node).
TOKEN_KEYS = ('hac_root', 'hac_path', 'hac_order', 'hac_depth', 'node_order', 'khop_x', 'rw_nodes')


def tokenize_graphs(graphs: Sequence[Data], transform: Any, chunk: int = 512) -> List[Data]:
    r"""Apply a tokenising :obj:`transform` to many graphs, :obj:`chunk` graphs per call (each call one
    :class:`~torch_geometric.data.Batch`, vectorised), and return one tokenised copy of each graph."""
    out: List[Data] = []
    for start in range(0, len(graphs), chunk):
        part = list(graphs[start : start + chunk])
        batch = Batch.from_data_list(part)
        counts = (batch.ptr[1:] - batch.ptr[:-1]).tolist()
        batch = transform(batch)
        pieces = {k: batch[k].split(counts) for k in TOKEN_KEYS if k in batch}
        for i, g in enumerate(part):
            g = g.clone()
            for k, chunks in pieces.items():
                g[k] = chunks[i]
            out.append(g)
    return out
