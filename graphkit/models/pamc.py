r"""PamC for node clustering (``graphkit train pamc``): a node-feature encoder pretrained as an autoencoder, a
DEC clustering head initialised by k-means, and the meta-node contrastive loss over the graph (or the dense
pairwise loss it approximates, ``model.loss: dense``)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch_geometric.typing import Adj, OptTensor

from graphkit.configs.schema import NONNEG, POSITIVE, RATE, WIDTH, Field
from graphkit.losses.pamc import PairwiseContrastiveLoss, PamCLoss
from graphkit.models.registry import MODELS
from graphkit.nn._checks import check_choice
from graphkit.nn.autoencoder import ENCODERS, FeatureAutoencoder
from graphkit.nn.dec import DECHead, kl_clustering_loss, target_distribution
from graphkit.ops import adjacency_power_sum, csr_to_coo

__all__ = ['PamC']

#: The contrastive losses :class:`PamC` trains with.
LOSSES = ('pamc', 'dense')


@MODELS.register('pamc')
class PamC(torch.nn.Module):
    r"""PamC from the `"Efficient block contrastive learning via parameter-free meta-node approximation"
    <https://arxiv.org/abs/2209.14067>`_ paper, for clustering the nodes of an attributed graph.

    .. math::
        \mathbf{Z} = f_{\mathrm{enc}}(\mathbf{X}), \qquad
        \mathcal{L} = \beta\, \mathrm{KL}(\mathbf{P} \,\|\, \mathbf{Q})
        + \alpha\, \big(\mathcal{L}_{pos}(\mathbf{Z}, \mathbf{\Gamma})
        + \mathcal{L}_{neg}(\mathbf{C}^{\top} \mathbf{Z})\big)

    with :math:`\mathbf{Q}` the Student-t soft assignments of :class:`~graphkit.nn.DECHead`, :math:`\mathbf{P}`
    their sharpened target (:func:`~graphkit.nn.target_distribution`, a constant of each step),
    :math:`\mathbf{\Gamma} = \mathbf{\hat{A}} + \dots + \mathbf{\hat{A}}^R` (:func:`graphkit.ops.adjacency_power_sum`),
    :math:`\mathbf{C} = \mathrm{one\_hot}(\arg\max \mathbf{Q})` and the two contrastive terms of
    :class:`~graphkit.losses.PamCLoss`. The graph enters only through :math:`\mathbf{\Gamma}` in the loss: with
    the default MLP encoder, clustering new nodes is a forward pass of their features. The prediction is
    :math:`\arg\max_k q_{ik}`.

    Training has three stages (driven by :class:`graphkit.tasks.cluster.ClusterTask`): pretrain the
    autoencoder on :meth:`pretrain_loss`, set the centres by k-means on :math:`\mathbf{Z}` (:meth:`init_clusters`),
    then minimise :meth:`loss` full batch.

    .. note::
        :math:`\mathbf{P}` comes from :math:`\mathbf{Q}` of the same forward pass, detached. The official code
        computes it in a separate no-grad pass over the same parameters: the same numbers while the encoder has no
        dropout (the default).

    Args:
        in_channels (int): Number of node features.
        num_clusters (int): Number of clusters :math:`K`.
        hidden_channels (list of int): Hidden widths of the encoder. (default: :obj:`[256, 256]`)
        out_channels (int): Embedding size :math:`d`. (default: :obj:`16`)
        encoder (str): ``'mlp'`` (the paper) or ``'gcn'`` (not in the paper). (default: :obj:`'mlp'`)
        dropout (float): Dropout between encoder layers. (default: :obj:`0.0`)
        loss (str): ``'pamc'`` (meta-node negatives) or ``'dense'`` (all-pairs negatives,
            :class:`~graphkit.losses.PairwiseContrastiveLoss`, :math:`O(N^2)` memory). (default: :obj:`'pamc'`)
        tau (float): Inverse temperature :math:`\tau` of both contrastive terms. (default: :obj:`1.0`)
        alpha (float): Weight :math:`\alpha` of the contrastive loss. (default: :obj:`2.0`)
        beta (float): Weight :math:`\beta` of the KL clustering loss. (default: :obj:`2.0`)
        order (int): :math:`R`, the largest power of :math:`\mathbf{\hat{A}}` in :math:`\mathbf{\Gamma}`.
            (default: :obj:`2`)
        cumulative (bool): :math:`\mathbf{\Gamma} = \sum_{r \le R} \mathbf{\hat{A}}^r` (the official
            ``--influence``); :obj:`False`: :math:`\mathbf{\hat{A}}^R` only. (default: :obj:`True`)
        assignment (str): ``'hard'`` (the official code) or ``'soft'`` meta-nodes. (default: :obj:`'hard'`)
        detach_assignment (bool): No gradient through a soft assignment. (default: :obj:`True`)
        nu (float): Degrees of freedom of the Student-t kernel. (default: :obj:`1.0`)
    """

    task = 'cluster'
    kinds = ('node',)
    trainable = True
    config_schema = {
        'num_clusters': Field('int', nullable=True, min=1),
        'hidden_channels': Field('list[int]', min=1),
        'out_channels': WIDTH,
        'encoder': Field('str', choices=ENCODERS),
        'dropout': RATE,
        'loss': Field('str', choices=LOSSES),
        'tau': POSITIVE,
        'alpha': NONNEG,
        'beta': NONNEG,
        'order': WIDTH,
        'cumulative': Field('bool'),
        'assignment': Field('str', choices=('hard', 'soft')),
        'detach_assignment': Field('bool'),
        'nu': POSITIVE,
    }

    def __init__(
        self,
        in_channels: int,
        num_clusters: int,
        hidden_channels: Sequence[int] = (256, 256),
        out_channels: int = 16,
        encoder: str = 'mlp',
        dropout: float = 0.0,
        loss: str = 'pamc',
        tau: float = 1.0,
        alpha: float = 2.0,
        beta: float = 2.0,
        order: int = 2,
        cumulative: bool = True,
        assignment: str = 'hard',
        detach_assignment: bool = True,
        nu: float = 1.0,
    ) -> None:
        super().__init__()
        name = self.__class__.__name__
        check_choice(name, 'loss', loss, LOSSES)
        check_choice(name, 'assignment', assignment, ('hard', 'soft'))
        for key, v in (('alpha', alpha), ('beta', beta)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
                raise ValueError(f"'{name}' expects '{key}' >= 0 (got {v!r})")
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise ValueError(f"'{name}' expects 'order' to be an integer >= 1 (got {order!r})")
        self.in_channels, self.num_clusters = in_channels, num_clusters
        self.hidden_channels, self.out_channels = list(hidden_channels), out_channels
        self.encoder, self.dropout, self.loss_name = encoder, dropout, loss
        self.tau, self.alpha, self.beta = float(tau), float(alpha), float(beta)
        self.order, self.cumulative, self.assignment = order, bool(cumulative), assignment
        self.detach_assignment, self.nu = detach_assignment, nu
        self.autoencoder = FeatureAutoencoder(in_channels, hidden_channels, out_channels, encoder, dropout)
        self.head = DECHead(out_channels, num_clusters, nu)
        if loss == 'pamc':
            self.contrast: torch.nn.Module = PamCLoss(tau, num_clusters, assignment, detach_assignment)
        else:
            self.contrast = PairwiseContrastiveLoss(tau)
        self.reset_parameters()

    @classmethod
    def from_config(cls, cfg: Dict[str, Any], dataset: Any) -> 'PamC':
        r"""From the ``model`` config section and a :class:`~graphkit.data.NodeDataset`: :math:`K` is
        ``num_clusters``, or the number of classes when that is :obj:`None`."""
        cfg = dict(cfg)
        data = dataset.data
        x = getattr(data, 'x', None)
        if x is None:
            raise ValueError(f"'PamC' needs node features 'x'; dataset '{dataset.name}' has none")
        k = cfg.pop('num_clusters', None)
        if k is None:
            k = int(getattr(dataset, 'num_classes', 0) or 0)
            if k < 1:
                raise ValueError(
                    f"'PamC' needs 'num_clusters' (model.num_clusters): dataset '{dataset.name}' has no labels "
                    f'to take the number of classes from'
                )
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"'PamC' expects 'num_clusters' to be an integer >= 1 (got {k!r})")
        if k > x.size(0):
            raise ValueError(
                f"'PamC' got num_clusters={k} for a graph of {x.size(0)} nodes: K must not exceed the number of nodes"
            )
        return cls(x.size(-1), k, **cfg)

    @property
    def needs_graph(self) -> bool:
        """Whether the encoder reads the graph (then pretraining is full batch)."""
        return self.autoencoder.needs_graph

    def reset_parameters(self) -> None:
        """Re-initialise the autoencoder and the cluster centres."""
        self.autoencoder.reset_parameters()
        self.head.reset_parameters()

    def encode(self, x: Tensor, edge_index: Optional[Adj] = None) -> Tensor:
        r"""Node embeddings :math:`\mathbf{Z}`, :math:`[N, d]`."""
        return self.autoencoder.encode(x, edge_index)

    def forward(self, x: Tensor, edge_index: Optional[Adj] = None) -> Tensor:
        r"""Soft cluster assignments :math:`\mathbf{Q}`, :math:`[N, K]`."""
        return self.head(self.encode(x, edge_index))

    def predict(self, x: Tensor, edge_index: Optional[Adj] = None) -> Tensor:
        r"""The cluster of every node, :math:`\arg\max_k q_{ik}`, :math:`[N]`."""
        return self(x, edge_index).argmax(dim=1)

    def pretrain_loss(self, x: Tensor, edge_index: Optional[Adj] = None, index: OptTensor = None) -> Tensor:
        r"""The autoencoder's reconstruction loss on the nodes :obj:`index` (all if :obj:`None`)."""
        return self.autoencoder.reconstruction_loss(x, edge_index, index)

    def init_clusters(self, z: Tensor, seed: int = 0, n_init: int = 20) -> Tensor:
        r"""k-means (:obj:`n_init` restarts, seeded) on :obj:`z` into the centres; returns its clusters."""
        return self.head.init_centers(z, seed, n_init)

    def positive_pairs(self, edge_index: Tensor, num_nodes: int) -> Tuple[Tensor, Tensor]:
        r"""``(pos_index, pos_weight)``: :math:`\mathbf{\Gamma}` of :obj:`edge_index` in COO form (built once per
        graph by the task; its size is stated in :mod:`graphkit.ops.powers`)."""
        return csr_to_coo(adjacency_power_sum(edge_index, num_nodes, self.order, self.cumulative))

    def loss(
        self,
        x: Tensor,
        edge_index: Optional[Adj],
        pos_index: Tensor,
        pos_weight: OptTensor = None,
    ) -> Tuple[Tensor, Dict[str, Tensor]]:
        r"""The training objective of one full-batch step and its parts ``{'kl', 'pos', 'neg'}`` (detached)."""
        z = self.encode(x, edge_index)
        log_q = self.head.log_assign(z)
        q = log_q.exp()
        kl = kl_clustering_loss(log_q, target_distribution(q))
        if isinstance(self.contrast, PamCLoss):
            pos, neg = self.contrast(z, q, pos_index, pos_weight)
        else:
            pos, neg = self.contrast(z, pos_index, pos_weight)
        total = self.beta * kl + self.alpha * (pos + neg)
        return total, {'kl': kl.detach(), 'pos': pos.detach(), 'neg': neg.detach()}

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}({self.in_channels}, num_clusters={self.num_clusters}, '
            f"encoder='{self.encoder}', loss='{self.loss_name}')"
        )
