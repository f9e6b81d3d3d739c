r"""The GIN baseline of the graph task (``graphkit train gin``), graph- or node-level."""

from __future__ import annotations

from typing import Any, Dict

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.nn import GINConv, global_add_pool, global_mean_pool

from graphkit.configs.schema import RATE, WIDTH, Field
from graphkit.models.registry import MODELS
from graphkit.nn._checks import check_choice, check_probabilities
from graphkit.tokenize import graph_offsets

__all__ = ['GIN']


@MODELS.register('gin')
class GIN(torch.nn.Module):
    r"""The graph isomorphism network from the `"How Powerful are Graph Neural Networks?"
    <https://arxiv.org/abs/1810.00826>`_ paper.

    .. math::
        \mathbf{h}_v^{(k)} = \mathrm{MLP}^{(k)}\Big((1 + \epsilon^{(k)})\, \mathbf{h}_v^{(k-1)} +
        \sum_{u \in \mathcal{N}(v)} \mathbf{h}_u^{(k-1)}\Big), \qquad
        \hat{y}_G = \sum_{k=0}^{K} \mathrm{Linear}^{(k)}\Big(\mathrm{READOUT}\big(\{\mathbf{h}_v^{(k)}\}\big)\Big)

    with 2-layer MLPs and batch norm, :math:`\epsilon = 0` (GIN-0, the paper's best on the TU benchmarks), the
    readout of every layer summed into the prediction (the paper's "jumping" readout), dropout before each
    readout's linear layer. For node-level outputs the same sum over layers is taken per node.

    Args:
        in_channels (int): Input features.
        out_channels (int): Classes (or regression targets).
        level (str): ``'graph'`` or ``'node'``. (default: ``'graph'``)
        hidden_channels (int): Width. (default: :obj:`64`)
        num_layers (int): GIN layers :math:`K`. (default: :obj:`4`)
        dropout (float): Dropout before the readout layers. (default: :obj:`0.5`)
        pool (str): ``'add'`` (the paper) or ``'mean'``. (default: ``'add'``)
        train_eps (bool): Learn :math:`\epsilon` (GIN-:math:`\epsilon`). (default: :obj:`False`)
    """

    task = 'graph'
    kinds = ('graph',)
    trainable = True
    config_schema = {
        'hidden_channels': WIDTH,
        'num_layers': WIDTH,
        'dropout': RATE,
        'pool': Field('str', choices=('add', 'mean')),
        'train_eps': Field('bool'),
    }

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        level: str = 'graph',
        hidden_channels: int = 64,
        num_layers: int = 4,
        dropout: float = 0.5,
        pool: str = 'add',
        train_eps: bool = False,
    ) -> None:
        super().__init__()
        name = self.__class__.__name__
        check_choice(name, 'level', level, ('graph', 'node'))
        check_choice(name, 'pool', pool, ('add', 'mean'))
        check_probabilities(name, dropout=dropout)
        if num_layers < 1 or hidden_channels < 1:
            raise ValueError(
                f"'{name}' expects 'num_layers' and 'hidden_channels' >= 1 (got {num_layers}, {hidden_channels})"
            )
        self.in_channels, self.out_channels, self.level = in_channels, out_channels, level
        self.hidden_channels, self.num_layers, self.dropout, self.pool = hidden_channels, num_layers, dropout, pool
        self.convs = torch.nn.ModuleList()
        for i in range(num_layers):
            mlp = torch.nn.Sequential(
                torch.nn.Linear(in_channels if i == 0 else hidden_channels, hidden_channels),
                torch.nn.BatchNorm1d(hidden_channels),
                torch.nn.ReLU(),
                torch.nn.Linear(hidden_channels, hidden_channels),
                torch.nn.BatchNorm1d(hidden_channels),
                torch.nn.ReLU(),
            )
            self.convs.append(GINConv(mlp, train_eps=train_eps))
        self.readouts = torch.nn.ModuleList(
            [torch.nn.Linear(in_channels if i == 0 else hidden_channels, out_channels) for i in range(num_layers + 1)]
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise every layer."""
        for m in [*self.convs, *self.readouts]:
            m.reset_parameters()

    @classmethod
    def from_config(cls, cfg: Dict[str, Any], dataset: Any) -> 'GIN':
        """From the ``model`` config section and a :class:`~graphkit.data.tu.GraphDataset`."""
        return cls(dataset.num_features, dataset.num_outputs, level=dataset.level, **cfg)

    def transform(self) -> None:
        """GIN needs no tokenisation."""
        return None

    def forward(self, data: Data) -> Tensor:
        """Logits ``[B, C]`` per graph, or ``[N, C]`` per node."""
        h = data.x.float()
        batch, _ = graph_offsets(data)
        batch = batch.to(h.device)
        pool = global_add_pool if self.pool == 'add' else global_mean_pool
        out = 0
        for k in range(self.num_layers + 1):
            if k > 0:
                h = self.convs[k - 1](h, data.edge_index)
            z = h if self.level == 'node' else pool(h, batch)
            out = out + self.readouts[k](F.dropout(z, self.dropout, self.training))
        return out

    def __repr__(self) -> str:
        name, layers = self.__class__.__name__, self.num_layers
        return f"{name}({self.in_channels}, {self.out_channels}, num_layers={layers}, level='{self.level}')"
