r"""The message-passing encoder of NCN / NCNC (the MPNN of the NCN paper's MPNN-then-SF architecture, with
the layers of the official code, GraphPKU/NeuralCommonNeighbor) and its edge-dropout module."""

from __future__ import annotations

from typing import List, Optional

import torch
from torch import Tensor
from torch.nn import Embedding, Identity, LayerNorm, Linear, Module, ModuleList, Parameter, ReLU, Sequential
from torch_geometric.nn import GCNConv

from graphkit import ops
from graphkit.nn._checks import check_choice, check_probabilities
from graphkit.nn.dropout import Dropout

PURE_CONVS = ('puregcn', 'puresum', 'puremean', 'puremax')
PYG_CONVS = ('gcn', 'sage', 'gin', 'max')
CONVS = PYG_CONVS + PURE_CONVS + ('none',)


class DropAdj(Module):
    r"""Module form of :func:`graphkit.ops.drop_adj`: a fresh mask over the adjacency nonzeros on every
    call, active in training mode only.

    Args:
        p (float): Probability to drop an entry. (default: :obj:`0.0`)
    """

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        check_probabilities(self.__class__.__name__, p=p)
        self.p = p

    def forward(self, adj: Tensor) -> Tensor:
        return ops.drop_adj(adj, self.p, self.training)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(p={self.p})'


class PureConv(Module):
    r"""A parameter-free propagation step
    :math:`\mathbf{X}' = \mathrm{AGG}(\mathbf{A}, \mathbf{X})`.

    :obj:`aggr='gcn'` is :math:`\tilde{\mathbf{D}}^{-1/2}(\mathbf{A} + \mathbf{I})
    \tilde{\mathbf{D}}^{-1/2}\mathbf{X}` with :math:`\tilde{D}_{ii} = 1 + \sum_j A_{ij}` (the row
    sums of the possibly edge-dropped, rescaled adjacency); :obj:`'sum'`, :obj:`'mean'`,
    :obj:`'max'` reduce over the stored neighbours of each row.

    Args:
        aggr (str): One of :obj:`'gcn'`, :obj:`'sum'`, :obj:`'mean'`, :obj:`'max'`.
    """

    def __init__(self, aggr: str) -> None:
        super().__init__()
        if aggr not in ('gcn', 'sum', 'mean', 'max'):
            raise ValueError(f"'{self.__class__.__name__}' expects 'aggr' in gcn, sum, mean, max (got '{aggr}')")
        self.aggr = aggr

    def reset_parameters(self) -> None:
        """No parameters; kept for a uniform interface."""

    def forward(self, x: Tensor, adj: Tensor) -> Tensor:
        if self.aggr != 'gcn':
            return ops.spmm(adj, x, reduce=self.aggr)
        deg = ops.spmm(adj, x.new_ones(x.size(0), 1), reduce='sum')
        norm = (deg + 1.0).rsqrt()
        x = norm * x
        return norm * (ops.spmm(adj, x, reduce='sum') + x)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.aggr})'


class MPNNEncoder(Module):
    r"""The message-passing encoder of NCN / NCNC from the `"Neural Common Neighbor with Completion
    for Link Prediction" <https://arxiv.org/abs/2302.00890>`_ paper: the MPNN that produces the node
    representations the predictors pool, with the convolutions and layer blocks of the official code
    (GraphPKU/NeuralCommonNeighbor, main @ 11d5970).

    Parametric convolutions (:obj:`gcn`, :obj:`sage`, :obj:`gin`, :obj:`max`) are PyG
    :class:`~torch_geometric.nn.conv.GCNConv` layers; after every layer but the last (and after the
    single layer when :obj:`num_layers=1`) comes :obj:`[LayerNorm] -> Dropout -> ReLU`.
    "Pure" convolutions are parameter-free, preceded by a :obj:`Linear -> Dropout` input stage and
    followed by tail dropout, giving the SGC-like

    .. math::
        \mathbf{H} = \mathrm{Dropout}_{\mathrm{tdp}}\left(\hat{\mathbf{A}}^{L}\,
        \mathrm{Dropout}_{\mathrm{gnndp}}(\mathbf{X}\mathbf{W})\right).

    With :obj:`res=True`,
    :math:`\mathbf{X} \leftarrow \mathrm{conv}(\mathbf{X}) + \mathbf{X}` whenever shapes match;
    with :obj:`jk=True` the output is :math:`\sum_l w_l \mathbf{X}_l` with learnable,
    un-normalised, :obj:`randn`-initialised :math:`w`.

    .. note::
        :obj:`adj` is a torch sparse CSR matrix read row-wise, i.e. as PyG's :obj:`adj_t`:
        :math:`\mathbf{x}'_i` aggregates over the columns :math:`j` of row :math:`i`. Edge dropout
        draws a fresh mask for every layer, so a symmetric input may become asymmetric.

    .. note::
        :obj:`none` does no propagation (pre-computed embeddings); it gets the :obj:`Linear` input
        stage like the pure convolutions, so that the output width is :obj:`hidden_channels`.

    .. note::
        :obj:`sage` is :class:`GCNConv` with mean aggregation, no normalisation and no self-loops
        (not :class:`SAGEConv`); :obj:`gin` the same with sum (not a GIN MLP); :obj:`max` with max.

    Args:
        in_channels (int, optional): Size of each input feature; ignored (may be :obj:`None`) when
            :obj:`num_embeddings` is given.
        hidden_channels (int): Size of the hidden representations.
        out_channels (int, optional): Size of the output; :obj:`None` means :obj:`hidden_channels`.
            Pure convolutions need both equal. (default: :obj:`None`)
        num_layers (int, optional): Number of propagation layers. (default: :obj:`1`)
        conv (str, optional): :obj:`'gcn'`, :obj:`'sage'`, :obj:`'gin'`, :obj:`'max'`,
            :obj:`'puregcn'`, :obj:`'puresum'`, :obj:`'puremean'`, :obj:`'puremax'` or
            :obj:`'none'`.
            (default: :obj:`'gcn'`)
        layer_norm (bool, optional): Puts a :class:`~torch.nn.LayerNorm` in the block after each
            parametric layer (official :obj:`--ln`). (default: :obj:`False`)
        dropout (float, optional): Dropout probability of the embedding / input stage and between
            layers (official :obj:`--gnndp`). (default: :obj:`0.0`)
        input_dropout (float, optional): Dropout probability on the raw input features (official
            :obj:`--xdp`). (default: :obj:`0.0`)
        tail_dropout (float, optional): Dropout probability after the last pure convolution (official
            :obj:`--tdp`). (default: :obj:`0.0`)
        edge_dropout (float, optional): Probability to drop each adjacency entry before every layer,
            kept entries rescaled by :math:`1 / (1 - p)`, training only (official :obj:`--gnnedp`).
            (default: :obj:`0.0`)
        res (bool, optional): Adds each layer's input to its output whenever the shapes match
            (official :obj:`--res`). (default: :obj:`False`)
        jk (bool, optional): Returns a learnable weighted sum over the layer outputs instead of the
            last one (official :obj:`--jk`). (default: :obj:`False`)
        num_embeddings (int, optional): If set, the input is a learnable, orthogonally initialised
            :class:`~torch.nn.Embedding` table of this many rows (featureless graphs); :obj:`x` is
            then :obj:`None` (all rows, one per node) or a :obj:`LongTensor` of row indices.
            (default: :obj:`None`)

    .. note::
        :obj:`x` may be a torch sparse CSR matrix (bag-of-words features such as Cora's): input
        dropout then acts on the stored entries only, which has the same distribution as dropout on
        the dense matrix, and the input :obj:`Linear` runs as a sparse product.

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F_{in})` (dense or sparse CSR) or
          :obj:`None`, sparse CSR adjacency
          :math:`(|\mathcal{V}|, |\mathcal{V}|)`
        - **output:** :math:`(|\mathcal{V}|, F_{out})`
    """

    def __init__(
        self,
        in_channels: Optional[int],
        hidden_channels: int,
        out_channels: Optional[int] = None,
        num_layers: int = 1,
        conv: str = 'gcn',
        layer_norm: bool = False,
        dropout: float = 0.0,
        input_dropout: float = 0.0,
        tail_dropout: float = 0.0,
        edge_dropout: float = 0.0,
        res: bool = False,
        jk: bool = False,
        num_embeddings: Optional[int] = None,
    ) -> None:
        super().__init__()
        name = self.__class__.__name__
        check_choice(name, 'conv', conv, CONVS)
        if num_layers < 0:
            raise ValueError(f"'{name}' expects 'num_layers' >= 0 (got {num_layers})")
        check_probabilities(
            name, dropout=dropout, input_dropout=input_dropout, tail_dropout=tail_dropout, edge_dropout=edge_dropout
        )
        if num_embeddings is None and (in_channels is None or in_channels <= 0):
            raise ValueError(
                f"'{name}' needs a positive 'in_channels' when 'num_embeddings' is not set (got {in_channels})"
            )
        if num_embeddings is not None and num_embeddings <= 0:
            raise ValueError(f"'{name}' expects a positive 'num_embeddings' (got {num_embeddings})")
        out_channels = hidden_channels if out_channels is None else out_channels
        pure = conv in PURE_CONVS or conv == 'none'
        if pure and num_layers > 0 and out_channels != hidden_channels:
            raise ValueError(
                f"'{name}' with conv '{conv}' needs 'out_channels' == "
                f"'hidden_channels' (got {out_channels} and {hidden_channels})"
            )

        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.num_layers, self.conv, self.layer_norm, self.res, self.jk = num_layers, conv, layer_norm, res, jk
        self.dropout, self.input_dropout = dropout, input_dropout
        self.tail_dropout, self.edge_dropout = tail_dropout, edge_dropout
        self.num_embeddings = num_embeddings

        # Input stage.
        self.emb: Optional[Embedding] = None
        if num_embeddings is not None:
            self.emb = Embedding(num_embeddings, hidden_channels)
            stage: List[Module] = [Dropout(dropout)]
            width = hidden_channels
        else:
            stage = [Dropout(input_dropout)]
            width = in_channels
        if pure or num_layers == 0:
            stage += [Linear(width, hidden_channels), Dropout(dropout)]
            width = hidden_channels
        self.input = Sequential(*stage)

        # Propagation layers and the block after each.
        self.convs = ModuleList()
        self.lins = ModuleList()
        for i in range(num_layers):
            last = i == num_layers - 1
            out = out_channels if last else hidden_channels
            if conv in PURE_CONVS:
                self.convs.append(PureConv(conv[len('pure') :]))
                self.lins.append(Dropout(tail_dropout) if last else Identity())
                continue
            if conv == 'none':
                self.convs.append(Identity())
                self.lins.append(Identity())
                continue
            kwargs = (
                {}
                if conv == 'gcn'
                else dict(
                    aggr={'sage': 'mean', 'gin': 'add', 'max': 'max'}[conv], normalize=False, add_self_loops=False
                )
            )
            self.convs.append(GCNConv(width, out, **kwargs))
            if last and num_layers > 1:
                self.lins.append(Identity())
            else:
                self.lins.append(Sequential(LayerNorm(out) if layer_norm else Identity(), Dropout(dropout), ReLU()))
            width = out
        self.drop_adj = DropAdj(edge_dropout)
        self.jk_weight = Parameter(torch.empty(num_layers)) if jk else None

        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Resets all learnable parameters of the module."""
        if self.emb is not None:
            torch.nn.init.orthogonal_(self.emb.weight)
        for module in self.input:
            if isinstance(module, Linear):
                module.reset_parameters()
        for conv in self.convs:
            if hasattr(conv, 'reset_parameters'):
                conv.reset_parameters()
        for lin in self.lins:
            for module in lin.modules():
                if isinstance(module, LayerNorm):
                    module.reset_parameters()
        if self.jk_weight is not None:
            with torch.no_grad():
                self.jk_weight.normal_()

    def forward(self, x: Optional[Tensor], adj: Tensor) -> Tensor:
        """Returns node representations of shape :obj:`(num_nodes, out_channels)`."""
        if self.emb is not None:
            x = self.emb.weight if x is None else self.emb(x)
        elif x is None:
            raise ValueError(
                f"'{self.__class__.__name__}' needs node features 'x' (or 'num_embeddings' for featureless graphs)"
            )
        x = self._sparse_input(x) if x.layout == torch.sparse_csr else self.input(x)
        outs: List[Tensor] = []
        for conv, lin in zip(self.convs, self.lins):
            a = self.drop_adj(adj)
            out = lin(conv(x) if isinstance(conv, Identity) else conv(x, a))
            x = out + x if self.res and out.shape == x.shape else out
            if self.jk_weight is not None:
                outs.append(x)
        if self.jk_weight is not None and len(outs) > 0:
            x = (torch.stack(outs, dim=0) * self.jk_weight.view(-1, 1, 1)).sum(dim=0)
        return x

    def _sparse_input(self, x: Tensor) -> Tensor:
        # Dropout on the stored entries only (dropping a zero is a no-op), then the input Linear as
        # an embedding-bag sum: the (N, F_in) dense features are never materialised.
        first = self.input[0]
        value = ops.packed_dropout(x.values(), first.p, self.training)
        if len(self.input) == 1:
            return ops.csr_tensor(x.crow_indices(), x.col_indices(), value, x.size()).to_dense()
        lin = self.input[1]
        rowptr, col = x.crow_indices().long(), x.col_indices().long()
        # A contiguous (F_in, H) table: on a transposed view embedding_bag takes a generic path,
        # 11x slower forward and 5x with backward on Cora (benchmarks/input_stage.py).
        out = torch.nn.functional.embedding_bag(
            col, lin.weight.t().contiguous(), rowptr[:-1], mode='sum', per_sample_weights=value.to(lin.weight.dtype)
        )
        if lin.bias is not None:
            out = out + lin.bias
        return self.input[2:](out)

    def __repr__(self) -> str:
        src = f'Embedding({self.num_embeddings})' if self.num_embeddings is not None else str(self.in_channels)
        return (
            f"{self.__class__.__name__}({src}, {self.out_channels}, conv='{self.conv}', num_layers={self.num_layers})"
        )
