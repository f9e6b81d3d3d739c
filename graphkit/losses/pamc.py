r"""The PamC meta-node contrastive loss, from the `"Efficient block contrastive learning via parameter-free
meta-node approximation" <https://arxiv.org/abs/2209.14067>`_ paper, and the dense pairwise loss it approximates
(SCGC*'s influence-augmented contrastive loss, in the Graph-MLP form).

Both losses share the positive (structure) term over the non-zeros of a sparse weight matrix
:math:`\mathbf{\Gamma}` (:func:`graphkit.ops.adjacency_power_sum`: :math:`\mathbf{\hat{A}} + \dots +
\mathbf{\hat{A}}^R`). They differ in the negative term: PamC contrasts :math:`K` *meta-nodes* (the summed
embeddings of each cluster), :math:`O(NKd + K^2 d)`; the dense reference contrasts every node with every other,
:math:`O(N^2 d)` time and :math:`O(N^2)` memory.

The similarity is the cosine :math:`s(\mathbf{a}, \mathbf{b})`, and :math:`\tau` multiplies it (an *inverse*
temperature, as in the official code: :math:`e^{\tau s}`, not :math:`e^{s / \tau}`). A self pair keeps its term
with the similarity set to 0, i.e. it contributes its weight times :math:`e^0`.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.modules.loss import _Loss
from torch_geometric.utils import scatter

__all__ = [
    'PamCLoss',
    'PairwiseContrastiveLoss',
    'meta_nodes',
    'positive_term',
    'meta_node_negative',
    'dense_negative',
]

_ASSIGNMENTS = ('hard', 'soft')


def _check_z(z: Tensor, where: str) -> None:
    if not isinstance(z, Tensor) or z.dim() != 2 or not z.is_floating_point():
        shape = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
        raise ValueError(f"'{where}' expects 'z' to be a floating [N, d] tensor (got {shape})")


def _check_pos(z: Tensor, pos_index: Tensor, pos_weight: Optional[Tensor], where: str) -> None:
    if not isinstance(pos_index, Tensor) or pos_index.dim() != 2 or pos_index.size(0) != 2:
        shape = tuple(pos_index.shape) if isinstance(pos_index, Tensor) else type(pos_index).__name__
        raise ValueError(f"'{where}' expects 'pos_index' of shape (2, P) (got {shape})")
    if pos_index.is_floating_point():
        raise ValueError(f"'{where}' expects an integer 'pos_index' (got {pos_index.dtype})")
    if pos_weight is not None and tuple(pos_weight.shape) != (pos_index.size(1),):
        raise ValueError(
            f"'{where}' expects 'pos_weight' of shape ({pos_index.size(1)},) to match 'pos_index' "
            f'(got {tuple(pos_weight.shape)})'
        )


def _check_tau(tau: float, where: str) -> float:
    tau = float(tau)
    if not tau > 0 or tau == float('inf'):
        raise ValueError(f"'{where}' expects 'tau' (the inverse temperature) to be a finite number > 0 (got {tau})")
    return tau


def positive_term(
    z: Tensor, pos_index: Tensor, pos_weight: Optional[Tensor] = None, tau: float = 1.0, eps: float = 1e-8
) -> Tensor:
    r"""The positive (structure) term

    .. math::
        \mathcal{L}_{pos} = -\frac{1}{|\mathcal{V}_+|} \sum_{i \in \mathcal{V}_+} \log \sum_{j} \Gamma_{ij}\,
        e^{\tau \tilde{s}(\mathbf{z}_i, \mathbf{z}_j)}, \qquad
        \tilde{s}(\mathbf{z}_i, \mathbf{z}_j) = \begin{cases} \cos(\mathbf{z}_i, \mathbf{z}_j) & i \ne j \\
        0 & i = j \end{cases}

    over the stored entries :math:`(i, j)` of :math:`\mathbf{\Gamma}`, where :math:`\mathcal{V}_+` are the rows
    with a positive weight (every node, for a :math:`\mathbf{\Gamma}` with self-loops). Each row is a stable
    log-sum-exp (shifted by its largest :math:`\tau \tilde{s}`). :math:`O(\mathrm{nnz}(\mathbf{\Gamma})\, d)`
    time and memory.

    Args:
        z (torch.Tensor): Node embeddings :math:`[N, d]`.
        pos_index (torch.Tensor): Rows and columns of the entries of :math:`\mathbf{\Gamma}`, :math:`[2, P]`.
        pos_weight (torch.Tensor, optional): Their non-negative weights :math:`[P]`; ones if :obj:`None`.
        tau (float): Inverse temperature :math:`\tau > 0`. (default: :obj:`1.0`)
        eps (float): Norm floor of the cosine. (default: :obj:`1e-8`)
    """
    zn = F.normalize(z, dim=-1, eps=eps)
    row, col = pos_index[0].long(), pos_index[1].long()
    sim = (zn[row] * zn[col]).sum(-1).masked_fill(row == col, 0.0)
    return _mean_weighted_lse(tau * sim, row, pos_weight, z.size(0))


def _mean_weighted_lse(logit: Tensor, row: Tensor, weight: Optional[Tensor], n: int) -> Tensor:
    # -mean_i log sum_{e in row i} w_e exp(logit_e), over the rows with a positive total; each row is shifted by its
    # largest logit (a constant for autograd), so no exp overflows whatever tau is.
    shift = scatter(logit.detach(), row, dim=0, dim_size=n, reduce='max')
    term = torch.exp(logit - shift[row])
    if weight is not None:
        term = term * weight.to(term.dtype)
    total = scatter(term, row, dim=0, dim_size=n, reduce='sum')
    has = total > 0
    safe = torch.where(has, total, torch.ones_like(total))
    lse = torch.where(has, torch.log(safe) + shift, torch.zeros_like(total))
    return -lse.sum() / has.sum().clamp(min=1)


def meta_node_negative(meta: Tensor, tau: float = 1.0, eps: float = 1e-8) -> Tensor:
    r"""PamC's proxy negative term over :math:`K` meta-nodes :math:`\mathbf{m}_1 \dots \mathbf{m}_K`:

    .. math::
        \mathcal{L}_{neg} = \frac{1}{K} \sum_{a=1}^{K} \log \sum_{b=1}^{K} e^{\tau \tilde{s}(\mathbf{m}_a,
        \mathbf{m}_b)}

    with :math:`\tilde{s}` zero on the diagonal (the :math:`b = a` term is the constant 1). Only cosines are used,
    so rescaling a meta-node by a positive factor changes nothing. A zero meta-node (an empty cluster) has
    cosine 0 with every other (:obj:`eps` floors its norm): finite value and finite gradients.

    Args:
        meta (torch.Tensor): Meta-node embeddings :math:`[K, d]`.
        tau (float): Inverse temperature. (default: :obj:`1.0`)
        eps (float): Norm floor. (default: :obj:`1e-8`)
    """
    mn = F.normalize(meta, dim=-1, eps=eps)
    sim = mn @ mn.t()
    eye = torch.eye(sim.size(0), dtype=torch.bool, device=sim.device)
    return torch.logsumexp(tau * sim.masked_fill(eye, 0.0), dim=1).mean()


def dense_negative(z: Tensor, tau: float = 1.0, eps: float = 1e-8) -> Tensor:
    r"""The exact all-pairs negative term that :func:`meta_node_negative` approximates,

    .. math::
        \frac{1}{N} \sum_{i=1}^{N} \log \sum_{k=1}^{N} e^{\tau \tilde{s}(\mathbf{z}_i, \mathbf{z}_k)},

    through the dense :math:`N \times N` similarity matrix (:math:`O(N^2)` memory). Equal to
    :func:`meta_node_negative` with :math:`K = N` and the identity assignment.
    """
    return meta_node_negative(z, tau, eps)


def meta_nodes(z: Tensor, assignment: Tensor, num_clusters: Optional[int] = None) -> Tensor:
    r"""Meta-node embeddings :math:`\mathbf{M} = \mathbf{C}^{\top} \mathbf{Z} \in \mathbb{R}^{K \times d}`: the
    **sum** of the member embeddings of each cluster.

    Args:
        z (torch.Tensor): Node embeddings :math:`[N, d]`.
        assignment (torch.Tensor): Either cluster indices :math:`[N]` in :math:`[0, K)` (a hard
            :math:`\mathbf{C}`, summed with :obj:`index_add`, :math:`O(Nd)`), or an assignment matrix
            :math:`[N, K]` (soft :math:`\mathbf{C}`, :math:`O(NKd)`).
        num_clusters (int, optional): :math:`K`; needed with cluster indices (a cluster may be empty, so the
            largest index does not tell :math:`K`). (default: :obj:`None`)
    """
    if assignment.dim() == 2:
        if num_clusters is not None and assignment.size(1) != num_clusters:
            raise ValueError(
                f"'meta_nodes' got an assignment matrix with {assignment.size(1)} columns for "
                f"'num_clusters'={num_clusters}"
            )
        return assignment.to(z.dtype).t() @ z
    if num_clusters is None:
        raise ValueError("'meta_nodes' needs 'num_clusters' when the assignment holds cluster indices")
    out = z.new_zeros(num_clusters, z.size(1))
    return out.index_add(0, assignment.long(), z)


class PamCLoss(_Loss):
    r"""The PamC contrastive loss from the `"Efficient block contrastive learning via parameter-free meta-node
    approximation" <https://arxiv.org/abs/2209.14067>`_ paper: a positive term over the non-zeros of a sparse
    :math:`\mathbf{\Gamma}` and a negative term over :math:`K` meta-nodes instead of all :math:`N^2` node
    pairs.

    .. math::
        \mathcal{L}_{PamC} = \underbrace{-\frac{1}{N} \sum_{i} \log \sum_{j} \Gamma_{ij}\,
        e^{\tau \tilde{s}(\mathbf{z}_i, \mathbf{z}_j)}}_{\mathcal{L}_{pos}}
        + \underbrace{\frac{1}{K} \sum_{a} \log \sum_{b} e^{\tau \tilde{s}(\mathbf{m}_a, \mathbf{m}_b)}}_{
        \mathcal{L}_{neg}}, \qquad \mathbf{M} = \mathbf{C}^{\top} \mathbf{Z}

    where :math:`\tilde{s}` is the cosine similarity set to 0 on the diagonal (the self pair still counts, as
    :math:`\Gamma_{ii} e^0`), :math:`\tau` an inverse temperature and :math:`\mathbf{C}` the cluster assignment:
    ``'hard'`` (the official code) is :math:`\mathrm{one\_hot}(\arg\max_k q_{ik})`, always with :math:`K` columns;
    ``'soft'`` is :math:`\mathbf{Q}` itself. Gradients reach :math:`\mathbf{Z}` through both terms; with
    :obj:`detach_assignment` none flow through :math:`\mathbf{C}`.

    .. note::
        :obj:`pos_index` / :obj:`pos_weight` is :math:`\mathbf{\Gamma}` in COO form, built once per graph:
        ``graphkit.ops.csr_to_coo(graphkit.ops.adjacency_power_sum(edge_index, N, order=R))`` (its memory is
        stated there). The loss itself needs :math:`O(\mathrm{nnz}(\mathbf{\Gamma})\, d + N d + K^2)` memory, linear
        in the number of nodes for a fixed :math:`R` on a sparse graph.

    .. note::
        An empty cluster gives a zero meta-node; its norm is floored at :obj:`eps`, so its cosine with every other
        meta-node is 0 and the loss and its gradients stay finite (the official code divides by zero there).

    Example::

        loss_fn = PamCLoss(tau=1.0, num_clusters=7)
        pos_index, pos_weight = csr_to_coo(adjacency_power_sum(edge_index, N, order=2))
        pos, neg = loss_fn(z, q, pos_index, pos_weight)  # q: [N, 7] soft assignments
        (pos + neg).backward()

    Args:
        tau (float): Inverse temperature :math:`\tau > 0`. (default: :obj:`1.0`)
        num_clusters (int, optional): :math:`K`; required when :meth:`forward` gets cluster indices, checked
            against an assignment matrix's width otherwise. (default: :obj:`None`)
        assignment (str): ``'hard'`` or ``'soft'``. (default: :obj:`'hard'`)
        detach_assignment (bool): No gradient through a soft assignment. (default: :obj:`True`)
        eps (float): Norm floor of the cosines. (default: :obj:`1e-8`)
    """

    __constants__ = ['tau', 'num_clusters', 'assignment', 'detach_assignment', 'eps']

    def __init__(
        self,
        tau: float = 1.0,
        num_clusters: Optional[int] = None,
        assignment: str = 'hard',
        detach_assignment: bool = True,
        eps: float = 1e-8,
    ) -> None:
        super().__init__()
        name = self.__class__.__name__
        self.tau = _check_tau(tau, name)
        if assignment not in _ASSIGNMENTS:
            raise ValueError(f"'{name}' expects 'assignment' in {_ASSIGNMENTS} (got {assignment!r})")
        if num_clusters is not None and (isinstance(num_clusters, bool) or int(num_clusters) < 1):
            raise ValueError(f"'{name}' expects 'num_clusters' >= 1 (got {num_clusters!r})")
        if not eps > 0:
            raise ValueError(f"'{name}' expects 'eps' > 0 (got {eps})")
        self.num_clusters = None if num_clusters is None else int(num_clusters)
        self.assignment, self.detach_assignment, self.eps = assignment, bool(detach_assignment), float(eps)

    def assignment_matrix(self, assignment: Tensor) -> Tuple[Tensor, int]:
        r"""``(C, K)``: cluster indices :math:`[N]` (hard) or the :math:`[N, K]` matrix (soft) that builds the
        meta-nodes from :obj:`assignment` (indices or soft assignments :math:`\mathbf{Q}`)."""
        name = self.__class__.__name__
        if assignment.dim() == 1:
            if self.assignment == 'soft':
                raise ValueError(f"'{name}' with assignment='soft' needs an [N, K] assignment matrix, not indices")
            if self.num_clusters is None:
                raise ValueError(f"'{name}' needs 'num_clusters' when 'assignment' holds cluster indices")
            return assignment.long(), self.num_clusters
        if assignment.dim() != 2:
            raise ValueError(f"'{name}' expects 'assignment' of shape [N] or [N, K] (got {tuple(assignment.shape)})")
        k = assignment.size(1)
        if self.num_clusters is not None and k != self.num_clusters:
            raise ValueError(f"'{name}' has num_clusters={self.num_clusters} but 'assignment' has {k} columns")
        if self.assignment == 'hard':
            return assignment.detach().argmax(dim=1), k
        return (assignment.detach() if self.detach_assignment else assignment), k

    def forward(  # type: ignore[override]
        self, z: Tensor, assignment: Tensor, pos_index: Tensor, pos_weight: Optional[Tensor] = None
    ) -> Tuple[Tensor, Tensor]:
        r"""Return :math:`(\mathcal{L}_{pos}, \mathcal{L}_{neg})`.

        Args:
            z (torch.Tensor): Node embeddings :math:`[N, d]`.
            assignment (torch.Tensor): Soft assignments :math:`\mathbf{Q}` :math:`[N, K]` (``'hard'`` takes
                their arg-max) or cluster indices :math:`[N]` (``'hard'`` only).
            pos_index (torch.Tensor): Entries of :math:`\mathbf{\Gamma}`, :math:`[2, P]`.
            pos_weight (torch.Tensor, optional): Their weights :math:`[P]`; ones if :obj:`None`.
        """
        name = self.__class__.__name__
        _check_z(z, name)
        _check_pos(z, pos_index, pos_weight, name)
        if assignment.size(0) != z.size(0):
            raise ValueError(f"'{name}' got {assignment.size(0)} assignment rows for {z.size(0)} nodes in 'z'")
        c, k = self.assignment_matrix(assignment)
        pos = positive_term(z, pos_index, pos_weight, self.tau, self.eps)
        neg = meta_node_negative(meta_nodes(z, c, k), self.tau, self.eps)
        return pos, neg

    def __repr__(self) -> str:
        k = '' if self.num_clusters is None else f'num_clusters={self.num_clusters}, '
        return f"{self.__class__.__name__}({k}tau={self.tau:g}, assignment='{self.assignment}')"


class PairwiseContrastiveLoss(_Loss):
    r"""The dense pairwise contrastive loss that :class:`PamCLoss` approximates: SCGC*'s influence-augmented
    contrastive loss from the `"Self-supervised Contrastive Graph Clustering" <https://arxiv.org/abs/2204.12656>`_
    paper, in the Graph-MLP form, split into the same two terms.

    .. math::
        \mathcal{L} = -\frac{1}{N} \sum_{i} \log \frac{\sum_{j} \Gamma_{ij}\, e^{\tau \tilde{s}_{ij}}}{
        \sum_{k=1}^{N} e^{\tau \tilde{s}_{ik}}}
        = \mathcal{L}_{pos} + \underbrace{\frac{1}{N} \sum_{i} \log \sum_{k=1}^{N} e^{\tau \tilde{s}_{ik}}}_{
        \mathcal{L}_{neg}}

    with :math:`\tilde{s}_{ik}` the cosine similarity, 0 on the diagonal (the :math:`k = i` term is the constant
    1, as in Graph-MLP). :math:`\mathcal{L}_{pos}` is the same number as :class:`PamCLoss`'s; here both terms read
    the dense :math:`N \times N` similarity matrix, :math:`O(N^2 d)` time and :math:`O(N^2)` memory: a reference
    for small graphs.

    Args:
        tau (float): Inverse temperature :math:`\tau > 0`. (default: :obj:`1.0`)
        eps (float): Norm floor of the cosines. (default: :obj:`1e-8`)
    """

    __constants__ = ['tau', 'eps']

    def __init__(self, tau: float = 1.0, eps: float = 1e-8) -> None:
        super().__init__()
        self.tau = _check_tau(tau, self.__class__.__name__)
        if not eps > 0:
            raise ValueError(f"'{self.__class__.__name__}' expects 'eps' > 0 (got {eps})")
        self.eps = float(eps)

    def forward(  # type: ignore[override]
        self, z: Tensor, pos_index: Tensor, pos_weight: Optional[Tensor] = None
    ) -> Tuple[Tensor, Tensor]:
        r"""Return :math:`(\mathcal{L}_{pos}, \mathcal{L}_{neg})` (arguments as in :meth:`PamCLoss.forward`)."""
        name = self.__class__.__name__
        _check_z(z, name)
        _check_pos(z, pos_index, pos_weight, name)
        n = z.size(0)
        zn = F.normalize(z, dim=-1, eps=self.eps)
        eye = torch.eye(n, dtype=torch.bool, device=z.device)
        logit = self.tau * (zn @ zn.t()).masked_fill(eye, 0.0)
        neg = torch.logsumexp(logit, dim=1).mean()
        row, col = pos_index[0].long(), pos_index[1].long()
        return _mean_weighted_lse(logit[row, col], row, pos_weight, n), neg

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(tau={self.tau:g})'
