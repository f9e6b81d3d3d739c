r"""Per-node link-prediction metrics by full ranking, the protocol of ``eval_comprehensive`` in the
`"A Topological Perspective on Demystifying GNN-Based Link Prediction Performance"
<https://arxiv.org/abs/2310.04612>`_ code: every evaluation node is scored against **all** :math:`N` nodes with a
trained link predictor, known neighbours are masked, and its held-out neighbours are the ground truth.

This is recommender-style ranking (one query per node), separate from the edge-level OGB Hits@K of
:mod:`graphkit.metrics.link` used for model selection. The ranking itself (chunked, ordinal ties, Recall /
Precision / F1 / NDCG / Hit at :math:`k` and MRR) is :func:`graphkit.metrics.ranking.ranking_metrics`.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Iterable, Optional

import torch
from torch import Tensor

from graphkit.metrics.ranking import ranking_metrics
from graphkit.ops import check_edge_index, to_csr

__all__ = ['node_link_metrics', 'split_node_link_metrics', 'DEFAULT_NODE_KS']

#: The cut-offs of the official per-node evaluation.
DEFAULT_NODE_KS = (5, 10, 20, 50, 100)

#: Values of ``exclude`` in :func:`split_node_link_metrics`.
_EXCLUDE = ('known', 'none')


def _edges(split: Dict[str, Tensor], name: str) -> Tensor:
    if 'edge' not in split:
        raise ValueError(
            f"Split '{name}' needs an 'edge' array of shape (E, 2) for per-node metrics (got keys {sorted(split)})"
        )
    return split['edge'].t().long()


@torch.no_grad()
def node_link_metrics(
    model: Any,
    x: Optional[Tensor],
    adj: Tensor,
    truth_edges: Tensor,
    num_nodes: Optional[int] = None,
    *,
    exclude_edges: Optional[Tensor] = None,
    exclude_self: bool = False,
    ks: Iterable[int] = DEFAULT_NODE_KS,
    chunk_size: int = 64,
    queries: Optional[Tensor] = None,
    h: Optional[Tensor] = None,
    pair_chunk_size: int = 2048,
) -> Dict[str, Tensor]:
    r"""Per-node Recall / Precision / F1 / NDCG / Hit at each :math:`k` and MRR, ranking every query node
    against all :math:`N` nodes with :obj:`model.predict(model.encode(x, adj), adj, pairs)`.

    .. math::
        \mathrm{score}_{iv} = \mathrm{predict}(\mathbf{H}, \mathbf{A}, (i, v)) \quad \forall v \in \mathcal{V},
        \qquad \mathrm{score}_{iv} = -\infty \text{ for } v \in \mathcal{X}_i

    Ground truth of node :math:`i` are its neighbours in :obj:`truth_edges`; :math:`\mathcal{X}_i` its
    neighbours in :obj:`exclude_edges` (and :math:`i` itself if :obj:`exclude_self`). Ties are ordinal (lower
    node index first); MRR is :math:`1 / \mathrm{rank}` of the best-ranked true neighbour in the full ranking.
    Memory is :math:`O(\text{chunk\_size} \cdot N)` for the scores; the model sees at most
    :obj:`pair_chunk_size` pairs per call, so its intermediates stay small (large ones cost page faults).

    .. note::
        The official code does not exclude the query node itself (:obj:`exclude_self=False` reproduces it) and
        masks with a score of :math:`-1024` instead of :math:`-\infty` (identical unless a logit is below
        :math:`-1024`).

    Args:
        model: A link model with ``encode(x, adj)`` and ``predict(h, adj, pairs)`` (put in eval mode here).
        x (torch.Tensor, optional): Node features, or :obj:`None`.
        adj (torch.Tensor): The message-passing adjacency (sparse CSR) used by the model.
        truth_edges (torch.Tensor): Held-out edges of shape :obj:`(2, E)` (read as undirected).
        num_nodes (int, optional): Number of nodes; default :obj:`adj.size(0)`.
        exclude_edges (torch.Tensor, optional): Known edges of shape :obj:`(2, E')` masked before ranking.
            (default: :obj:`None`)
        exclude_self (bool, optional): Also mask the query node itself. (default: :obj:`False`)
        ks (iterable of int, optional): Cut-offs. (default: :obj:`(5, 10, 20, 50, 100)`)
        chunk_size (int, optional): Query nodes scored at once. (default: :obj:`64`)
        queries (torch.Tensor, optional): Query nodes; default every node with a truth edge.
        h (torch.Tensor, optional): Precomputed :obj:`model.encode(x, adj)`. (default: :obj:`None`)
        pair_chunk_size (int, optional): Pairs per :obj:`model.predict` call. (default: :obj:`2048`)

    Returns:
        dict of :obj:`float64` tensors of shape :obj:`(N,)`: ``'recall@k'``, ``'precision@k'``, ``'f1@k'``,
        ``'ndcg@k'``, ``'hit@k'`` and ``'mrr'``, ``NaN`` for nodes that are not queries (or have no truth).
    """
    if int(pair_chunk_size) < 1:
        raise ValueError(f"'pair_chunk_size' must be a positive integer (got {pair_chunk_size})")
    n = int(num_nodes) if num_nodes is not None else int(adj.size(0))
    check_edge_index(truth_edges, n, name='truth_edges')
    if exclude_edges is not None:
        check_edge_index(exclude_edges, n, name='exclude_edges')
    device = truth_edges.device
    truth = to_csr(truth_edges.long(), n)
    if queries is None:
        queries = (truth.crow_indices().diff() > 0).nonzero().view(-1)
    exclude = None
    if exclude_edges is not None or exclude_self:
        ex = exclude_edges.long() if exclude_edges is not None else truth_edges.new_empty(2, 0).long()
        exclude = to_csr(ex, n, self_loops='add' if exclude_self else 'remove')
    if hasattr(model, 'eval'):
        model.eval()
    if h is None:
        h = model.encode(x, adj)
    cand = torch.arange(n, device=device)

    def score_fn(q: Tensor) -> Tensor:
        pairs = torch.stack([q.repeat_interleave(n), cand.repeat(q.numel())])
        parts = [model.predict(h, adj, p).view(-1) for p in pairs.split(pair_chunk_size, dim=1)]
        return torch.cat(parts).view(q.numel(), n)

    per_query = ranking_metrics(score_fn, truth, ks, exclude=exclude, chunk_size=chunk_size, queries=queries)
    out = {}
    for key, val in per_query.items():
        full = torch.full((n,), math.nan, dtype=torch.float64, device=device)
        full[queries] = val.to(torch.float64)
        out[key] = full
    return out


def split_node_link_metrics(
    model: Any,
    x: Optional[Tensor],
    adj: Tensor,
    split_edge: Dict[str, Dict[str, Tensor]],
    split: str = 'test',
    num_nodes: Optional[int] = None,
    *,
    exclude: str = 'known',
    exclude_self: bool = False,
    ks: Iterable[int] = DEFAULT_NODE_KS,
    chunk_size: int = 64,
    pair_chunk_size: int = 2048,
) -> Dict[str, Tensor]:
    r"""Per-node metrics of an OGB split dict with the official masks. Every node with a held-out edge in
    :obj:`split` is a query and its held-out neighbours are the truth; with :obj:`exclude='known'` the edges known
    before that split are masked from its ranking: for :obj:`split='test'` its train and valid neighbours, for
    :obj:`'valid'` its train neighbours. :obj:`exclude='none'` masks nothing, as the official collab
    evaluation. See :func:`node_link_metrics`.

    Args:
        model: A link model with ``encode(x, adj)`` and ``predict(h, adj, pairs)``.
        x (torch.Tensor, optional): Node features, or :obj:`None`.
        adj (torch.Tensor): The message-passing adjacency (sparse CSR) used by the model.
        split_edge (dict): OGB split dict with ``'train'``, ``'valid'``, ``'test'`` holding ``'edge'`` (E, 2).
        split (str, optional): The split whose edges are the truth: :obj:`'test'` or :obj:`'valid'`.
            (default: :obj:`'test'`)
        num_nodes (int, optional): Number of nodes; default :obj:`adj.size(0)`.
        exclude (str, optional): Which known edges are masked before ranking: :obj:`'known'` (train, plus
            valid when :obj:`split='test'`) or :obj:`'none'`. (default: :obj:`'known'`)
        exclude_self (bool, optional): Also mask the query node itself. (default: :obj:`False`)
        ks (iterable of int, optional): Cut-offs. (default: :obj:`(5, 10, 20, 50, 100)`)
        chunk_size (int, optional): Query nodes scored at once. (default: :obj:`64`)
        pair_chunk_size (int, optional): Pairs per :obj:`model.predict` call. (default: :obj:`2048`)
    """
    if split not in ('test', 'valid'):
        raise ValueError(f"'split' must be 'test' or 'valid' (got {split!r})")
    if exclude not in _EXCLUDE:
        raise ValueError(f"'exclude' must be one of {_EXCLUDE} (got {exclude!r})")
    device = adj.device
    truth = _edges(split_edge[split], split).to(device)
    known = None
    if exclude == 'known':
        parts = [_edges(split_edge['train'], 'train')]
        if split == 'test':
            parts.append(_edges(split_edge['valid'], 'valid'))
        known = torch.cat(parts, dim=1).to(device)
    return node_link_metrics(
        model,
        x,
        adj,
        truth,
        num_nodes,
        exclude_edges=known,
        exclude_self=exclude_self,
        ks=ks,
        chunk_size=chunk_size,
        pair_chunk_size=pair_chunk_size,
    )
