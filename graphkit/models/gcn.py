r"""GCN node classifier: PyG's :class:`~torch_geometric.nn.models.GCN` with input dropout, found by
``graphkit train gcn``. The worked example of ``docs/ARCHITECTURE.md`` ("How to add a method")."""

from __future__ import annotations

from typing import Any, Dict

import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import models as pyg_models
from torch_geometric.typing import Adj

from graphkit.configs.schema import DEPTH, RATE, WIDTH
from graphkit.models.registry import MODELS


@MODELS.register('gcn')
class GCN(pyg_models.GCN):
    r"""The graph convolutional network from the `"Semi-supervised Classification with Graph Convolutional
    Networks" <https://arxiv.org/abs/1609.02907>`_ paper, for node classification.

    .. math::
        \mathbf{H}^{(l+1)} = \sigma\big(\mathbf{\hat{D}}^{-1/2} \mathbf{\hat{A}} \mathbf{\hat{D}}^{-1/2}
        \mathbf{H}^{(l)} \mathbf{W}^{(l)}\big), \qquad \mathbf{\hat{A}} = \mathbf{A} + \mathbf{I}

    with ReLU between layers, dropout on the input and between layers, and class logits out of the last
    layer (no activation).

    Args:
        in_channels (int): Size of the input features.
        out_channels (int): Number of classes.
        hidden_channels (int): Hidden units per layer. (default: :obj:`16`)
        num_layers (int): Number of :class:`~torch_geometric.nn.conv.GCNConv` layers. (default: :obj:`2`)
        dropout (float): Dropout between layers. (default: :obj:`0.5`)
        input_dropout (float): Dropout on the input features. (default: :obj:`0.5`)
        cached (bool): Cache the normalised adjacency after the first call (one fixed graph, full batch).
            (default: :obj:`True`)
    """

    task = 'node'
    kinds = ('node',)
    trainable = True
    config_schema = {'hidden_channels': WIDTH, 'num_layers': DEPTH, 'dropout': RATE, 'input_dropout': RATE}

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: int = 16,
        num_layers: int = 2,
        dropout: float = 0.5,
        input_dropout: float = 0.5,
        cached: bool = True,
    ) -> None:
        name = self.__class__.__name__
        for key, p in (('dropout', dropout), ('input_dropout', input_dropout)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"'{name}' expects '{key}' in [0, 1) (got {p})")
        if num_layers < 1 or hidden_channels < 1:
            raise ValueError(
                f"'{name}' expects 'num_layers' and 'hidden_channels' >= 1 (got {num_layers} and {hidden_channels})"
            )
        super().__init__(in_channels, hidden_channels, num_layers, out_channels, dropout=dropout, cached=cached)
        self.input_dropout = input_dropout

    @classmethod
    def from_config(cls, cfg: Dict[str, Any], dataset: Any) -> 'GCN':
        """From the ``model`` config section and a :class:`~graphkit.data.NodeDataset`."""
        if dataset.data.x is None:
            raise ValueError(f"Model 'gcn' needs node features; dataset '{dataset.name}' has none")
        return cls(dataset.data.x.size(-1), dataset.num_classes, **cfg)

    def forward(self, x: Tensor, edge_index: Adj) -> Tensor:  # type: ignore[override]
        """Class logits ``[N, C]`` of every node."""
        x = F.dropout(x, p=self.input_dropout, training=self.training)
        return super().forward(x, edge_index)
