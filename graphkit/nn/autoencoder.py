r"""A node-feature autoencoder, the pretraining stage of deep graph clustering (DEC, SDCN, SCGC, PamC): an
encoder to a small embedding and a mirrored MLP decoder back to the features."""

from __future__ import annotations

from typing import List, Optional, Sequence

import torch.nn.functional as F
from torch import Tensor
from torch.nn import Module, ModuleList
from torch_geometric.nn import MLP, GCNConv
from torch_geometric.typing import Adj, OptTensor

from graphkit.nn._checks import check_choice, check_probabilities

__all__ = ['FeatureAutoencoder', 'ENCODERS']

#: The encoders :class:`FeatureAutoencoder` builds.
ENCODERS = ('mlp', 'gcn')


class FeatureAutoencoder(Module):
    r"""A node-feature autoencoder as deep clustering methods pretrain it (SDCN's ``AE``, from the `"Structural
    Deep Clustering Network" <https://arxiv.org/abs/2002.01633>`_ paper, with a choice of encoder).

    .. math::
        \mathbf{Z} = f_{\mathrm{enc}}(\mathbf{X}), \qquad \mathbf{\hat{X}} = f_{\mathrm{dec}}(\mathbf{Z}),
        \qquad \mathcal{L}_{rec} = \frac{1}{N F} \lVert \mathbf{X} - \mathbf{\hat{X}} \rVert_F^2

    The encoder is an MLP ``in -> hidden[0] -> ... -> out`` (``'mlp'``, PyG's :class:`~torch_geometric.nn.MLP`;
    PamC's encoder, which reads no graph) or the same widths as :class:`~torch_geometric.nn.conv.GCNConv` layers
    (``'gcn'``); ReLU between layers, none on :math:`\mathbf{Z}`. The decoder is the mirrored MLP
    ``out -> hidden[-1] -> ... -> in``.

    .. note::
        SDCN / PamC use widths ``500 -> 500 -> 2000 -> 10`` (``hidden_channels=[500, 500, 2000],
        out_channels=10``); the defaults here are the smaller ``256 -> 256 -> 16``.

    Args:
        in_channels (int): Number of input features :math:`F`.
        hidden_channels (list of int): Hidden widths of the encoder. (default: :obj:`[256, 256]`)
        out_channels (int): Embedding size :math:`d`. (default: :obj:`16`)
        encoder (str): ``'mlp'`` or ``'gcn'``. (default: :obj:`'mlp'`)
        dropout (float): Dropout between hidden layers of the encoder. (default: :obj:`0.0`)

    Shapes:
        - **input:** features :math:`(|\mathcal{V}|, F)`, edge indices :math:`(2, |\mathcal{E}|)` (``'gcn'``
          only)
        - **output:** embeddings :math:`(|\mathcal{V}|, d)`
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: Sequence[int] = (256, 256),
        out_channels: int = 16,
        encoder: str = 'mlp',
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        name = self.__class__.__name__
        check_choice(name, 'encoder', encoder, ENCODERS)
        check_probabilities(name, dropout=dropout)
        hidden = list(hidden_channels) if isinstance(hidden_channels, (list, tuple)) else [hidden_channels]
        for key, v in [('in_channels', in_channels), ('out_channels', out_channels)] + [
            ('hidden_channels', h) for h in hidden
        ]:
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"'{name}' expects '{key}' to hold integers >= 1 (got {v!r})")
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden, out_channels
        self.encoder, self.dropout = encoder, float(dropout)
        widths: List[int] = [in_channels, *hidden, out_channels]
        if encoder == 'mlp':
            self.enc: Module = MLP(widths, act='relu', norm=None, dropout=self.dropout, plain_last=True)
        else:
            self.enc = ModuleList([GCNConv(a, b, cached=True) for a, b in zip(widths[:-1], widths[1:])])
        self.dec = MLP(widths[::-1], act='relu', norm=None, dropout=0.0, plain_last=True)
        self.reset_parameters()

    @property
    def needs_graph(self) -> bool:
        """Whether :meth:`encode` reads the graph (``'gcn'``)."""
        return self.encoder == 'gcn'

    def reset_parameters(self) -> None:
        """Re-initialise the encoder and decoder (and drop the GCN's cached normalised graph)."""
        if isinstance(self.enc, ModuleList):
            for conv in self.enc:
                conv.reset_parameters()  # also clears the cached normalisation
        else:
            self.enc.reset_parameters()
        self.dec.reset_parameters()

    def encode(self, x: Tensor, edge_index: Optional[Adj] = None, edge_weight: OptTensor = None) -> Tensor:
        """Embeddings :math:`\\mathbf{Z}` of every node."""
        if not isinstance(self.enc, ModuleList):
            return self.enc(x)
        if edge_index is None:
            raise ValueError(f"'{self.__class__.__name__}' with encoder='gcn' needs 'edge_index'")
        for i, conv in enumerate(self.enc):
            x = conv(x, edge_index, edge_weight)
            if i < len(self.enc) - 1:
                x = F.dropout(F.relu(x), p=self.dropout, training=self.training)
        return x

    def decode(self, z: Tensor) -> Tensor:
        """Reconstructed features :math:`\\mathbf{\\hat{X}}`."""
        return self.dec(z)

    def forward(self, x: Tensor, edge_index: Optional[Adj] = None, edge_weight: OptTensor = None) -> Tensor:
        """Embeddings :math:`\\mathbf{Z}` (as :meth:`encode`)."""
        return self.encode(x, edge_index, edge_weight)

    def reconstruction_loss(self, x: Tensor, edge_index: Optional[Adj] = None, index: OptTensor = None) -> Tensor:
        r"""Mean squared reconstruction error of the nodes :obj:`index` (all if :obj:`None`). The MLP encodes only
        those rows; the GCN encodes the whole graph (full batch) and scores those rows."""
        if self.needs_graph:
            out = self.decode(self.encode(x, edge_index))
            return F.mse_loss(out, x) if index is None else F.mse_loss(out[index], x[index])
        rows = x if index is None else x[index]
        return F.mse_loss(self.decode(self.encode(rows)), rows)

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}({self.in_channels}, {self.out_channels}, '
            f"hidden_channels={self.hidden_channels}, encoder='{self.encoder}')"
        )
