r"""Node-level topology statistics for link-prediction analysis: degree, ego-subgraph density, the exact
Topological Concentration (TC) and its random-projection approximation (ATC) from the
`"A Topological Perspective on Demystifying GNN-Based Link Prediction Performance"
<https://arxiv.org/abs/2310.04612>`_ paper.

Everything is vectorised on sparse matrices and returns a tensor of shape :obj:`(N,)` on the device of the
input edges. The exact TC follows the semantics of the official ``cal_tc`` (walk multiplicities, the
:math:`\beta` weighting and the :math:`d_i - 1` normaliser of :math:`TC^{Train}`; see ``docs/tc.md``).
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from graphkit.ops import check_edge_index, coo_tensor

__all__ = [
    'node_degree',
    'subgraph_density',
    'topological_concentration',
    'approximate_tc',
    'weighted_tc',
    'default_beta',
]

_MODES = ('walk', 'set')
_ATC_NORMS = ('tc', 'self', 'cosine')
_PROPAGATIONS = ('sum', 'rw', 'gcn')


# Helpers ##############################################################################################


def _num_nodes(edge_index_train: Tensor, edge_index_t: Optional[Tensor], num_nodes: Optional[int]) -> int:
    n = check_edge_index(edge_index_train, num_nodes, name='edge_index_train')
    if edge_index_t is not None:
        n = max(n, check_edge_index(edge_index_t, num_nodes, name='edge_index_t'))
    return n


def _coo(edge_index: Tensor, num_nodes: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """Binary, symmetric, loop-free, coalesced sparse COO adjacency (values of :obj:`dtype`)."""
    row, col = edge_index.long()
    keep = row != col
    row, col = row[keep], col[keep]
    keys = torch.unique(torch.cat([row * num_nodes + col, col * num_nodes + row]))  # sorted: coalesced order
    idx = torch.stack([keys // num_nodes, keys % num_nodes])
    return coo_tensor(
        idx, torch.ones(keys.numel(), dtype=dtype, device=keys.device), (num_nodes, num_nodes), is_coalesced=True
    )


def _rowsum(m: Tensor) -> Tensor:
    m = m.coalesce()
    out = torch.zeros(m.size(0), dtype=m.dtype, device=m.device)
    return out.index_add_(0, m.indices()[0], m.values())


def _support(m: Tensor) -> Tensor:
    m = m.coalesce()
    keep = m.values() != 0
    idx = m.indices()[:, keep]
    return coo_tensor(idx, torch.ones(idx.size(1), dtype=m.dtype, device=m.device), m.shape).coalesce()


def _spmm(a: Tensor, b: Tensor) -> Tensor:
    return torch.sparse.mm(a, b).coalesce()


def _values_at(m: Tensor, row: Tensor, col: Tensor) -> Tensor:
    """The entries :obj:`m[row, col]` of a sparse COO matrix (0 where nothing is stored)."""
    m = m.coalesce()
    n = m.size(1)
    keys = m.indices()[0] * n + m.indices()[1]  # sorted: the matrix is coalesced
    query = row.long() * n + col.long()
    out = torch.zeros(query.numel(), dtype=m.dtype, device=m.device)
    if keys.numel() == 0 or query.numel() == 0:
        return out
    pos = torch.searchsorted(keys, query).clamp_(max=keys.numel() - 1)
    hit = keys[pos] == query
    out[hit] = m.values()[pos[hit]]
    return out


def _check_k(K: int) -> None:
    if not isinstance(K, int) or K < 1:
        raise ValueError(f"'K' must be an integer >= 1 (got {K!r})")


def default_beta(edge_index_train: Tensor, num_nodes: Optional[int] = None) -> float:
    r"""The official default hop discount :math:`\beta = 1 / \bar{d}`, with :math:`\bar{d}` the mean training
    degree over all :math:`N` nodes (:obj:`1.0` for an empty graph)."""
    n = check_edge_index(edge_index_train, num_nodes, name='edge_index_train')
    mean = float(node_degree(edge_index_train, n).mean()) if n > 0 else 0.0
    return 1.0 / mean if mean > 0 else 1.0


# Degree and density ###################################################################################


def node_degree(edge_index: Tensor, num_nodes: Optional[int] = None) -> Tensor:
    r"""The degree of every node in the undirected, deduplicated, loop-free graph :obj:`edge_index`
    (:obj:`float32`, shape :obj:`(N,)`). Pass the training edges for :math:`d^{Train}`, the test edges for
    :math:`d^{Test}`."""
    n = check_edge_index(edge_index, num_nodes, name='edge_index')
    return _rowsum(_coo(edge_index, n, torch.float32))


def subgraph_density(edge_index: Tensor, num_nodes: Optional[int] = None, K: int = 1) -> Tensor:
    r"""The density of every node's :math:`K`-hop ego subgraph (the node and every node within :math:`K`
    hops, with all edges among them).

    .. math::
        \rho_i = \frac{|\mathcal{E}(S_i^K)|}{\binom{|S_i^K|}{2}}, \qquad
        2 |\mathcal{E}(S_i^K)| = \big[(\mathbf{R} \odot (\mathbf{R}\mathbf{A})) \mathbf{1}\big]_i

    with :math:`\mathbf{R}` the binary :math:`K`-hop reachability matrix (self included). For :math:`K = 1`,
    :math:`\rho_i = (d_i + t_i) / \binom{d_i + 1}{2}` with :math:`t_i` the triangles at :math:`i`. Nodes
    whose ego subgraph has fewer than two nodes get :obj:`0`.

    Args:
        edge_index (torch.Tensor): Edges of shape :obj:`(2, E)` (read as undirected).
        num_nodes (int, optional): Number of nodes. (default: :obj:`None`)
        K (int, optional): Radius of the ego subgraph. (default: :obj:`1`)
    """
    _check_k(K)
    n = check_edge_index(edge_index, num_nodes, name='edge_index')
    a = _coo(edge_index, n)
    eye = coo_tensor(
        torch.arange(n, device=a.device).repeat(2, 1), torch.ones(n, dtype=a.dtype, device=a.device), (n, n)
    )
    reach, power = (eye + a).coalesce(), a
    for _ in range(K - 1):
        power = _support(_spmm(power, a))
        reach = _support(reach + power)
    size = _rowsum(reach)
    twice_edges = _rowsum(reach * _spmm(reach, a))
    possible = size * (size - 1)
    out = torch.where(possible > 0, twice_edges / possible.clamp(min=1), torch.zeros_like(size))
    return out.to(torch.float32)


# Exact TC #############################################################################################


def _walk_terms(a: Tensor, K: int, beta: float, mode: str) -> Tuple[Tensor, Tensor, Tensor]:
    r""":math:`\mathbf{P} = \sum_k \beta^{k-1} \mathbf{W}^k` (walk counts, or supports in ``'set'`` mode),
    :math:`\mathbf{M} = \sum_k \beta^{k-1} \mathrm{supp}(\mathbf{A}^k)` and the row sums
    :math:`\sum_k \beta^{k-1} \lVert \mathbf{W}^k_i \rVert_1`."""
    power = a
    p = m = None
    size = torch.zeros(a.size(0), dtype=a.dtype, device=a.device)
    for k in range(1, K + 1):
        if k > 1:
            power = _spmm(power, a)
        supp = _support(power)
        walks = power if mode == 'walk' else supp
        w = beta ** (k - 1)
        p = walks * w if p is None else (p + walks * w).coalesce()
        m = supp * w if m is None else (m + supp * w).coalesce()
        size += w * _rowsum(walks)
    return p, m, size


def topological_concentration(
    edge_index_train: Tensor,
    edge_index_t: Optional[Tensor] = None,
    num_nodes: Optional[int] = None,
    *,
    K: int = 1,
    beta: Optional[float] = None,
    mode: str = 'walk',
) -> Tensor:
    r"""The exact Topological Concentration from the `"A Topological Perspective on Demystifying GNN-Based
    Link Prediction Performance" <https://arxiv.org/abs/2310.04612>`_ paper: how much a node's computation
    tree overlaps with those of its type-:math:`t` neighbours, measured in the training graph.

    .. math::
        TC_i^{K,t} = \frac{1}{|\mathcal{N}_i^t|} \sum_{j \in \mathcal{N}_i^t}
        \frac{\sum_{k_1, k_2 = 1}^{K} \beta^{k_1 + k_2 - 2}
              \sum_{v \in H_i^{k_1} \cap H_j^{k_2}} W_i^{k_1}(v)}
             {\sum_{k_1, k_2 = 1}^{K} \beta^{k_1 + k_2 - 2} \lVert W_i^{k_1} \rVert_1}

    with :math:`W_i^k(v) = (\mathbf{A}^k)_{iv}` the number of length-:math:`k` walks from :math:`i` to
    :math:`v` in the training graph and :math:`H_i^k` its support. Vectorised as
    :math:`\big[(\mathbf{P} \odot (\mathbf{T}\mathbf{M})) \mathbf{1}\big]_i / (|\mathcal{N}_i^t|\, g_i)`
    with :math:`\mathbf{P} = \sum_k \beta^{k-1} \mathbf{A}^k`, :math:`\mathbf{M} = \sum_k \beta^{k-1}
    \mathrm{supp}(\mathbf{A}^k)` and :math:`\mathbf{T}` the type-:math:`t` adjacency; for :math:`K = 1` this
    is :math:`\mathrm{rowsum}(\mathbf{T} \odot \mathbf{A}^2) / (\mathrm{rowsum}(\mathbf{T})\, d_i)`.

    .. note::
        Semantics of the official ``cal_tc``: for :math:`t = Train` (:obj:`edge_index_t` is :obj:`None`) the
        :math:`(k_1, k_2) = (1, 1)` normaliser uses :math:`d_i - 1` (it excludes :math:`j` itself), so
        :math:`K = 1` gives the local clustering coefficient. :math:`TC_i = 0` for nodes without
        :math:`t`-neighbours, without training neighbours, and (Train) with :math:`d_i \leq 1`.
        :math:`TC^{Val}` / :math:`TC^{Test}` use validation / test edges and are oracle quantities for
        analysis only. Memory is that of the sparse power :math:`\mathbf{A}^K` and of
        :math:`\mathbf{T}\mathbf{M}`: fine for Planetoid and ogbl-ddi at :math:`K \leq 2`.

    Args:
        edge_index_train (torch.Tensor): Training edges of shape :obj:`(2, E)` (read as undirected).
        edge_index_t (torch.Tensor, optional): Type-:math:`t` edges (validation or test), or :obj:`None` for
            :math:`TC^{Train}`. (default: :obj:`None`)
        num_nodes (int, optional): Number of nodes. (default: :obj:`None`)
        K (int, optional): Number of hops. (default: :obj:`1`)
        beta (float, optional): Hop discount :math:`\beta`; :obj:`None` uses the official
            :math:`1 / \bar{d}^{Train}` (:func:`default_beta`). (default: :obj:`None`)
        mode (str, optional): :obj:`'walk'` counts walk multiplicities as the official code;
            :obj:`'set'` uses plain node sets :math:`H_i^k`. (default: :obj:`'walk'`)

    Returns:
        torch.Tensor: :obj:`float32` tensor of shape :obj:`(N,)`.
    """
    _check_k(K)
    if mode not in _MODES:
        raise ValueError(f"'mode' must be one of {_MODES} (got {mode!r})")
    n = _num_nodes(edge_index_train, edge_index_t, num_nodes)
    a = _coo(edge_index_train, n)
    deg = _rowsum(a)
    if beta is None:
        beta = 1.0 / float(deg.mean()) if n > 0 and float(deg.mean()) > 0 else 1.0
    if not beta > 0:
        raise ValueError(f"'beta' must be > 0 (got {beta})")
    train = edge_index_t is None
    t = a if train else _coo(edge_index_t, n)
    num_t = _rowsum(t)
    if K == 1:  # rowsum(T ⊙ A²) through the stored entries of T
        idx = t.indices()
        inter = torch.zeros(n, dtype=a.dtype, device=a.device)
        if idx.numel() > 0:
            a2 = _spmm(a, a)
            inter.index_add_(0, idx[0], _values_at(a2, idx[0], idx[1]))
        norm = deg.clone()
    else:
        p, m, size = _walk_terms(a, K, beta, mode)
        inter = _rowsum(p * _spmm(t, m))
        norm = size * sum(beta ** (k - 1) for k in range(1, K + 1))
    if train:
        norm = norm - 1.0
    valid = (num_t > 0) & (deg > (1 if train else 0)) & (norm > 0)
    out = torch.zeros(n, dtype=a.dtype, device=a.device)
    out[valid] = inter[valid] / (num_t[valid] * norm[valid])
    return out.to(torch.float32)


# Weighted 1-hop TC ####################################################################################


def weighted_tc(
    edge_index_train: Tensor,
    edge_weight: Tensor,
    edge_index_t: Optional[Tensor] = None,
    num_nodes: Optional[int] = None,
) -> Tensor:
    r"""The weighted 1-hop TC that monitors TC-guided edge reweighting (``update_tc`` of the official code).

    .. math::
        TC_v^t(w) = \sum_{u \in \mathcal{N}^{Train}(v)} \tilde{w}_{uv}
        \frac{|\mathcal{N}^t(v) \cap \mathcal{N}^{Train}(u)|}{|\mathcal{N}^t(v)|}

    with :math:`\tilde{w}` the message-passing weights with self-loops zeroed, re-normalised to sum to one over
    each node :math:`v`'s incoming neighbours :math:`u`. With uniform weights this is the :math:`K = 1`
    :obj:`topological_concentration` for :math:`t = Val/Test` (for :math:`t = Train` it divides by
    :math:`d_v` instead of :math:`d_v - 1`).

    Args:
        edge_index_train (torch.Tensor): Directed message-passing edges :math:`(u, v)` of shape :obj:`(2, E)`,
            possibly with self-loops; they define :math:`\mathcal{N}^{Train}`.
        edge_weight (torch.Tensor): Weights :math:`w_{uv}` of shape :obj:`(E,)`.
        edge_index_t (torch.Tensor, optional): Type-:math:`t` edges; :obj:`None` for the training edges.
            (default: :obj:`None`)
        num_nodes (int, optional): Number of nodes. (default: :obj:`None`)
    """
    n = _num_nodes(edge_index_train, edge_index_t, num_nodes)
    if edge_weight.dim() != 1 or edge_weight.numel() != edge_index_train.size(1):
        raise ValueError(
            f"'edge_weight' must have shape ({edge_index_train.size(1)},) (got {tuple(edge_weight.shape)})"
        )
    u, v = edge_index_train.long()
    w = edge_weight.to(torch.float64) * (u != v)
    total = torch.zeros(n, dtype=w.dtype, device=w.device).index_add_(0, v, w)
    w_tilde = torch.where(total[v] > 0, w / total[v].clamp(min=1e-300), torch.zeros_like(w))
    a = _coo(edge_index_train, n)
    t = a if edge_index_t is None else _coo(edge_index_t, n)
    num_t = _rowsum(t)
    ta = _spmm(t, a)  # (T A)_{vu} = |N^t(v) ∩ N^Train(u)|
    cn = _values_at(ta, v, u)
    out = torch.zeros(n, dtype=w.dtype, device=w.device).index_add_(0, v, w_tilde * cn)
    out = torch.where(num_t > 0, out / num_t.clamp(min=1), torch.zeros_like(out))
    return out.to(torch.float32)


# ATC ##################################################################################################


def _propagation(a: Tensor, propagation: str) -> Tensor:
    if propagation == 'sum':
        return a
    deg = _rowsum(a)
    idx, val = a.indices(), a.values()
    if propagation == 'rw':
        val = val / deg[idx[0]].clamp(min=1)
    else:  # gcn: D~^-1/2 (A + I) D~^-1/2
        n = a.size(0)
        loop = torch.arange(n, device=a.device).repeat(2, 1)
        idx, val = torch.cat([idx, loop], 1), torch.cat([val, torch.ones(n, dtype=val.dtype, device=val.device)])
        dinv = (deg + 1).pow(-0.5)
        val = val * dinv[idx[0]] * dinv[idx[1]]
    return coo_tensor(idx, val, a.shape).coalesce()


def approximate_tc(
    edge_index_train: Tensor,
    edge_index_t: Optional[Tensor] = None,
    num_nodes: Optional[int] = None,
    *,
    K: int = 1,
    d: int = 256,
    beta: Optional[float] = None,
    norm: str = 'tc',
    propagation: str = 'sum',
    num_draws: int = 4,
    generator: Optional[torch.Generator] = None,
    seed: Optional[int] = None,
    chunk_size: int = 1 << 16,
) -> Tensor:
    r"""The Approximated Topological Concentration (ATC) from the `"A Topological Perspective on Demystifying
    GNN-Based Link Prediction Performance" <https://arxiv.org/abs/2310.04612>`_ paper: set intersections are
    replaced by inner products of propagated random projections.

    .. math::
        \mathbf{Z} = \sum_{k=1}^{K} \beta^{k-1} \mathbf{\tilde{A}}^k \mathbf{R}, \qquad
        ATC_i^{K,t} = \frac{1}{|\mathcal{N}_i^t|} \sum_{j \in \mathcal{N}_i^t}
        \frac{\langle \mathbf{z}_i, \mathbf{z}_j \rangle}{c_{ij}}

    :math:`\mathbf{R} \in \mathbb{R}^{N \times d}` has i.i.d. Gaussian rows scaled to unit length, so
    :math:`\langle \mathbf{r}_u, \mathbf{r}_v \rangle \approx [u = v]` (Johnson-Lindenstrauss) and
    :math:`\langle \mathbf{z}_i, \mathbf{z}_j \rangle \approx \sum_{k_1, k_2} \beta^{k_1 + k_2 - 2}
    \sum_v \tilde{A}^{k_1}_{iv} \tilde{A}^{k_2}_{jv}`. Cost :math:`O(K d (|\mathcal{E}| + |\mathcal{V}|) +
    d |\mathcal{E}^t|)`; the result is averaged over :obj:`num_draws` draws of :math:`\mathbf{R}`.

    .. note::
        With :obj:`propagation='sum'` (:math:`\mathbf{\tilde{A}} = \mathbf{A}`) and :obj:`norm='tc'`
        (:math:`c_{ij}` = the exact TC normaliser, :math:`d_i - 1` rule for Train included), ATC is an unbiased
        estimator of the exact :math:`K = 1` TC, and for :math:`K > 1` of the TC that weights :math:`j`'s side
        by walk counts too. :obj:`norm='self'` uses :math:`c_{ij} = \langle \mathbf{z}_i, \mathbf{z}_i
        \rangle`, :obj:`norm='cosine'` the cosine similarity. The paper's exact normaliser is not public.

    Args:
        edge_index_train (torch.Tensor): Training edges of shape :obj:`(2, E)`.
        edge_index_t (torch.Tensor, optional): Type-:math:`t` edges; :obj:`None` for Train.
            (default: :obj:`None`)
        num_nodes (int, optional): Number of nodes. (default: :obj:`None`)
        K (int, optional): Number of hops. (default: :obj:`1`)
        d (int, optional): Projection dimension. (default: :obj:`256`)
        beta (float, optional): Hop discount; :obj:`None` for :func:`default_beta`. (default: :obj:`None`)
        norm (str, optional): :obj:`'tc'`, :obj:`'self'` or :obj:`'cosine'`. (default: :obj:`'tc'`)
        propagation (str, optional): :math:`\mathbf{\tilde{A}}`: :obj:`'sum'` (:math:`\mathbf{A}`),
            :obj:`'rw'` (:math:`\mathbf{D}^{-1}\mathbf{A}`) or :obj:`'gcn'`. (default: :obj:`'sum'`)
        num_draws (int, optional): Number of independent draws of :math:`\mathbf{R}` whose ATCs are averaged;
            more draws lower the variance of the estimate (on Cora at :math:`d = 256`, one draw correlates 0.89
            with the exact :math:`K = 1` :math:`TC^{Train}`, four 0.98; ``benchmarks/RESULTS.md``).
            (default: :obj:`4`)
        generator (torch.Generator, optional): Source of randomness (on the edges' device).
            (default: :obj:`None`)
        seed (int, optional): Seed of a fresh generator, if :obj:`generator` is :obj:`None`.
            (default: :obj:`None`)
        chunk_size (int, optional): Edges per inner-product chunk. (default: :obj:`65536`)
    """
    _check_k(K)
    if norm not in _ATC_NORMS:
        raise ValueError(f"'norm' must be one of {_ATC_NORMS} (got {norm!r})")
    if propagation not in _PROPAGATIONS:
        raise ValueError(f"'propagation' must be one of {_PROPAGATIONS} (got {propagation!r})")
    if not isinstance(d, int) or d < 1:
        raise ValueError(f"'d' must be an integer >= 1 (got {d!r})")
    if not isinstance(num_draws, int) or num_draws < 1:
        raise ValueError(f"'num_draws' must be an integer >= 1 (got {num_draws!r})")
    n = _num_nodes(edge_index_train, edge_index_t, num_nodes)
    if beta is None:
        beta = default_beta(edge_index_train, n)
    device = edge_index_train.device
    if generator is None and seed is not None:
        generator = torch.Generator(device=device).manual_seed(seed)

    a = _coo(edge_index_train, n, torch.float32)
    train = edge_index_t is None
    t = a if train else _coo(edge_index_t, n, torch.float32)
    row, col = t.indices()
    num_t = _rowsum(t)
    deg = _rowsum(a)
    prop = _propagation(a, propagation)

    # exact normaliser g_i of the TC definition, on the propagation matrix
    size, ones = torch.zeros(n, device=device), torch.ones(n, 1, device=device)
    x = ones
    for k in range(1, K + 1):
        x = torch.sparse.mm(prop, x)
        size += beta ** (k - 1) * x.view(-1)
    g = size * sum(beta ** (k - 1) for k in range(1, K + 1)) - (1.0 if train else 0.0)

    acc = torch.zeros(n, device=device)
    for _ in range(num_draws):
        r = torch.randn(n, d, generator=generator, device=device)
        r = r / r.norm(dim=1, keepdim=True).clamp(min=1e-12)
        z, x = torch.zeros_like(r), r
        for k in range(1, K + 1):
            x = torch.sparse.mm(prop, x)
            z += beta ** (k - 1) * x
        sq = (z * z).sum(1)
        sim = torch.empty(row.numel(), device=device)
        for s in range(0, row.numel(), chunk_size):
            i, j = row[s : s + chunk_size], col[s : s + chunk_size]
            dot = (z[i] * z[j]).sum(1)
            if norm == 'tc':
                dot = dot / g[i].clamp(min=1e-12)
            elif norm == 'self':
                dot = dot / sq[i].clamp(min=1e-12)
            else:
                dot = dot / (sq[i] * sq[j]).sqrt().clamp(min=1e-12)
            sim[s : s + chunk_size] = dot
        acc += torch.zeros(n, device=device).index_add_(0, row, sim)
    valid = (num_t > 0) & (deg > (1 if train else 0))
    if norm == 'tc':
        valid &= g > 0
    out = torch.zeros(n, device=device)
    out[valid] = acc[valid] / (num_draws * num_t[valid])
    return out
