r"""Graph auto-encoder link predictor: a GNN encoder and an MLP on the Hadamard product of the pair."""

from __future__ import annotations

from typing import Any, Dict, Optional

import torch
from torch import Tensor
from torch_geometric.nn.models import GCN, MLP, GraphSAGE

from graphkit.configs.schema import DEPTH, RATE, WIDTH, Field
from graphkit.models.ncn import _check_graph_input, _check_pairs
from graphkit.models.registry import MODELS


@MODELS.register('gae')
class GAE(torch.nn.Module):
    r"""The graph auto-encoder link predictor from the `"Variational Graph Auto-Encoders"
    <https://arxiv.org/abs/1611.07308>`_ paper, with the MLP decoder used by the OGB link baselines.

    .. math::
        \mathbf{H} = \mathrm{GNN}(\mathbf{X}, \mathbf{A}), \qquad
        s_{ij} = \mathrm{MLP}(\mathbf{h}_i \odot \mathbf{h}_j)

    .. note::
        :obj:`adj` drives message passing; :obj:`pairs` (shape :obj:`[2, B]`) are the node pairs to score.
        Graphs without node features get a learnable embedding table of :obj:`num_nodes` rows.

    Args:
        in_channels (int, optional): Size of the input features; :obj:`None` for an embedding table.
        num_nodes (int): Number of nodes (size of the embedding table when :obj:`in_channels` is :obj:`None`).
        hidden_channels (int): Size of node representations. (default: :obj:`256`)
        num_layers (int): Number of GNN layers. (default: :obj:`2`)
        encoder (str): :obj:`'gcn'` or :obj:`'sage'`. (default: :obj:`'gcn'`)
        predictor_layers (int): Number of MLP layers of the decoder. (default: :obj:`2`)
        dropout (float): Dropout of encoder and decoder. (default: :obj:`0.5`)
    """

    task = 'link'
    kinds = ('link',)
    trainable = True
    config_schema = {
        'hidden_channels': WIDTH,
        'num_layers': DEPTH,
        'encoder': Field('str', choices=('gcn', 'sage')),
        'predictor_layers': DEPTH,
        'dropout': RATE,
    }
    ENCODERS = {'gcn': GCN, 'sage': GraphSAGE}

    def __init__(
        self,
        in_channels: Optional[int],
        num_nodes: int,
        hidden_channels: int = 256,
        num_layers: int = 2,
        encoder: str = 'gcn',
        predictor_layers: int = 2,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        name = self.__class__.__name__
        if encoder not in self.ENCODERS:
            raise ValueError(f"'{name}' expects 'encoder' in {sorted(self.ENCODERS)} (got '{encoder}')")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"'{name}' expects 'dropout' in [0, 1) (got {dropout})")
        if num_layers < 1 or predictor_layers < 1:
            raise ValueError(
                f"'{name}' expects 'num_layers' and 'predictor_layers' >= 1 (got {num_layers} and {predictor_layers})"
            )
        self.in_channels, self.num_nodes = in_channels, num_nodes
        self.hidden_channels, self.num_layers = hidden_channels, num_layers
        self.encoder_type, self.dropout = encoder, dropout

        self.emb = torch.nn.Embedding(num_nodes, hidden_channels) if in_channels is None else None
        self.encoder = self.ENCODERS[encoder](
            in_channels or hidden_channels, hidden_channels, num_layers, dropout=dropout
        )
        self.predictor = MLP([hidden_channels] * predictor_layers + [1], dropout=dropout, norm=None)
        self.reset_parameters()

    @classmethod
    def from_config(cls, cfg: Dict[str, Any], data: Any) -> 'GAE':
        x = getattr(data, 'x', None)
        return cls(None if x is None else x.size(-1), data.num_nodes, **cfg)

    def reset_parameters(self) -> None:
        """Re-initialise the embedding table, the encoder and the decoder."""
        if self.emb is not None:
            torch.nn.init.xavier_uniform_(self.emb.weight)
        self.encoder.reset_parameters()
        self.predictor.reset_parameters()

    def encode(self, x: Optional[Tensor], adj: Tensor) -> Tensor:
        """Node representations from features :obj:`x` (or the embedding table) on the graph :obj:`adj`."""
        _check_graph_input('GAE.encode', x, adj)
        if self.emb is not None:
            x = self.emb.weight
        return self.encoder(x, adj)

    def predict(self, h: Tensor, adj: Tensor, pairs: Tensor) -> Tensor:
        """Logits of the pairs :obj:`pairs` (shape :obj:`[2, B]`) from node representations :obj:`h`."""
        _check_pairs('GAE.predict', h, pairs)
        return self.predictor(h[pairs[0]] * h[pairs[1]]).view(-1)

    def forward(self, x: Optional[Tensor], adj: Tensor, pairs: Tensor) -> Tensor:
        return self.predict(self.encode(x, adj), adj, pairs)

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, '
            f'num_layers={self.num_layers}, encoder={self.encoder_type})'
        )
