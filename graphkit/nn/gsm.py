r"""The layers of GSM++ (`"Best of Both Worlds: Advantages of Hybrid Graph Sequence Models"
<https://arxiv.org/abs/2411.15671>`_): the hybrid block (selective SSM layers, then attention, then an FFN, each
with a residual and a norm), dense attention with a key-padding mask and an additive per-head bias (the
hierarchical positional encoding), the gated-GCN local encoder, and the top-:math:`k` mixture-of-tokenisation
router."""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import ResGatedGraphConv
from torch_geometric.typing import Adj

from graphkit.nn._checks import check_probabilities
from graphkit.nn.ssm import SelectiveSSM

__all__ = ['SequenceAttention', 'HybridBlock', 'LocalEncoder', 'MoTRouter']


class SequenceAttention(torch.nn.Module):
    r"""Multi-head scaled dot-product attention over padded sequences, with an optional additive bias per head
    (:math:`\mathrm{softmax}(\mathbf{Q}\mathbf{K}^{\top} / \sqrt{d_h} + \mathbf{b}_h)\mathbf{V}`, padded keys
    masked out).

    Args:
        channels (int): Model width (divisible by :obj:`heads`).
        heads (int): Number of heads. (default: :obj:`4`)
        dropout (float): Dropout on the attention weights. (default: :obj:`0.0`)
    """

    def __init__(self, channels: int, heads: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        if heads < 1 or channels % heads:
            raise ValueError(
                f"'{self.__class__.__name__}' expects 'channels' ({channels}) divisible by 'heads' ({heads})"
            )
        check_probabilities(self.__class__.__name__, dropout=dropout)
        self.channels, self.heads, self.dropout = channels, heads, dropout
        self.qkv = torch.nn.Linear(channels, 3 * channels)
        self.out = torch.nn.Linear(channels, channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise the projections."""
        self.qkv.reset_parameters()
        self.out.reset_parameters()

    def forward(self, x: Tensor, mask: Optional[Tensor] = None, bias: Optional[Tensor] = None) -> Tensor:
        r"""``x`` ``[B, L, d]``; ``mask`` ``[B, L]`` (True at real tokens); ``bias`` ``[B, H, L, L]``."""
        Bt, L, _ = x.shape
        q, k, v = self.qkv(x).view(Bt, L, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        attn_mask = bias
        if mask is not None:
            pad = torch.zeros(Bt, 1, 1, L, dtype=x.dtype, device=x.device).masked_fill(
                ~mask.view(Bt, 1, 1, L), float('-inf')
            )
            attn_mask = pad if attn_mask is None else attn_mask + pad
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out(out.transpose(1, 2).reshape(Bt, L, -1))

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.channels}, heads={self.heads})'


class HybridBlock(torch.nn.Module):
    r"""The GSM++ hybrid block: recurrence first (order-sensitive, linear time), attention last
    (permutation-equivariant, long range), then a feed-forward network; every sub-layer post-normed with a
    residual:

    .. math::
        \mathbf{X} &\leftarrow \mathrm{LN}(\mathbf{X} + \mathrm{Dropout}(\mathrm{SSM}(\mathbf{X})))
        \quad (\text{ssm\_layers times}) \\
        \mathbf{X} &\leftarrow \mathrm{LN}(\mathbf{X} + \mathrm{Dropout}(\mathrm{Attn}(\mathbf{X}; \mathbf{b})))
        \quad (\text{attn\_layers times}) \\
        \mathbf{X} &\leftarrow \mathrm{LN}(\mathbf{X} + \mathrm{Dropout}(\mathrm{FFN}(\mathbf{X})))

    :obj:`ssm_layers` / :obj:`attn_layers` set the ratio; 0 SSM layers gives a Transformer block, 0 attention
    layers a Mamba block. Padded positions (``mask`` False) are zeroed after every sub-layer.

    Args:
        channels (int): Model width.
        ssm_layers (int): :class:`~graphkit.nn.SelectiveSSM` layers. (default: :obj:`1`)
        attn_layers (int): :class:`SequenceAttention` layers. (default: :obj:`1`)
        heads (int): Attention heads. (default: :obj:`4`)
        d_state (int): SSM state size. (default: :obj:`16`)
        d_conv (int): SSM convolution width. (default: :obj:`4`)
        expand (int): SSM inner expansion. (default: :obj:`1`)
        dropout (float): Dropout on every sub-layer output. (default: :obj:`0.0`)
        attn_dropout (float): Dropout on the attention weights. (default: :obj:`0.0`)
        scan (str): The SSM scan (``'auto'``, ``'parallel'``, ``'sequential'``). (default: :obj:`'auto'`)
    """

    def __init__(
        self,
        channels: int,
        ssm_layers: int = 1,
        attn_layers: int = 1,
        heads: int = 4,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 1,
        dropout: float = 0.0,
        attn_dropout: float = 0.0,
        scan: str = 'auto',
    ) -> None:
        super().__init__()
        name = self.__class__.__name__
        check_probabilities(name, dropout=dropout, attn_dropout=attn_dropout)
        if ssm_layers < 0 or attn_layers < 0 or ssm_layers + attn_layers == 0:
            raise ValueError(
                f"'{name}' expects 'ssm_layers' and 'attn_layers' >= 0, not both 0 (got {ssm_layers}, {attn_layers})"
            )
        self.channels, self.ssm_layers, self.attn_layers, self.dropout = channels, ssm_layers, attn_layers, dropout
        self.ssms = torch.nn.ModuleList(
            [SelectiveSSM(channels, d_state, d_conv, expand, scan) for _ in range(ssm_layers)]
        )
        self.attns = torch.nn.ModuleList([SequenceAttention(channels, heads, attn_dropout) for _ in range(attn_layers)])
        self.norms = torch.nn.ModuleList([torch.nn.LayerNorm(channels) for _ in range(ssm_layers + attn_layers + 1)])
        self.ffn = torch.nn.Sequential(
            torch.nn.Linear(channels, 2 * channels), torch.nn.GELU(), torch.nn.Linear(2 * channels, channels)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise every sub-layer."""
        for m in [*self.ssms, *self.attns, *self.norms]:
            m.reset_parameters()
        for m in self.ffn:
            if hasattr(m, 'reset_parameters'):
                m.reset_parameters()

    def forward(self, x: Tensor, mask: Optional[Tensor] = None, bias: Optional[Tensor] = None) -> Tensor:
        r"""``x`` ``[B, L, d]``, ``mask`` ``[B, L]`` (True at real tokens), ``bias`` ``[B, H, L, L]``."""
        keep = None if mask is None else mask.unsqueeze(-1).to(x.dtype)
        norms = iter(self.norms)

        def sub(x: Tensor, y: Tensor) -> Tensor:
            x = next(norms)(x + F.dropout(y, self.dropout, self.training))
            return x if keep is None else x * keep

        if keep is not None:
            x = x * keep
        for ssm in self.ssms:
            x = sub(x, ssm(x))
        for attn in self.attns:
            x = sub(x, attn(x, mask, bias))
        return sub(x, self.ffn(x))

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}({self.channels}, ssm_layers={self.ssm_layers}, attn_layers={self.attn_layers})'
        )


class LocalEncoder(torch.nn.Module):
    r"""The local encoder of GSM++: residual gated graph convolutions (`"Residual Gated Graph ConvNets"
    <https://arxiv.org/abs/1711.07553>`_, PyG's :class:`~torch_geometric.nn.conv.ResGatedGraphConv`),

    .. math::
        \mathbf{h}_i \leftarrow \mathrm{BN}\Big(\mathbf{h}_i + \mathrm{ReLU}\big(\mathbf{W}_1 \mathbf{h}_i +
        \sum_{j \in \mathcal{N}(i)} \sigma(\mathbf{W}_3 \mathbf{h}_i + \mathbf{W}_4 \mathbf{h}_j) \odot
        \mathbf{W}_2 \mathbf{h}_j\big)\Big)

    Args:
        channels (int): Width.
        num_layers (int): Convolutions (0: identity). (default: :obj:`2`)
        dropout (float): Dropout after every layer. (default: :obj:`0.0`)
    """

    def __init__(self, channels: int, num_layers: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        check_probabilities(self.__class__.__name__, dropout=dropout)
        if num_layers < 0:
            raise ValueError(f"'{self.__class__.__name__}' expects 'num_layers' >= 0 (got {num_layers})")
        self.channels, self.num_layers, self.dropout = channels, num_layers, dropout
        self.convs = torch.nn.ModuleList([ResGatedGraphConv(channels, channels) for _ in range(num_layers)])
        self.norms = torch.nn.ModuleList([torch.nn.BatchNorm1d(channels) for _ in range(num_layers)])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise the convolutions and norms."""
        for m in [*self.convs, *self.norms]:
            m.reset_parameters()

    def forward(self, x: Tensor, edge_index: Adj) -> Tensor:
        for conv, norm in zip(self.convs, self.norms):
            x = norm(x + F.relu(conv(x, edge_index)))
            x = F.dropout(x, self.dropout, self.training)
        return x

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.channels}, num_layers={self.num_layers})'


class MoTRouter(torch.nn.Module):
    r"""The mixture-of-tokenisation router of GSM++: a linear score per tokenisation, the top-:math:`k` kept
    per node, gate-weighted (mixture-of-experts style, so the router is trained through the gates):

    .. math::
        \mathbf{p}_v = \mathrm{softmax}(\mathbf{h}_v \mathbf{W}_r), \qquad
        g_{v,e} = \frac{p_{v,e}\, [e \in \mathrm{top}_k(\mathbf{p}_v)]}
        {\sum_{e' \in \mathrm{top}_k(\mathbf{p}_v)} p_{v,e'}}, \qquad
        \mathcal{L}_{bal} = E \sum_{e=1}^{E} f_e\, \bar{p}_e

    with :math:`f_e` the share of nodes routed to :math:`e` (divided by :math:`k`) and :math:`\bar{p}_e` the mean
    router probability (the Switch Transformer load-balancing term; 1 when routing is uniform).

    Args:
        channels (int): Width of :math:`\mathbf{h}`.
        num_tokenizers (int): :math:`E`.
        top_k (int): :math:`k`. (default: :obj:`2`)
        renormalize (bool): Renormalise the kept gates to sum to 1. (default: :obj:`True`)
    """

    def __init__(self, channels: int, num_tokenizers: int, top_k: int = 2, renormalize: bool = True) -> None:
        super().__init__()
        if not 1 <= top_k <= num_tokenizers:
            raise ValueError(
                f"'{self.__class__.__name__}' expects 1 <= 'top_k' <= 'num_tokenizers' (got {top_k}, {num_tokenizers})"
            )
        self.channels, self.num_tokenizers, self.top_k, self.renormalize = channels, num_tokenizers, top_k, renormalize
        self.lin = torch.nn.Linear(channels, num_tokenizers)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise the router."""
        self.lin.reset_parameters()

    def forward(self, h: Tensor) -> Tuple[Tensor, Tensor]:
        r"""``(gates [N, E], balance loss)``: gates are 0 outside each node's top :math:`k`."""
        p = torch.softmax(self.lin(h), dim=-1)
        top = p.topk(self.top_k, dim=-1).indices
        chosen = torch.zeros_like(p).scatter_(1, top, 1.0)
        gates = p * chosen
        if self.renormalize:
            gates = gates / gates.sum(-1, keepdim=True).clamp(min=1e-12)
        frac = chosen.mean(0) / self.top_k
        balance = self.num_tokenizers * (frac * p.mean(0)).sum()
        return gates, balance

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.channels}, num_tokenizers={self.num_tokenizers}, top_k={self.top_k})'
