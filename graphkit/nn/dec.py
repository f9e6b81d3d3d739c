r"""The clustering head of DEC, from the `"Unsupervised Deep Embedding for Clustering Analysis"
<https://arxiv.org/abs/1511.06335>`_ paper: Student-t soft assignments to learnable centres, k-means
initialisation, and the sharpened target distribution of its self-training KL loss (SDCN, SCGC, PamC reuse it).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor
from torch.nn import Module, Parameter

__all__ = ['DECHead', 'target_distribution', 'kl_clustering_loss']


def target_distribution(q: Tensor) -> Tensor:
    r"""DEC's sharpened target :math:`\mathbf{P}` of soft assignments :math:`\mathbf{Q}`:

    .. math::
        p_{ik} = \frac{q_{ik}^2 / f_k}{\sum_{k'} q_{ik'}^2 / f_{k'}}, \qquad f_k = \sum_i q_{ik}

    (squaring sharpens, dividing by the soft cluster size :math:`f_k` keeps large clusters from taking over).
    Computed without gradient tracking: PamC recomputes it every epoch and treats it as a constant.

    Args:
        q (torch.Tensor): Soft assignments :math:`[N, K]`, rows summing to 1.
    """
    if q.dim() != 2:
        raise ValueError(f"'target_distribution' expects 'q' of shape [N, K] (got {tuple(q.shape)})")
    q = q.detach()
    weight = q.pow(2) / q.sum(0).clamp(min=torch.finfo(q.dtype).tiny)
    return weight / weight.sum(1, keepdim=True).clamp(min=torch.finfo(q.dtype).tiny)


def kl_clustering_loss(log_q: Tensor, p: Tensor) -> Tensor:
    r"""DEC's self-training loss :math:`\mathrm{KL}(\mathbf{P} \,\|\, \mathbf{Q}) = \frac{1}{N} \sum_{i,k}
    p_{ik} \log \frac{p_{ik}}{q_{ik}}` (PyTorch's ``batchmean``), from :math:`\log \mathbf{Q}` so that a
    vanishing :math:`q_{ik}` stays finite; terms with :math:`p_{ik} = 0` are 0 (also where :math:`\log q_{ik}`
    is :math:`-\infty`, a centre too far away for the floating-point range)."""
    if log_q.shape != p.shape or log_q.dim() != 2:
        raise ValueError(
            f"'kl_clustering_loss' expects 'log_q' and 'p' of one shape [N, K] (got {tuple(log_q.shape)} and "
            f'{tuple(p.shape)})'
        )
    safe_p = torch.where(p > 0, p, torch.ones_like(p))
    terms = torch.where(p > 0, p * (safe_p.log() - log_q), torch.zeros_like(p))
    return terms.sum() / max(log_q.size(0), 1)


class DECHead(Module):
    r"""The DEC clustering head from the `"Unsupervised Deep Embedding for Clustering Analysis"
    <https://arxiv.org/abs/1511.06335>`_ paper: :math:`K` learnable centres :math:`\boldsymbol{\mu}_k` and the
    Student-t kernel with :math:`\nu` degrees of freedom,

    .. math::
        q_{ik} = \frac{(1 + \lVert \mathbf{z}_i - \boldsymbol{\mu}_k \rVert^2 / \nu)^{-(\nu + 1) / 2}}{
        \sum_{k'} (1 + \lVert \mathbf{z}_i - \boldsymbol{\mu}_{k'} \rVert^2 / \nu)^{-(\nu + 1) / 2}},

    evaluated in log space (:meth:`log_assign`), so far-away centres give tiny but positive :math:`q_{ik}`.
    The centres start Xavier-normal (as in SDCN) and are meant to be set by :meth:`init_centers` (k-means on the
    pretrained embeddings).

    Args:
        in_channels (int): Embedding size :math:`d`.
        num_clusters (int): Number of clusters :math:`K`.
        nu (float): Degrees of freedom :math:`\nu > 0`. (default: :obj:`1.0`)

    Shapes:
        - **input:** embeddings :math:`(|\mathcal{V}|, d)`
        - **output:** soft assignments :math:`(|\mathcal{V}|, K)`, rows summing to 1
    """

    def __init__(self, in_channels: int, num_clusters: int, nu: float = 1.0) -> None:
        super().__init__()
        name = self.__class__.__name__
        for key, v in (('in_channels', in_channels), ('num_clusters', num_clusters)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"'{name}' expects '{key}' to be an integer >= 1 (got {v!r})")
        if not nu > 0:
            raise ValueError(f"'{name}' expects 'nu' > 0 (got {nu})")
        self.in_channels, self.num_clusters, self.nu = in_channels, num_clusters, float(nu)
        self.mu = Parameter(torch.empty(num_clusters, in_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw the centres (Xavier normal)."""
        torch.nn.init.xavier_normal_(self.mu)

    def log_assign(self, z: Tensor) -> Tensor:
        r""":math:`\log \mathbf{Q}`, :math:`[N, K]`."""
        if z.dim() != 2 or z.size(1) != self.in_channels:
            raise ValueError(
                f"'{self.__class__.__name__}' expects 'z' of shape [N, {self.in_channels}] (got {tuple(z.shape)})"
            )
        dist = torch.cdist(z, self.mu).pow(2)
        logits = -(self.nu + 1.0) / 2.0 * torch.log1p(dist / self.nu)
        return logits - torch.logsumexp(logits, dim=1, keepdim=True)

    def forward(self, z: Tensor) -> Tensor:
        r"""Soft assignments :math:`\mathbf{Q}`, :math:`[N, K]`."""
        return self.log_assign(z).exp()

    @torch.no_grad()
    def init_centers(self, z: Tensor, seed: int = 0, n_init: int = 20, max_iter: Optional[int] = None) -> Tensor:
        r"""Set the centres to the centroids of scikit-learn's :class:`~sklearn.cluster.KMeans` (``n_init``
        restarts seeded by :obj:`seed`, best inertia kept) on :obj:`z`, and return its cluster of every node.

        Raises:
            ValueError: If :obj:`z` has fewer rows than there are clusters.
        """
        from sklearn.cluster import KMeans

        name = self.__class__.__name__
        if z.dim() != 2 or z.size(1) != self.in_channels:
            raise ValueError(f"'{name}' expects 'z' of shape [N, {self.in_channels}] (got {tuple(z.shape)})")
        if z.size(0) < self.num_clusters:
            raise ValueError(
                f"'{name}' has num_clusters={self.num_clusters} but 'z' has only {z.size(0)} rows (nodes): "
                f'K must not exceed N'
            )
        kwargs = {} if max_iter is None else {'max_iter': max_iter}
        km = KMeans(n_clusters=self.num_clusters, n_init=n_init, random_state=seed, **kwargs)
        labels = km.fit_predict(z.detach().double().cpu().numpy())
        self.mu.copy_(torch.as_tensor(km.cluster_centers_, dtype=self.mu.dtype, device=self.mu.device))
        return torch.as_tensor(labels, dtype=torch.long)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.in_channels}, num_clusters={self.num_clusters}, nu={self.nu:g})'
