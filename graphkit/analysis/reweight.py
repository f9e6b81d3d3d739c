r"""TC-guided edge reweighting (``update_adj`` of the official code) from the `"A Topological Perspective on
Demystifying GNN-Based Link Prediction Performance" <https://arxiv.org/abs/2310.04612>`_ paper, for GCN / SAGE
link predictors, and the weighted 1-hop TC that monitors it (:func:`graphkit.metrics.topology.weighted_tc`).

Training with it goes through the shared run loop: ``graphkit train gae --dataset cora --set
train.tc_reweight.alpha=2`` (:class:`~graphkit.tasks.link.LinkTask` calls the reweighter at the start of every
epoch and keeps its weights in the checkpoint).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch
from torch import Tensor
from torch_geometric.utils import softmax

from graphkit.metrics.topology import weighted_tc
from graphkit.ops import csr_parts, csr_tensor, gcn_norm, rw_norm, spmm, to_csr

__all__ = ['TCReweighter', 'use_given_weights']

_AUG = ('gcn', 'sage')


class TCReweighter:
    r"""Every :obj:`update_interval` epochs from epoch :obj:`warm_up` on, re-weights the message-passing edges
    so that neighbours well connected to a node's neighbourhood pass more of their message.

    .. math::
        s_{uv} = \sigma\big(\mathrm{MLP}(\mathbf{h}_u \odot \mathbf{m}_v)\big), \quad
        \mathbf{m} = \mathbf{\hat{A}}_{agg} \mathbf{H}, \qquad
        w^{new}_{uv} = w^{orig}_{uv} + \alpha\, \mathrm{softmax}_{u \in \mathcal{N}(v) \cup \{v\}}(s_{uv})
        \sum_{u'} w^{orig}_{u'v}

    :math:`w^{orig}` is the GCN-normalised adjacency with self-loops (:obj:`aug_type='gcn'`) or the row-mean
    matrix with self-loops (:obj:`'sage'`); the added term is always built from :math:`w^{orig}`, so updates do
    not compound, and each column gains exactly :math:`\alpha \sum_{u} w^{orig}_{uv}`. The model must use
    the weights as given: see :func:`use_given_weights`.

    .. note::
        Call it once per epoch: ``adj = reweighter(epoch, model, x)`` returns the adjacency to train the next
        epoch on (:obj:`self.adj`, a sparse CSR tensor). The softmax is over sigmoid outputs in :math:`(0, 1)`,
        as in the official code, so weights within one neighbourhood differ by at most a factor :math:`e`.

    Args:
        edge_index (torch.Tensor): Training edges of shape :obj:`(2, E)` (read as undirected).
        num_nodes (int): Number of nodes.
        alpha (float, optional): Strength :math:`\alpha`. (default: :obj:`1.0`)
        update_interval (int, optional): Epochs between updates. (default: :obj:`1`)
        warm_up (int, optional): First epoch that updates. (default: :obj:`1`)
        aug_type (str, optional): :obj:`'gcn'` or :obj:`'sage'`. (default: :obj:`'gcn'`)
        pair_score (callable, optional): ``pair_score(model, h_u, m_v) -> logits``; default
            ``model.predictor(h_u * m_v)`` (GAE-style MLP decoders). (default: :obj:`None`)
    """

    def __init__(
        self,
        edge_index: Tensor,
        num_nodes: int,
        alpha: float = 1.0,
        update_interval: int = 1,
        warm_up: int = 1,
        aug_type: str = 'gcn',
        pair_score: Optional[Callable[[Any, Tensor, Tensor], Tensor]] = None,
    ) -> None:
        name = self.__class__.__name__
        if aug_type not in _AUG:
            raise ValueError(f"'{name}' expects 'aug_type' in {_AUG} (got {aug_type!r})")
        if not alpha >= 0:
            raise ValueError(f"'{name}' expects 'alpha' >= 0 (got {alpha})")
        if not isinstance(update_interval, int) or update_interval < 1:
            raise ValueError(f"'{name}' expects 'update_interval' >= 1 (got {update_interval!r})")
        if not isinstance(warm_up, int) or warm_up < 0:
            raise ValueError(f"'{name}' expects 'warm_up' >= 0 (got {warm_up!r})")
        self.num_nodes, self.alpha = int(num_nodes), float(alpha)
        self.update_interval, self.warm_up, self.aug_type = update_interval, warm_up, aug_type
        self.pair_score = pair_score
        adj = to_csr(edge_index, self.num_nodes)
        self.base = (
            gcn_norm(adj) if aug_type == 'gcn' else rw_norm(to_csr(edge_index, self.num_nodes, self_loops='add'))
        )
        self.rowptr, col = csr_parts(self.base)
        row = torch.repeat_interleave(
            torch.arange(self.num_nodes, device=col.device), self.rowptr.diff(), output_size=col.numel()
        )
        w = self.base.values()
        self.edge_index, self.weight_orig = torch.stack([row, col]), w
        self.col_mass = torch.zeros(self.num_nodes, device=w.device).index_add_(0, col, w)
        self.edge_weight, self.adj = w.clone(), self.base
        self.num_updates = 0

    def _csr(self, w: Tensor) -> Tensor:
        return csr_tensor(self.rowptr, self.edge_index[1], w, self.num_nodes)

    def set_weights(self, edge_weight: Tensor, num_updates: int) -> None:
        """Restore the weights of an earlier update (``--resume``)."""
        if edge_weight.shape != self.weight_orig.shape:
            raise ValueError(
                f"'edge_weight' must have shape {tuple(self.weight_orig.shape)} (got "
                f'{tuple(edge_weight.shape)}): was the checkpoint made on another graph?'
            )
        self.edge_weight, self.num_updates = edge_weight, int(num_updates)
        self.adj = self._csr(edge_weight)

    def should_update(self, epoch: int) -> bool:
        """Whether :obj:`epoch` is an update epoch (:obj:`warm_up`, then every :obj:`update_interval`)."""
        return epoch >= self.warm_up and (epoch - self.warm_up) % self.update_interval == 0

    def _score(self, model: Any, hu: Tensor, mv: Tensor) -> Tensor:
        if self.pair_score is not None:
            return self.pair_score(model, hu, mv)
        return model.predictor(hu * mv)

    @torch.no_grad()
    def update(self, model: Any, x: Optional[Tensor], chunk_size: int = 1 << 16) -> Tensor:
        """Recompute the weights from the current model (eval mode, no grad); returns the new adjacency."""
        was_training = getattr(model, 'training', False)
        model.eval()
        h = model.encode(x, self.adj)
        m = spmm(self.base, h)
        u, v = self.edge_index
        s = torch.cat(
            [
                torch.sigmoid(self._score(model, h[u[i : i + chunk_size]], m[v[i : i + chunk_size]])).view(-1)
                for i in range(0, u.numel(), chunk_size)
            ]
        )
        s_hat = softmax(s, v, num_nodes=self.num_nodes)
        self.edge_weight = self.weight_orig + self.alpha * s_hat * self.col_mass[v]
        self.adj = self._csr(self.edge_weight)
        self.num_updates += 1
        if was_training:
            model.train()
        return self.adj

    def __call__(self, epoch: int, model: Any, x: Optional[Tensor]) -> Tensor:
        if self.should_update(epoch):
            self.update(model, x)
        return self.adj

    def tc(self, edge_index_t: Optional[Tensor] = None) -> Tensor:
        r"""The weighted 1-hop TC of every node under the current weights (:func:`weighted_tc`)."""
        return weighted_tc(self.edge_index, self.edge_weight, edge_index_t, self.num_nodes)

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}(alpha={self.alpha}, update_interval={self.update_interval}, '
            f'warm_up={self.warm_up}, aug_type={self.aug_type})'
        )


def use_given_weights(model: torch.nn.Module) -> torch.nn.Module:
    r"""Make every PyG :class:`~torch_geometric.nn.conv.GCNConv` of :obj:`model` use the adjacency values as
    given (``normalize=False``) and every :class:`~torch_geometric.nn.conv.SAGEConv` a weighted sum
    (``aggr='sum'``), as the official code feeds its (re-)weighted matrices. In place; returns :obj:`model`."""
    from torch_geometric.nn.conv import GCNConv, SAGEConv

    for mod in model.modules():
        if isinstance(mod, GCNConv):
            mod.normalize = False
        elif isinstance(mod, SAGEConv):
            mod.aggr = 'sum'
    return model
