r"""A seeded graph that grows over time, its time-ordered link split (the layout of ``ogbl-collab``: train on the
early years, validate and test on later ones) and the topological distribution shift per time step, for the
analysis of the `"A Topological Perspective on Demystifying GNN-Based Link Prediction Performance"
<https://arxiv.org/abs/2310.04612>`_ paper where no time-stamped benchmark is at hand.

The generator (:func:`growing_graph`) is a preferential-attachment graph with triadic closure. Time runs in
``num_steps`` steps. In each step new nodes arrive and each links to ``edges_per_node`` existing nodes, and existing
nodes add ``activity`` × (current number of nodes) links among themselves, the events in random order. Each link
from a node :math:`i` goes, with probability ``closure``, to a neighbour of one of :math:`i`'s neighbours in the
graph **as it is at that moment** (closing a triangle), else to a node drawn with probability proportional to
degree + 1. So later links close triangles through links that are themselves late: measured on the training graph
of an early cut-off, a node's new neighbours are less concentrated around its training neighbourhood the later
they come, which is the shift the paper describes.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from graphkit.analysis.shift import distribution_shift
from graphkit.data.link_split import check_link_split, sample_non_edges, undirected_pairs
from graphkit.metrics.topology import node_degree, topological_concentration

__all__ = ['growing_graph', 'time_ordered_split', 'shift_by_time']


def _check_int(name: str, value: Any, low: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise ValueError(f"growing_graph: '{name}' must be an integer >= {low} (got {value!r})")
    return int(value)


def growing_graph(
    num_nodes: int = 2000,
    num_steps: int = 10,
    edges_per_node: int = 3,
    activity: float = 0.5,
    closure: float = 0.7,
    seed: int = 0,
    arrival_steps: Optional[int] = None,
) -> Tuple[Tensor, Tensor]:
    r"""A graph grown over :obj:`num_steps` time steps (see the module docstring), fully determined by
    :obj:`seed`.

    Args:
        num_nodes (int): Nodes at the end; they arrive in equal groups, one per step of the first
            :obj:`arrival_steps` (the first step starts from a clique of :obj:`edges_per_node` + 1 nodes).
            (default: :obj:`2000`)
        num_steps (int): Time steps. (default: :obj:`10`)
        edges_per_node (int): Links of an arriving node. (default: :obj:`3`)
        activity (float): Links among existing nodes per step, per existing node. (default: :obj:`0.5`)
        closure (float): Probability that a link closes a triangle (else degree-proportional). (default: :obj:`0.7`)
        seed (int): Seed of :class:`numpy.random.Generator`. (default: :obj:`0`)
        arrival_steps (int, optional): Steps during which nodes arrive; after them only existing nodes link (so a
            split after them has no node without training edges). (default: :obj:`num_steps`)

    Returns:
        ``(edge_index, edge_time)``: the undirected edges as pairs :math:`i < j` of shape :obj:`(2, E)`, each
        once, and the step in :math:`[0, \text{num\_steps})` at which each was formed, shape :obj:`(E,)`.
    """
    m = _check_int('edges_per_node', edges_per_node, 1)
    n = _check_int('num_nodes', num_nodes, m + 2)
    steps = _check_int('num_steps', num_steps, 1)
    arriving = steps if arrival_steps is None else _check_int('arrival_steps', arrival_steps, 1)
    if arriving > steps:
        raise ValueError(f"growing_graph: 'arrival_steps' ({arriving}) must be <= 'num_steps' ({steps})")
    if not 0.0 <= float(closure) <= 1.0:
        raise ValueError(f"growing_graph: 'closure' must be in [0, 1] (got {closure!r})")
    if not float(activity) >= 0.0:
        raise ValueError(f"growing_graph: 'activity' must be >= 0 (got {activity!r})")
    rng = np.random.default_rng(seed)
    nbrs: List[set] = [set() for _ in range(n)]
    ends: List[int] = []  # every edge's two end points: a uniform draw is degree-proportional
    edges: List[Tuple[int, int, int]] = []

    def link(i: int, j: int, t: int) -> None:
        nbrs[i].add(j)
        nbrs[j].add(i)
        ends.extend((i, j))
        edges.append((min(i, j), max(i, j), t))

    def preferential(alive: int) -> int:  # P(v) ∝ degree(v) + 1 over the nodes that exist
        total = len(ends) + alive
        r = int(rng.integers(total))
        return ends[r] if r < len(ends) else r - len(ends)

    def target(i: int, alive: int, anchors: List[int]) -> Optional[int]:
        for _ in range(20):  # a few tries to find a node not yet linked to i
            if anchors and rng.random() < closure:
                a = anchors[int(rng.integers(len(anchors)))]
                cand = list(nbrs[a])
                v = cand[int(rng.integers(len(cand)))] if cand else preferential(alive)
            else:
                v = preferential(alive)
            if v != i and v not in nbrs[i]:
                return v
        return None

    core = m + 1
    for i in range(core):
        for j in range(i + 1, core):
            link(i, j, 0)
    alive = core
    arrivals = np.array_split(np.arange(core, n), arriving)
    for t in range(steps):
        new = [int(v) for v in arrivals[t]] if t < arriving else []
        events = new + [-1] * int(round(activity * (alive + len(new) / 2)))
        rng.shuffle(events)
        for v in events:
            if v >= 0:  # a new node links to m existing ones
                chosen: List[int] = []
                for _ in range(min(m, alive)):
                    u = target(v, alive, chosen)
                    if u is not None:
                        link(v, u, t)
                        chosen.append(u)
                alive = v + 1
            else:  # an existing node (degree-proportional) links once more
                i = preferential(alive)
                u = target(i, alive, list(nbrs[i]))
                if u is not None:
                    link(i, u, t)
    e = torch.tensor(edges, dtype=torch.long).view(-1, 3)
    return e[:, :2].t().contiguous(), e[:, 2].contiguous()


def time_ordered_split(
    edge_index: Tensor,
    edge_time: Tensor,
    num_nodes: int,
    valid_from: int,
    test_from: int,
    num_neg: int = 1,
    seed: int = 0,
) -> Dict[str, Dict[str, Tensor]]:
    r"""An OGB-form link split by time, as ``ogbl-collab``'s: training edges are those with time
    :math:`t < \text{valid\_from}`, validation :math:`\text{valid\_from} \leq t < \text{test\_from}`, test
    :math:`t \geq \text{test\_from}`. Each split holds ``'edge'`` :obj:`(E, 2)` and ``'year'`` :obj:`(E,)`;
    valid and test also ``'edge_neg'``: :obj:`num_neg` uniform non-edges of the **whole** graph per positive,
    distinct, disjoint between the two, seeded. The split's post-conditions are asserted.

    Args:
        edge_index (torch.Tensor): Undirected edges, shape :obj:`(2, E)`, each pair once.
        edge_time (torch.Tensor): Integer time of each edge, shape :obj:`(E,)`.
        num_nodes (int): Number of nodes.
        valid_from (int): First validation time.
        test_from (int): First test time (:math:`> \text{valid\_from}`).
        num_neg (int): Negatives per positive. (default: :obj:`1`)
        seed (int): Seed of the negatives. (default: :obj:`0`)
    """
    ei, time = torch.as_tensor(edge_index).long(), torch.as_tensor(edge_time).long().view(-1)
    if ei.dim() != 2 or ei.size(0) != 2 or ei.size(1) != time.numel():
        raise ValueError(
            f"time_ordered_split: 'edge_index' must have shape (2, E) and 'edge_time' (E,) "
            f'(got {tuple(ei.shape)} and {tuple(time.shape)})'
        )
    if ei.numel() and (int(ei.min()) < 0 or int(ei.max()) >= num_nodes):
        raise ValueError(f"time_ordered_split: 'edge_index' holds node ids outside [0, {num_nodes})")
    if undirected_pairs(ei, num_nodes).size(1) != ei.size(1):
        raise ValueError("time_ordered_split: 'edge_index' must hold each undirected pair once, no self-loops")
    if not valid_from < test_from:
        raise ValueError(f"time_ordered_split: 'valid_from' ({valid_from}) must be < 'test_from' ({test_from})")
    if not isinstance(num_neg, int) or num_neg < 1:
        raise ValueError(f"time_ordered_split: 'num_neg' must be a positive integer (got {num_neg!r})")
    parts = {'train': time < valid_from, 'valid': (time >= valid_from) & (time < test_from), 'test': time >= test_from}
    for name, mask in parts.items():
        if not bool(mask.any()):
            raise ValueError(f"time_ordered_split: no '{name}' edges (times {int(time.min())}..{int(time.max())})")
    lo, hi = torch.minimum(ei[0], ei[1]), torch.maximum(ei[0], ei[1])
    gen = torch.Generator().manual_seed(seed)
    n_valid, n_test = int(parts['valid'].sum()) * num_neg, int(parts['test'].sum()) * num_neg
    neg = sample_non_edges(lo * num_nodes + hi, num_nodes, n_valid + n_test, gen)
    split: Dict[str, Dict[str, Tensor]] = {}
    for name, mask in parts.items():
        split[name] = {'edge': torch.stack([lo[mask], hi[mask]], 1), 'year': time[mask]}
    split['valid']['edge_neg'] = neg[:, :n_valid].t().contiguous()
    split['test']['edge_neg'] = neg[:, n_valid:].t().contiguous()
    check_link_split(split, num_nodes)
    return split


def shift_by_time(split_edge: Dict[str, Dict[str, Tensor]], num_nodes: int, K: int = 1) -> Dict[int, Dict[str, float]]:
    r"""The topological distribution shift of every time step after the training cut-off: for the edges of step
    :math:`t` (from the valid and test splits' ``'year'``), :func:`~graphkit.analysis.distribution_shift` of
    :math:`TC^{Train}` against :math:`TC^{t}` (exact, :obj:`K` hops, both on the **training** graph) over the
    nodes with an edge at :math:`t` and training degree :math:`\geq 2`.

    Returns:
        ``{t: {'num_nodes', 'num_edges', 'mean_tc_train', 'mean_tc_t', 'mean_gap', 'frac_lower'}}``, by time.
    """
    for s in ('train', 'valid', 'test'):
        if 'edge' not in split_edge.get(s, {}):
            raise ValueError(f"shift_by_time: split '{s}' needs an 'edge' array")
    for s in ('valid', 'test'):
        if 'year' not in split_edge[s]:
            raise ValueError(f"shift_by_time: split '{s}' needs a 'year' array (see time_ordered_split)")
    train = split_edge['train']['edge'].t().long()
    later = torch.cat([split_edge['valid']['edge'], split_edge['test']['edge']]).t().long()
    years = torch.cat([split_edge['valid']['year'], split_edge['test']['year']]).long()
    tc_train = topological_concentration(train, None, num_nodes, K=K)
    deg = node_degree(train, num_nodes)
    out: Dict[int, Dict[str, float]] = {}
    for t in torch.unique(years).tolist():
        edges = later[:, years == t]
        tc_t = topological_concentration(train, edges, num_nodes, K=K)
        has = (node_degree(edges, num_nodes) > 0) & (deg > 1)
        row = distribution_shift(tc_train, {'t': tc_t}, {'t': has})['t']
        out[int(t)] = {'num_edges': int(edges.size(1)), **row}
    return out
