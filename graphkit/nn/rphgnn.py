r"""The parameter-free pre-computation of RpHGNN: propagate-then-update with random projection squashing."""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.typing import EdgeType

from graphkit.ops import pairs_to_csr, rw_norm, spmm

__all__ = ['RpHGNNPrecompute', 'random_projection']

_PROJECTIONS = ('sparse', 'gaussian')


def random_projection(
    in_channels: int,
    out_channels: int,
    generator: torch.Generator,
    projection: str = 'sparse',
    sparsity: float = 3.0,
) -> Tensor:
    r"""Draws one random projection matrix :math:`\mathbf{P} \in \mathbb{R}^{\text{in} \times \text{out}}`
    (:obj:`float32`, CPU) from :obj:`generator`.

    :obj:`'sparse'` is the very sparse projection of Achlioptas / Li et al. with :math:`s` = :obj:`sparsity`:

    .. math::
        P_{ij} = \sqrt{s} \cdot \begin{cases} +1 & \text{with probability } 1 / (2s) \\
        0 & \text{with probability } 1 - 1 / s \\ -1 & \text{with probability } 1 / (2s) \end{cases}

    drawn as one ``torch.rand((in, out))`` call: :math:`u < 1/(2s) \mapsto +\sqrt{s}`,
    :math:`1/(2s) \le u < 1/s \mapsto -\sqrt{s}`. :obj:`'gaussian'` draws one ``torch.randn((in, out))`` call
    scaled to the standard deviation :math:`\sqrt{2 / (\text{in} + \text{out})}`.
    """
    if projection == 'sparse':
        u = torch.rand((in_channels, out_channels), generator=generator)
        scale = math.sqrt(sparsity)
        out = torch.zeros_like(u)
        out.masked_fill_(u < 1.0 / (2.0 * sparsity), scale)
        out.masked_fill_((u >= 1.0 / (2.0 * sparsity)) & (u < 1.0 / sparsity), -scale)
        return out
    if projection == 'gaussian':
        std = math.sqrt(2.0 / (in_channels + out_channels))
        return torch.randn((in_channels, out_channels), generator=generator).mul_(std)
    raise ValueError(f"'projection' must be one of {_PROJECTIONS} (got {projection!r})")


def _mean_adj(edge_index: Tensor, num_src: int, num_dst: int) -> Tensor:
    # M[b, a] = 1 / deg(b) for every edge a -> b (rows = destinations), as a (num_dst, num_src) CSR matrix;
    # rows of destinations without incoming edges stay empty (zero). Duplicate edges collapse to one.
    return rw_norm(pairs_to_csr(edge_index.flip(0), num_dst, num_src))


def _reverse_name(edge_type: EdgeType) -> EdgeType:
    # The name of the explicit reverse of a bipartite relation, as torch_geometric's ToUndirected writes it.
    src, rel, dst = edge_type
    return (dst, rel[4:], src) if rel.startswith('rev_') else (dst, f'rev_{rel}', src)


class RpHGNNPrecompute:
    r"""The propagate-then-update pre-computation from the `"Efficient Heterogeneous Graph Learning via Random
    Projection" <https://arxiv.org/abs/2310.14481>`_ paper (RpHGNN): parameter-free, run once on CPU under
    :obj:`torch.no_grad()`, it turns a :class:`~torch_geometric.data.HeteroData` graph into a list of regular
    tensors ("groups") for the :obj:`target` node type.

    For a relation :math:`r: A \to B`, :math:`\mathbf{M}_r \in \mathbb{R}^{|B| \times |A|}` is the mean
    adjacency (row :math:`b` averages over the incoming :math:`A`-neighbours of :math:`b`; isolated rows are
    zero) and :math:`\mathbf{M}_{r^{-1}}` the mean adjacency of the reversed edges. With
    :math:`\mathbf{X}^{(0)}_\tau` = ``data[tau].x`` of width :math:`d_\tau`, iteration :math:`t = 1, \dots, K`
    computes, for every relation :math:`r: A \to B` of :obj:`data`:

    .. math::
        \mathbf{O}_r^{(t)} = \mathbf{M}_r \mathbf{X}_A^{(t-1)} \;\text{(odd, on } B\text{)}, \qquad
        \mathbf{E}_r^{(t)} = \mathbf{M}_{r^{-1}} \mathbf{O}_r^{(t)} \;\text{(even, on } A\text{)},

    collects :math:`\mathcal{S}_\tau` = the odd tensors of relations into :math:`\tau` and the even tensors of
    relations out of :math:`\tau`, and squashes every type back to its own width with fresh random projections:

    .. math::
        \mathbf{X}_\tau^{(t)} = \sum_{\mathbf{H} \in \mathcal{S}_\tau}
        \operatorname{L2norm}_{\text{rows}}\big(\mathbf{H} \mathbf{P}_{\mathbf{H}}\big), \qquad
        \mathbf{P}_{\mathbf{H}} \in \mathbb{R}^{\text{width}(\mathbf{H}) \times d_\tau}

    (no re-normalisation of the sum, no self term). The target type keeps every collected tensor unsquashed:
    group :math:`g` = (relation, parity) is :math:`[\mathbf{g}^{(1)}, \dots, \mathbf{g}^{(K)}]` stacked on a hop
    axis, with the raw target features prepended to every even group if :obj:`use_input`.

    .. note::
        **Relations.** Every edge type of :obj:`data` is a relation. Same-type relations should be symmetric;
        every bipartite relation needs its explicit reverse (``rev_`` prefix, as
        :class:`torch_geometric.transforms.ToUndirected` writes it). :math:`\mathbf{M}_{r^{-1}}` is built from
        the flipped edges of :math:`r` itself. Duplicate edges count once.

    .. note::
        **Group order** (fixed, from the metadata): underlying relations in the order in which they first appear
        in ``data.edge_types`` (``(B, 'rev_x', A)`` belongs to ``(A, 'x', B)``), and within each the odd group
        before the even one. A group is named ``'src__rel__dst:parity'`` after the relation the walk starts on:
        ``'author__to__paper:odd'`` (author features averaged onto papers), ``'paper__rev_to__author:even'``
        (paper → author → paper), ``'paper__cite__paper:odd'`` / ``':even'`` for a same-type relation.

    .. note::
        **Random draws.** Every projection matrix comes from :obj:`generator` through
        :func:`random_projection`, in this order: per iteration :math:`t < K`, per edge type in
        ``data.edge_types`` order, first :math:`\mathbf{P}` of the odd tensor (:math:`d_A \times d_B`), then
        :math:`\mathbf{P}` of the even tensor (:math:`d_A \times d_A`). The squash of the last iteration feeds
        nothing and is skipped (no draws), and so are its propagations that no target group keeps; neither
        changes any group. A projection of
        :math:`\mathbf{H} = \mathbf{M} \mathbf{Y}` may run as :math:`\mathbf{M} (\mathbf{Y} \mathbf{P})` when
        :math:`\mathbf{Y}` has fewer rows (same matrix, same numbers up to rounding): on ACM it saves about a
        third of the pre-computation.

    Args:
        num_iterations (int): Number of propagate-then-update iterations :math:`K`.
        target (str): The node type whose groups are returned.
        projection (str, optional): :obj:`'sparse'` (Achlioptas, :math:`\pm\sqrt{s}`) or :obj:`'gaussian'`.
            (default: :obj:`'sparse'`)
        sparsity (float, optional): :math:`s` of the sparse projection, :math:`\ge 1`. (default: :obj:`3.0`)
        use_input (bool, optional): Prepend the raw target features to every even group.
            (default: :obj:`True`)
        dtype (torch.dtype, optional): Storage dtype of the returned groups (the computation runs in
            :obj:`float32`). (default: :obj:`torch.float16`)

    Shapes:
        - **input:** :obj:`data` with ``x`` of shape :math:`(|V_\tau|, d_\tau)` for every node type.
        - **output:** a list of :math:`G` tensors of shape :math:`(|V_{\text{target}}|, S_g, w_g)` on CPU,
          :math:`S_g = K` (+1 for an even group with :obj:`use_input`), :math:`w_g` = :math:`d` of the type the
          walk starts on; see :meth:`group_shapes`.
    """

    def __init__(
        self,
        num_iterations: int,
        target: str,
        projection: str = 'sparse',
        sparsity: float = 3.0,
        use_input: bool = True,
        dtype: torch.dtype = torch.float16,
    ) -> None:
        name = self.__class__.__name__
        if isinstance(num_iterations, bool) or not isinstance(num_iterations, int) or num_iterations < 1:
            raise ValueError(f"'{name}' expects 'num_iterations' to be an integer >= 1 (got {num_iterations!r})")
        if not isinstance(target, str) or not target:
            raise ValueError(f"'{name}' expects 'target' to be a node type name (got {target!r})")
        if projection not in _PROJECTIONS:
            raise ValueError(f"'{name}' expects 'projection' in {_PROJECTIONS} (got {projection!r})")
        if not float(sparsity) >= 1.0:
            raise ValueError(f"'{name}' expects 'sparsity' >= 1 (got {sparsity!r})")
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise ValueError(f"'{name}' expects 'dtype' to be a floating torch.dtype (got {dtype!r})")
        self.num_iterations = num_iterations
        self.target = target
        self.projection = projection
        self.sparsity = float(sparsity)
        self.use_input = bool(use_input)
        self.dtype = dtype

    # Metadata ################################################################

    def _check(self, data: HeteroData) -> Dict[str, int]:
        # Validates the graph and returns the feature width of every node type.
        name = self.__class__.__name__
        if not isinstance(data, HeteroData):
            raise ValueError(f"'{name}' expects 'data' to be a HeteroData (got {type(data).__name__})")
        if self.target not in data.node_types:
            raise ValueError(f"'{name}' got target '{self.target}', not a node type of 'data' {data.node_types}")
        widths = {}
        for node_type in data.node_types:
            x = data[node_type].get('x')
            if not isinstance(x, Tensor) or x.dim() != 2 or not x.is_floating_point():
                raise ValueError(
                    f"'{name}' needs floating features 'x' of shape [N, d] for every node type; "
                    f"'{node_type}' has {None if x is None else tuple(x.shape)} (give featureless types random ones)"
                )
            widths[node_type] = x.size(1)
        edge_types = set(data.edge_types)
        for edge_type in data.edge_types:
            if edge_type[0] != edge_type[2] and _reverse_name(edge_type) not in edge_types:
                raise ValueError(
                    f"'{name}' needs the reverse {_reverse_name(edge_type)} of the bipartite relation {edge_type} "
                    f'(apply torch_geometric.transforms.ToUndirected())'
                )
        return widths

    def _groups(self, data: HeteroData) -> List[Tuple[str, EdgeType, str]]:
        # (name, edge type the walk starts on, parity) of every target group, in the documented order.
        keys = {}
        for edge_type in data.edge_types:
            src, rel, dst = edge_type
            base = (dst, rel[4:], src) if src != dst and rel.startswith('rev_') else edge_type
            keys.setdefault(base, len(keys))
        out = []
        for edge_type in data.edge_types:
            src, rel, dst = edge_type
            base = (dst, rel[4:], src) if src != dst and rel.startswith('rev_') else edge_type
            if dst == self.target:
                out.append(((keys[base], 0), f'{src}__{rel}__{dst}:odd', edge_type, 'odd'))
            if src == self.target:
                out.append(((keys[base], 1), f'{src}__{rel}__{dst}:even', edge_type, 'even'))
        out.sort(key=lambda item: item[0])
        return [item[1:] for item in out]

    def group_shapes(self, data: HeteroData) -> List[Tuple[str, int, int]]:
        r"""The ``(name, num_slices, width)`` of every group, in output order, from the metadata alone."""
        widths = self._check(data)
        shapes = []
        for name, (src, _, _), parity in self._groups(data):
            extra = int(self.use_input and parity == 'even')
            shapes.append((name, self.num_iterations + extra, widths[src]))
        return shapes

    # Computation #############################################################

    def layout(self, data: HeteroData) -> List[Tuple[Tuple[int, int, int], torch.dtype]]:
        r"""The ``(shape, dtype)`` of every output tensor, in output order, from the metadata alone."""
        num_target = data[self.target].num_nodes if self.target in data.node_types else 0
        return [((num_target, s, w), self.dtype) for _, s, w in self.group_shapes(data)]

    @torch.no_grad()
    def __call__(
        self, data: HeteroData, generator: torch.Generator, out: Optional[List[Tensor]] = None
    ) -> List[Tensor]:
        r"""Runs the pre-computation; returns the groups as ``[N_target, S_g, w_g]`` tensors in :obj:`dtype`.

        :obj:`out` (optional) are the tensors to fill, of :meth:`layout`: *e.g.* memory-mapped files, so that
        the groups never sit in memory; each group is written one hop slice at a time, as it is computed. The
        working memory is then one :math:`d_\tau`-wide feature matrix per node type, plus the two tensors of
        the relation being propagated.
        """
        name = self.__class__.__name__
        if not isinstance(generator, torch.Generator):
            raise ValueError(f"'{name}' expects 'generator' to be a torch.Generator (got {type(generator)})")
        widths = self._check(data)
        groups = self._groups(data)
        layout = self.layout(data)
        K = self.num_iterations
        if out is None:
            out = [torch.empty(shape, dtype=dtype) for shape, dtype in layout]
        elif len(out) != len(layout) or any(
            not isinstance(o, Tensor) or tuple(o.shape) != shape or o.dtype != dtype
            for o, (shape, dtype) in zip(out, layout)
        ):
            got = [(tuple(o.shape), o.dtype) if isinstance(o, Tensor) else type(o).__name__ for o in out]
            raise ValueError(f"'{name}' expects 'out' to be tensors of layout {layout} (got {got})")

        x = {t: data[t].x.detach().to('cpu', torch.float32) for t in data.node_types}
        slot = {(edge_type, parity): i for i, (_, edge_type, parity) in enumerate(groups)}
        offset = [int(self.use_input and parity == 'even') for _, _, parity in groups]
        for i, o in enumerate(offset):
            if o:
                out[i][:, 0] = x[self.target].to(self.dtype)

        adjs = {}
        for edge_type in data.edge_types:
            src, _, dst = edge_type
            edge_index = data[edge_type].edge_index.cpu()
            num_src, num_dst = data[src].num_nodes, data[dst].num_nodes
            adjs[edge_type] = (_mean_adj(edge_index, num_src, num_dst), _mean_adj(edge_index.flip(0), num_dst, num_src))

        for t in range(K):
            squash = t < K - 1
            acc = {tau: torch.zeros_like(x[tau]) for tau in data.node_types} if squash else {}
            for edge_type in data.edge_types:
                src, _, dst = edge_type
                keep_odd, keep_even = (edge_type, 'odd') in slot, (edge_type, 'even') in slot
                if not (squash or keep_odd or keep_even):
                    continue  # the last iteration feeds no squash: only the target's groups are needed
                m, m_rev = adjs[edge_type]
                odd = spmm(m, x[src])  # on dst, width d_src
                even = spmm(m_rev, odd) if squash or keep_even else None  # on src, width d_src
                for parity, h in (('odd', odd), ('even', even)):
                    i = slot.get((edge_type, parity))
                    if i is not None:
                        out[i][:, offset[i] + t] = h.to(self.dtype)
                if squash:
                    acc[dst] += self._squash(odd, x[src], m, widths[dst], generator)
                    acc[src] += self._squash(even, odd, m_rev, widths[src], generator)
                del odd, even
            x = acc if squash else x
        return out

    #: Relative cost of one sparse multiply-add against a dense one (CPU, one thread: about 2.6 vs 29 GMAC/s);
    #: :obj:`None` always projects the propagated tensor itself.
    _sparse_cost = 10.0

    def _squash(self, h: Tensor, before: Tensor, adj: Tensor, width: int, generator: torch.Generator) -> Tensor:
        # L2norm_rows(h @ P) for h = adj @ before. As h @ P = adj @ (before @ P), the projection runs on the side
        # with fewer multiply-adds (e.g. on the 56 ACM subjects instead of the 3,025 papers they reach): the same
        # numbers up to float rounding, the same draw.
        p = random_projection(h.size(1), width, generator, self.projection, self.sparsity)
        if self._sparse_cost is not None:
            cost_after = h.size(0) * h.size(1) * width
            cost_before = before.size(0) * before.size(1) * width + self._sparse_cost * adj._nnz() * width
            if cost_before < cost_after:
                return F.normalize(spmm(adj, before @ p), p=2.0, dim=-1)
        return F.normalize(h @ p, p=2.0, dim=-1)

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}(num_iterations={self.num_iterations}, target={self.target!r}, '
            f'projection={self.projection!r})'
        )
