r"""Hierarchical affinity clustering (HAC) of graphs, vectorised over edges, for the GSM++ tokenisers of the
`"Best of Both Worlds: Advantages of Hybrid Graph Sequence Models" <https://arxiv.org/abs/2411.15671>`_ paper.

**The algorithm** (affinity clustering, Bateni et al., NeurIPS 2017: Borůvka rounds on the edge affinities).
Every edge :math:`(u, v)` gets an affinity :math:`w_{uv} = \mathrm{sim}(\mathbf{f}_u, \mathbf{f}_v)` (cosine by
default) of the node encodings :math:`\mathbf{f}`. Clusters start as singletons. In one round, every cluster
:math:`C` with an edge to another cluster selects its best such edge,

.. math::
    e^{\star}(C) = \operatorname*{arg\,max}_{(u, v) \in E,\; u \in C,\; v \notin C}
    \big(w_{uv},\; -\min(\rho_C, \rho_{C'}),\; -\max(\rho_C, \rho_{C'})\big)

(lexicographically; :math:`C'` is the cluster of :math:`v`, :math:`\rho` a cluster's rank, below), and all
selected edges are contracted at once: the connected components of the selected cluster pairs become the clusters
of the next level. The cluster-pair order is strict, so the selected edges form a forest whose only cycles are
mutual selections (2-cycles); its components are found by pointer jumping (:math:`O(\log)` vectorised steps). Every
cluster of a component with an edge left merges in every round, so the number of clusters of a connected component
of size :math:`s` at least halves per round: at most :math:`\lceil \log_2 s \rceil` rounds of :math:`O(m)` work,
:math:`O(m \log n)` in total. Rounds stop when no edge joins two clusters, so **the roots are the connected
components**. Merging along the best edge of each cluster is Borůvka's maximum-spanning-forest step: HAC is
single-linkage clustering on the affinities, cut at the Borůvka rounds.

**Ranks and tie-breaking.** Node :math:`v`'s rank :math:`\rho_v` is its position when nodes are sorted by a score
(a fixed projection of :math:`\mathbf{f}_v`; see :func:`node_scores`), then by node index; a cluster's rank is
the smallest rank of its members, and the cluster is named by that member (its *representative*). Edge ties are
broken by the ranks of the two clusters. So the tree depends on the node numbering only through ties of the scores
and of the affinities; when neither ties (continuous features), relabelling the nodes relabels the tree and
nothing else.

Every step is a scatter or a gather over all edges of all graphs at once (a PyG ``Batch`` is one graph with
several components): the only Python loops are over rounds and pointer-jumping steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional

import torch
from torch import Tensor
from torch_geometric.utils import scatter

__all__ = ['HACResult', 'hac', 'hac_reference', 'node_scores', 'edge_affinity', 'AFFINITIES']

#: The affinities :func:`edge_affinity` knows.
AFFINITIES = ('cosine', 'dot', 'neg_l2')


@dataclass
class HACResult:
    r"""The HAC tree of a graph (or of a batch of graphs), in global node indices.

    Attributes:
        levels (Tensor): ``[N, L]``: ``levels[v, l]`` is the representative (the member of smallest rank) of
            :math:`v`'s cluster after round :math:`l + 1`; a component that stopped merging repeats its root.
            :math:`L` is the number of rounds (0 for a graph without edges).
        root (Tensor): ``[N]``: the representative of :math:`v`'s root cluster (its connected component).
        depth (Tensor): ``[N]``: the number of rounds in which :math:`v`'s component merged.
        rank (Tensor): ``[N]``: :math:`\rho_v`, a permutation of ``0..N-1``.
    """

    levels: Tensor
    root: Tensor
    depth: Tensor
    rank: Tensor

    @property
    def num_levels(self) -> int:
        return int(self.levels.size(1))


def node_scores(feat: Tensor) -> Tensor:
    r"""The score that orders nodes (ranks and sequence orders): :math:`s_v = \mathbf{f}_v^{\top} \mathbf{u}`
    with a fixed pseudo-random direction :math:`\mathbf{u}` (seed 0, independent of the node numbering), in
    float64."""
    gen = torch.Generator().manual_seed(0)
    u = torch.rand(feat.size(1), generator=gen, dtype=torch.float64) + 0.5
    return feat.double() @ u.to(feat.device)


def edge_affinity(feat: Tensor, src: Tensor, dst: Tensor, affinity: str = 'cosine') -> Tensor:
    r"""Affinity of each edge from the endpoint encodings: ``'cosine'`` :math:`\cos(\mathbf{f}_u, \mathbf{f}_v)`,
    ``'dot'`` :math:`\mathbf{f}_u^{\top}\mathbf{f}_v`, ``'neg_l2'`` :math:`-\|\mathbf{f}_u - \mathbf{f}_v\|_2`."""
    if affinity not in AFFINITIES:
        raise ValueError(f"'edge_affinity' got an unknown 'affinity' '{affinity}' (expected one of {AFFINITIES})")
    f = feat.double()
    if affinity == 'cosine':
        f = f / f.norm(dim=1, keepdim=True).clamp(min=1e-12)
        return (f[src] * f[dst]).sum(-1)
    if affinity == 'dot':
        return (f[src] * f[dst]).sum(-1)
    return -(f[src] - f[dst]).norm(dim=-1)


def _ranks(score: Tensor) -> Tensor:
    order = torch.sort(score, stable=True).indices  # ties: the smaller node index first
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel(), device=order.device)
    return rank


def _components(parent: Tensor) -> Tensor:
    """Roots of a pointer forest (``parent[r] == r`` at roots) by pointer jumping."""
    while True:
        nxt = parent[parent]
        if torch.equal(nxt, parent):
            return parent
        parent = nxt


def hac(
    edge_index: Tensor,
    num_nodes: int,
    weight: Tensor,
    score: Optional[Tensor] = None,
    max_rounds: Optional[int] = None,
) -> HACResult:
    r"""HAC by vectorised Borůvka rounds (see the module docstring).

    Args:
        edge_index (Tensor): ``[2, E]`` edges; read as undirected (both directions are used whatever is given).
        num_nodes (int): :math:`N`.
        weight (Tensor): ``[E]`` affinities of the edges (larger is closer), e.g. :func:`edge_affinity`.
        score (Tensor, optional): ``[N]`` node scores that define the ranks; :obj:`None`: the node index.
        max_rounds (int, optional): Stop after this many rounds (the roots are then no longer the components).
    """
    device = edge_index.device
    n = int(num_nodes)
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'hac' expects 'edge_index' of shape [2, E] (got {tuple(edge_index.shape)})")
    if weight.numel() != edge_index.size(1):
        raise ValueError(f"'hac' expects one 'weight' per edge ({edge_index.size(1)}, got {weight.numel()})")
    if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= n):
        raise ValueError(f"'hac': 'edge_index' holds node ids outside [0, {n})")
    rank = _ranks(torch.arange(n, device=device, dtype=torch.float64) if score is None else score.double())
    order = torch.empty_like(rank)
    order[rank] = torch.arange(n, device=device)  # order[rho] = the node of rank rho
    keep = edge_index[0] != edge_index[1]
    src = torch.cat([edge_index[0, keep], edge_index[1, keep]])
    dst = torch.cat([edge_index[1, keep], edge_index[0, keep]])
    w = torch.cat([weight[keep], weight[keep]]).double()
    label = rank.clone()  # a cluster is named by the smallest rank of its members
    levels: List[Tensor] = []
    ar = torch.arange(n, device=device)
    while max_rounds is None or len(levels) < max_rounds:
        cs, cd = label[src], label[dst]
        inter = cs != cd
        if not bool(inter.any()):
            break
        src, dst, w, cs, cd = src[inter], dst[inter], w[inter], cs[inter], cd[inter]  # intra edges never return
        best_w = scatter(w, cs, dim=0, dim_size=n, reduce='max')
        cand = w == best_w[cs]
        lo, hi = torch.minimum(cs, cd), torch.maximum(cs, cd)
        key = lo * n + hi
        big = torch.full((n,), n * n, dtype=torch.long, device=device)
        best_key = big.scatter_reduce(0, cs[cand], key[cand], reduce='amin', include_self=True)
        active = best_key < n * n
        blo, bhi = best_key // n, best_key % n
        parent = ar.clone()
        nbr = torch.where(blo == ar, bhi, blo)
        parent[active] = nbr[active]
        mutual = active & (parent[parent] == ar) & (ar < parent)
        parent[mutual] = ar[mutual]
        root = _components(parent)[label]  # per node: the root of its old cluster's merge tree
        new = scatter(label, root, dim=0, dim_size=n, reduce='min')[root]
        label = new
        levels.append(label)
    if levels:
        lv = torch.stack(levels, dim=1)
    else:
        lv = label.view(-1, 1)[:, :0]
    final = label
    # depth of a component: the first round after which every member carries the root label
    if lv.size(1):
        done = (lv == final.view(-1, 1)).long()
        first = lv.size(1) - done.sum(dim=1) + 1  # nested clusters: once the root, always the root
        first = torch.where(rank == final, torch.zeros_like(first), first)  # the root node joins nothing
        depth = scatter(first, final, dim=0, dim_size=n, reduce='max')[final]
    else:
        depth = torch.zeros(n, dtype=torch.long, device=device)
    return HACResult(levels=order[lv], root=order[final], depth=depth, rank=rank)


def hac_reference(edges: List[tuple], num_nodes: int, weights: List[float], scores: Optional[List[float]] = None):
    r"""The same clustering with Python loops over clusters and edges, and networkx for the contraction: the
    oracle of the tests and the benchmark's baseline. Returns the per-round representative lists."""
    import networkx as nx

    n = num_nodes
    if scores is None:
        scores = list(range(n))
    ranked = sorted(range(n), key=lambda v: (scores[v], v))
    rank = [0] * n
    for r, v in enumerate(ranked):
        rank[v] = r
    label = list(rank)
    rounds = []
    while True:
        best = {}
        for (u, v), wt in zip(edges, weights):
            for a, b in ((u, v), (v, u)):
                ca, cb = label[a], label[b]
                if ca == cb:
                    continue
                cand = (wt, -min(ca, cb), -max(ca, cb))
                if ca not in best or cand > best[ca][0]:
                    best[ca] = (cand, cb)
        if not best:
            break
        g = nx.Graph()
        g.add_nodes_from(set(label))
        g.add_edges_from((c, d) for c, (_, d) in best.items())
        new_of = {}
        for comp in nx.connected_components(g):
            m = min(comp)
            for c in comp:
                new_of[c] = m
        label = [new_of[c] for c in label]
        rounds.append([ranked[c] for c in label])
    return rounds


def max_depth_bound(num_nodes: int) -> int:
    r""":math:`\lceil \log_2 n \rceil`, the most rounds a connected graph of :math:`n` nodes can take."""
    return 0 if num_nodes <= 1 else math.ceil(math.log2(num_nodes))
