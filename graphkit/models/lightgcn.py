r"""PyG's :class:`~torch_geometric.nn.models.LightGCN` with BPR, registered as the recommendation baseline."""

from __future__ import annotations

from typing import Any, Dict, Optional

import torch
from torch import Tensor
from torch_geometric.nn.models import LightGCN as PyGLightGCN
from torch_geometric.typing import Adj, OptTensor

from graphkit.configs.schema import DEPTH0, NONNEG, WIDTH, Field
from graphkit.models.registry import MODELS

__all__ = ['LightGCN']


@MODELS.register('lightgcn')
class LightGCN(PyGLightGCN):
    r"""The LightGCN model from the `"LightGCN: Simplifying and Powering Graph Convolution Network for
    Recommendation" <https://arxiv.org/abs/2002.02126>`_ paper: PyG's
    :class:`~torch_geometric.nn.models.LightGCN`, unchanged, plus what the ``recommend`` task needs
    (uniform negative sampling over items and the BPR loss of PyG's
    :meth:`~torch_geometric.nn.models.LightGCN.recommendation_loss`).

    .. math::
        \mathcal{L} = -\frac{1}{B}\sum_{(u,i,j)} \ln\sigma(\hat y_{ui} - \hat y_{uj})
        + \frac{\lambda}{B}\lVert \mathbf{x}^{(0)}_{\text{batch}} \rVert^2

    .. note::

        Nodes use the homogeneous index (users :math:`[0, U)`, items :math:`[U, U + I)`). The task passes
        the symmetric training graph, already normalised (:math:`D^{-1/2} A D^{-1/2}`) as a sparse CSR
        tensor, so the :class:`~torch_geometric.nn.conv.LGConv` layers are built with ``normalize=False``.

    Args:
        num_users (int): :math:`U`.
        num_items (int): :math:`I`.
        embedding_dim (int): Embedding size.
        num_layers (int): Propagation layers.
        negative_num (int, optional): Uniform negative items per positive pair. (default: :obj:`1`)
        lambda_reg (float, optional): BPR L2 weight on the batch's layer-0 embeddings. (default: :obj:`1e-4`)
        init (str, optional): ``'xavier'`` (PyG) or ``'normal'`` (std 0.1, the official LightGCN code).
            (default: :obj:`'xavier'`)
        normalize (bool, optional): Let :class:`LGConv` normalise the graph on every call. (default:
            :obj:`False`)
    """

    task = 'recommend'
    kinds = ('recommend',)
    trainable = True
    config_schema = {
        'embedding_dim': WIDTH,
        'num_layers': DEPTH0,
        'negative_num': WIDTH,
        'lambda_reg': NONNEG,
        'init': Field('str', choices=('xavier', 'normal')),
        'normalize': Field('bool'),
    }

    def __init__(
        self,
        num_users: int,
        num_items: int,
        embedding_dim: int,
        num_layers: int,
        negative_num: int = 1,
        lambda_reg: float = 1e-4,
        init: str = 'xavier',
        normalize: bool = False,
    ) -> None:
        if init not in ('xavier', 'normal'):
            raise ValueError(f"'{self.__class__.__name__}' expects 'init' in ('xavier', 'normal') (got {init!r})")
        if not isinstance(negative_num, int) or negative_num < 1:
            raise ValueError(f"'{self.__class__.__name__}' expects 'negative_num' >= 1 (got {negative_num!r})")
        self.num_users, self.num_items = num_users, num_items
        self.negative_num, self.lambda_reg, self.init = negative_num, lambda_reg, init
        super().__init__(num_users + num_items, embedding_dim, num_layers, normalize=normalize)

    @classmethod
    def from_config(cls, cfg: Dict[str, Any], data: Any) -> 'LightGCN':
        """Build from the ``model:`` config section and a dataset's homogeneous :class:`Data`."""
        return cls(int(data.num_users), int(data.num_items), **cfg)

    def reset_parameters(self) -> None:
        r"""Re-initialises the embedding table."""
        super().reset_parameters()
        if getattr(self, 'init', 'xavier') == 'normal':
            torch.nn.init.normal_(self.embedding.weight, std=0.1)

    def sample_negatives(self, user: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
        r"""Uniform item ids (homogeneous index), shape :obj:`[B, negative_num]`."""
        return self.num_users + torch.randint(
            0, self.num_items, (user.numel(), self.negative_num), device=user.device, generator=generator
        )

    def loss(
        self,
        edge_label_index: Tensor,
        neg_index: Optional[Tensor] = None,
        edge_index: Optional[Adj] = None,
        generator: Optional[torch.Generator] = None,
        edge_weight: OptTensor = None,
    ) -> Tensor:
        r"""BPR loss of a batch of positive pairs (shape :obj:`[2, B]`) against :obj:`neg_index`
        (shape :obj:`[B, n]`), with embeddings propagated over :obj:`edge_index`."""
        if edge_index is None:
            raise ValueError(f"'{self.__class__.__name__}.loss' needs the training graph 'edge_index'")
        user, pos = edge_label_index
        if neg_index is None:
            neg_index = self.sample_negatives(user, generator)
        emb = self.get_embedding(edge_index, edge_weight)
        eu = emb[user]
        pos_rank = (eu * emb[pos]).sum(-1)
        neg_rank = (eu.unsqueeze(1) * emb[neg_index]).sum(-1)
        n = neg_index.size(1)
        node_id = torch.cat([user, pos, neg_index.reshape(-1)])
        return self.recommendation_loss(
            pos_rank.repeat_interleave(n), neg_rank.reshape(-1), node_id=node_id, lambda_reg=self.lambda_reg
        )
