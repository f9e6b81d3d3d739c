r"""GSM++ (``graphkit train gsm``): HAC tokenisation, hierarchical positional encoding and a hybrid SSM + attention
encoder, for graph-level (pooled) and node-level outputs on many graphs (the graph task), and on one graph
(``graphkit train gsm-node``, the node task)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool
from torch_geometric.transforms import Compose
from torch_geometric.utils import to_dense_batch

from graphkit.configs.schema import COUNT, NONNEG, RATE, WIDTH, Field
from graphkit.models.registry import MODELS
from graphkit.nn._checks import check_choice, check_probabilities
from graphkit.nn.gsm import HybridBlock, LocalEncoder, MoTRouter
from graphkit.nn.ssm import SCANS
from graphkit.ops import gcn_norm, to_csr
from graphkit.tokenize import (
    AFFINITIES,
    HACTokenizer,
    RandomWalkTokens,
    dfs_permutation,
    graph_offsets,
    hac_bfs_tokens,
    khop_tokens,
)

__all__ = ['GSMPlusPlus', 'GSMPlusPlusNode', 'TOKENIZERS']

#: The tokenisations of ``model.tokenizer`` (``mot`` mixes those of ``model.mot_tokenizers``).
TOKENIZERS = ('hac-dfs', 'hac-bfs', 'khop', 'rw', 'node', 'mot')
_SEQUENCE = ('hac-dfs', 'node')  # one sequence per graph
_POOLS = {'mean': global_mean_pool, 'add': global_add_pool, 'max': global_max_pool}


def _names(value: Union[str, Sequence[str]], sep: str) -> List[str]:
    """``'a,b'`` (or ``'a+b'``) or a sequence -> ``['a', 'b']``."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(sep) if v.strip()]
    return [str(v) for v in value]


class _CategoryBias(torch.autograd.Function):
    """``W[c]`` for a ``[B, L, L]`` tensor of categories ``c`` as a ``[B, H, L, L]`` attention bias; the backward
    pass sums the gradient per category with :func:`torch.bincount` (the embedding backward of millions of pairs is
    far slower on CPU)."""

    @staticmethod
    def forward(ctx: Any, category: Tensor, weight: Tensor) -> Tensor:
        ctx.save_for_backward(category)
        ctx.num = weight.size(0)
        return weight.t()[:, category].transpose(0, 1)  # [B, H, L, L] (a strided view)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tuple[None, Tensor]:
        (category,) = ctx.saved_tensors
        flat = category.reshape(-1)
        cols = [torch.bincount(flat, grad[:, h].reshape(-1), ctx.num) for h in range(grad.size(1))]
        return None, torch.stack(cols, dim=1).to(grad.dtype)


class _Branch(torch.nn.Module):
    """One tokenisation and its hybrid blocks, mapping local-encoder outputs ``[N, d]`` to ``[N, d]``."""

    def __init__(self, tokenizer: str, channels: int, num_blocks: int, block_kwargs: Dict[str, Any], model: Any):
        super().__init__()
        self.tokenizer = tokenizer
        self.blocks = torch.nn.ModuleList([HybridBlock(channels, **block_kwargs) for _ in range(num_blocks)])
        self.hier_pe = model.hier_pe and tokenizer == 'hac-dfs'
        self.num_levels, self.heads = model.num_levels, block_kwargs['heads']
        lengths = {'hac-bfs': model.bfs_levels + 1, 'khop': model.hops + 1, 'rw': model.walk_length + 1}
        # per-token position embedding of the per-node sequences: the level / hop / walk step
        self.pos = torch.nn.Embedding(lengths[tokenizer], channels) if tokenizer in lengths else None
        # hierarchical PE: LCA level with the previous token (L + 1: first token or a new component), and an
        # attention bias per head from the LCA level of every pair (0: same node; L + 1: other component)
        self.prev = torch.nn.Embedding(self.num_levels + 2, channels) if self.hier_pe else None
        self.lca_bias = torch.nn.Embedding(self.num_levels + 2, self.heads) if self.hier_pe else None
        self.hops, self.bfs_levels = model.hops, model.bfs_levels

    def reset_parameters(self) -> None:
        for b in self.blocks:
            b.reset_parameters()
        for emb in (self.pos, self.prev, self.lca_bias):
            if emb is not None:
                torch.nn.init.normal_(emb.weight, std=0.02)

    def _per_node(self, tokens: Tensor) -> Tensor:
        # tokens [N, K + 1, d] from the node outward; read coarse -> fine so the node itself is the last token
        # the causal SSM sees, and read it out there
        x = tokens + self.pos.weight[: tokens.size(1)].unsqueeze(0)
        x = x.flip(1)
        for b in self.blocks:
            x = b(x)
        return x[:, -1]

    def forward(self, h: Tensor, data: Data, batch: Tensor, ptr: Tensor) -> Tensor:
        base = ptr[batch]
        if self.tokenizer in _SEQUENCE:
            order = data.hac_order if self.tokenizer == 'hac-dfs' else data.node_order
            perm, inverse = dfs_permutation(order, batch, ptr)
            x, mask = to_dense_batch(h[perm], batch[perm])
            bias = None
            if self.hier_pe:
                path = data.hac_path + base.view(-1, 1)
                depth = max(int(data.hac_depth.max()) if data.hac_depth.numel() else 0, 1)
                p, _ = to_dense_batch(path[perm][:, :depth], batch[perm], fill_value=-1)
                prev = torch.full_like(p[:, :, 0], self.num_levels + 1)
                eq_prev = (p[:, 1:] == p[:, :-1]).sum(-1)
                prev[:, 1:] = torch.where(eq_prev > 0, depth + 1 - eq_prev, self.num_levels + 1)
                x = x + self.prev(prev.clamp(max=self.num_levels + 1))
                with torch.no_grad():
                    eq = torch.zeros(p.shape[:2] + (p.size(1),), dtype=torch.int16, device=h.device)
                    for l in range(depth):  # one level at a time: [B, L, L] memory, not [B, L, L, depth]
                        eq += p[:, :, l].unsqueeze(2) == p[:, :, l].unsqueeze(1)
                    lca = torch.where(eq > 0, depth + 1 - eq.long(), self.num_levels + 1).clamp(max=self.num_levels + 1)
                    lca.diagonal(dim1=1, dim2=2).zero_()
                bias = _CategoryBias.apply(lca, self.lca_bias.weight)
            for b in self.blocks:
                x = b(x, mask, bias)
            return x[mask][inverse]
        if self.tokenizer == 'hac-bfs':
            return self._per_node(hac_bfs_tokens(h, data.hac_path + base.view(-1, 1), self.bfs_levels))
        if self.tokenizer == 'khop':
            adj = gcn_norm(to_csr(data.edge_index, h.size(0)))
            return self._per_node(khop_tokens(h, adj, self.hops))
        walk = data.rw_nodes + base.view(-1, 1)  # 'rw'
        return self._per_node(h[walk])


@MODELS.register('gsm')
class GSMPlusPlus(torch.nn.Module):
    r"""GSM++ from the `"Best of Both Worlds: Advantages of Hybrid Graph Sequence Models"
    <https://arxiv.org/abs/2411.15671>`_ paper: tokenise, encode locally, encode globally with hybrid blocks.

    .. math::
        \mathbf{H} = \mathrm{GatedGCN}^{(\ell)}(\mathbf{X}\mathbf{W}_{in}), \qquad
        \mathbf{Z} = \Psi_{\mathrm{SSM} \to \mathrm{Attn}}\big(T(\mathbf{H})\big), \qquad
        \hat{y} = \mathrm{MLP}(\mathrm{pool}(\mathbf{Z})) \;\text{or}\; \mathrm{MLP}(\mathbf{Z}_v)

    Tokenisations :math:`T` (``tokenizer``):

    * ``'hac-dfs'``: one sequence per graph, nodes in HAC-DFS order (each cluster contiguous), with the
      hierarchical PE: an embedding of the LCA level with the previous token added to each token (the
      "new component" category marks a new root) and a per-head attention bias
      :math:`b_h(\mathrm{LCA}(u, v))`;
    * ``'node'``: one sequence per graph in the node-score order, no hierarchical PE (the plain node
      tokenisation);
    * ``'hac-bfs'``: per node, the mean of :math:`\mathbf{H}` over its clusters at levels :math:`0..K`;
    * ``'khop'``: per node, :math:`[\mathbf{h}, \hat{\mathbf{A}}\mathbf{h}, \dots, \hat{\mathbf{A}}^K\mathbf{h}]`;
    * ``'rw'``: per node, :math:`\mathbf{H}` along a random walk from it;
    * ``'mot'``: every tokenisation of ``mot_tokenizers`` computed, the top 2 per node mixed by
      :class:`~graphkit.nn.MoTRouter` gates; the balance term is in :attr:`aux_loss` after each forward.

    Per-node sequences are read coarse to fine with the node last and read out at the node.

    .. note::
        The tokenisers' attributes come from :meth:`transform` (``hac_*``, ``node_order``, ``rw_nodes``), applied
        once to the dataset (:func:`graphkit.tokenize.tokenize_graphs`).

    Args:
        in_channels (int): Input node features.
        out_channels (int): Classes (or regression targets).
        level (str): ``'graph'`` (pooled outputs ``[B, C]``) or ``'node'`` (``[N, C]``). (default: ``'graph'``)
        tokenizer (str): One of :obj:`TOKENIZERS`. (default: ``'hac-dfs'``)
        hidden_channels (int): Width :math:`d`. (default: :obj:`64`)
        local_layers (int): Gated-GCN layers. (default: :obj:`2`)
        num_blocks (int): Hybrid blocks per tokenisation. (default: :obj:`1`)
        ssm_layers (int): SSM layers per block. (default: :obj:`1`)
        attn_layers (int): Attention layers per block. (default: :obj:`1`)
        heads (int): Attention heads. (default: :obj:`4`)
        d_state (int): SSM state size. (default: :obj:`16`)
        d_conv (int): SSM convolution width. (default: :obj:`4`)
        expand (int): SSM expansion. (default: :obj:`1`)
        dropout (float): Dropout. (default: :obj:`0.0`)
        attn_dropout (float): Attention-weight dropout. (default: :obj:`0.0`)
        hier_pe (bool): The hierarchical PE of ``hac-dfs``. (default: :obj:`True`)
        num_levels (int): HAC pad width :math:`L` (``HACTokenizer(num_levels=...)``). (default: :obj:`16`)
        bfs_levels (int): HAC levels :math:`K` of ``hac-bfs`` tokens. (default: :obj:`4`)
        hops (int): Hops of ``khop``. (default: :obj:`3`)
        walk_length (int): Steps of ``rw``. (default: :obj:`8`)
        mot_tokenizers (str or list of str): The tokenisations ``mot`` mixes, comma-separated.
            (default: ``'hac-dfs,hac-bfs,khop'``)
        mot_top_k (int): Tokenisations kept per node. (default: :obj:`2`)
        mot_balance (float): Weight of the load-balancing term in :attr:`aux_loss`. (default: :obj:`0.01`)
        pool (str): ``'mean'``, ``'add'`` or ``'max'`` graph readout. (default: ``'mean'``)
        features (str or list of str): HAC affinity features (``HACTokenizer(features=...)``), ``+``-separated
            (``'x+rwpe'``). (default: ``'auto'``)
        affinity (str): HAC affinity. (default: ``'cosine'``)
        rw_steps (int): RWPE steps of the HAC affinity features. (default: :obj:`8`)
        scan (str): SSM scan. (default: ``'auto'``)
    """

    task = 'graph'
    kinds = ('graph',)
    trainable = True
    config_schema = {
        'tokenizer': Field('str', choices=TOKENIZERS),
        'hidden_channels': WIDTH,
        'local_layers': COUNT,
        'num_blocks': WIDTH,
        'ssm_layers': COUNT,
        'attn_layers': COUNT,
        'heads': WIDTH,
        'd_state': WIDTH,
        'd_conv': WIDTH,
        'expand': WIDTH,
        'dropout': RATE,
        'attn_dropout': RATE,
        'hier_pe': Field('bool'),
        'num_levels': WIDTH,
        'bfs_levels': WIDTH,
        'hops': WIDTH,
        'walk_length': WIDTH,
        'mot_tokenizers': Field('str'),
        'mot_top_k': WIDTH,
        'mot_balance': NONNEG,
        'pool': Field('str', choices=tuple(_POOLS)),
        'features': Field('str'),
        'affinity': Field('str', choices=AFFINITIES),
        'rw_steps': WIDTH,
        'scan': Field('str', choices=SCANS),
    }

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        level: str = 'graph',
        tokenizer: str = 'hac-dfs',
        hidden_channels: int = 64,
        local_layers: int = 2,
        num_blocks: int = 1,
        ssm_layers: int = 1,
        attn_layers: int = 1,
        heads: int = 4,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 1,
        dropout: float = 0.0,
        attn_dropout: float = 0.0,
        hier_pe: bool = True,
        num_levels: int = 16,
        bfs_levels: int = 4,
        hops: int = 3,
        walk_length: int = 8,
        mot_tokenizers: Union[str, Sequence[str]] = 'hac-dfs,hac-bfs,khop',
        mot_top_k: int = 2,
        mot_balance: float = 0.01,
        pool: str = 'mean',
        features: Union[str, Sequence[str]] = 'auto',
        affinity: str = 'cosine',
        rw_steps: int = 8,
        scan: str = 'auto',
    ) -> None:
        super().__init__()
        name = self.__class__.__name__
        check_choice(name, 'tokenizer', tokenizer, TOKENIZERS)
        check_choice(name, 'level', level, ('graph', 'node'))
        check_choice(name, 'pool', pool, tuple(_POOLS))
        check_probabilities(name, dropout=dropout, attn_dropout=attn_dropout)
        for key, v in (
            ('in_channels', in_channels),
            ('out_channels', out_channels),
            ('hidden_channels', hidden_channels),
        ):
            if v < 1:
                raise ValueError(f"'{name}' expects '{key}' >= 1 (got {v})")
        for key, v in (('num_blocks', num_blocks), ('num_levels', num_levels), ('bfs_levels', bfs_levels)):
            if v < 1:
                raise ValueError(f"'{name}' expects '{key}' >= 1 (got {v})")
        if bfs_levels > num_levels:
            raise ValueError(f"'{name}' expects 'bfs_levels' <= 'num_levels' (got {bfs_levels} > {num_levels})")
        mot = _names(mot_tokenizers, ',')
        features = tuple(_names(features, '+'))
        if tokenizer == 'mot':
            bad = [t for t in mot if t not in TOKENIZERS or t == 'mot']
            if bad or len(set(mot)) != len(mot) or len(mot) < mot_top_k:
                raise ValueError(
                    f"'{name}' expects 'mot_tokenizers' to be {mot_top_k} or more distinct tokenizers of "
                    f'{[t for t in TOKENIZERS if t != "mot"]} (got {mot})'
                )
        HACTokenizer(features, affinity, rw_steps, num_levels)  # checks the tokeniser's arguments now
        self.in_channels, self.out_channels, self.level, self.tokenizer = in_channels, out_channels, level, tokenizer
        self.hidden_channels, self.hier_pe, self.num_levels = hidden_channels, hier_pe, num_levels
        self.bfs_levels, self.hops, self.walk_length, self.pool = bfs_levels, hops, walk_length, pool
        self.mot_balance, self.features, self.affinity, self.rw_steps = mot_balance, features, affinity, rw_steps
        self.branch_names = mot if tokenizer == 'mot' else [tokenizer]
        block_kwargs = dict(
            ssm_layers=ssm_layers,
            attn_layers=attn_layers,
            heads=heads,
            d_state=d_state,
            d_conv=d_conv,
            expand=expand,
            dropout=dropout,
            attn_dropout=attn_dropout,
            scan=scan,
        )
        self.dropout = dropout
        self.lin_in = torch.nn.Linear(in_channels, hidden_channels)
        self.local = LocalEncoder(hidden_channels, local_layers, dropout)
        self.branches = torch.nn.ModuleList(
            [_Branch(t, hidden_channels, num_blocks, block_kwargs, self) for t in self.branch_names]
        )
        self.router = MoTRouter(hidden_channels, len(mot), mot_top_k) if tokenizer == 'mot' else None
        self.head = torch.nn.Sequential(
            torch.nn.Linear(hidden_channels, hidden_channels),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden_channels, out_channels),
        )
        self.aux_loss: Tensor = torch.zeros(())
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise every layer."""
        self.lin_in.reset_parameters()
        self.local.reset_parameters()
        for b in self.branches:
            b.reset_parameters()
        if self.router is not None:
            self.router.reset_parameters()
        for m in self.head:
            if hasattr(m, 'reset_parameters'):
                m.reset_parameters()

    @classmethod
    def from_config(cls, cfg: Dict[str, Any], dataset: Any) -> 'GSMPlusPlus':
        """From the ``model`` config section and a :class:`~graphkit.data.tu.GraphDataset`."""
        return cls(dataset.num_features, dataset.num_outputs, level=dataset.level, **cfg)

    def transform(self) -> Any:
        r"""The tokenising transform this model's inputs need (HAC for every tokenisation that uses the tree or
        the node order, random walks for ``rw``), to apply once to the dataset."""
        parts: List[Any] = []
        if any(t in ('hac-dfs', 'hac-bfs', 'node') for t in self.branch_names):
            parts.append(HACTokenizer(self.features, self.affinity, self.rw_steps, self.num_levels))
        if 'rw' in self.branch_names:
            parts.append(RandomWalkTokens(self.walk_length))
        return Compose(parts) if len(parts) != 1 else parts[0]

    def node_embeddings(self, data: Data) -> Tensor:
        """The global-encoder outputs ``[N, d]`` of every node (sets :attr:`aux_loss`)."""
        batch, ptr = graph_offsets(data)
        batch, ptr = batch.to(data.x.device), ptr.to(data.x.device)
        h = self.local(F.dropout(self.lin_in(data.x.float()), self.dropout, self.training), data.edge_index)
        outs = [b(h, data, batch, ptr) for b in self.branches]
        if self.router is None:
            self.aux_loss = h.new_zeros(())
            return outs[0]
        gates, balance = self.router(h)
        self.aux_loss = self.mot_balance * balance
        return sum(gates[:, i : i + 1] * o for i, o in enumerate(outs))

    def forward(self, data: Data) -> Tensor:
        """Logits (or predictions) ``[B, C]`` of each graph, or ``[N, C]`` of each node."""
        z = self.node_embeddings(data)
        if self.level == 'graph':
            batch, _ = graph_offsets(data)
            z = _POOLS[self.pool](z, batch.to(z.device))
        return self.head(z)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, tokenizer='{self.tokenizer}', "
            f"level='{self.level}')"
        )


@MODELS.register('gsm-node')
class GSMPlusPlusNode(GSMPlusPlus):
    r"""GSM++ for node classification on one graph (the node task, ``graphkit train gsm-node --dataset cora``):
    :class:`GSMPlusPlus` with ``level='node'`` called as ``forward(x, edge_index)``. The graph is tokenised on the
    first call and kept while the same ``edge_index`` tensor comes back (the node task passes the same one every
    epoch). The MoT balance term is not added to the node task's loss (the node task has no hook for it)."""

    task = 'node'
    kinds = ('node',)

    def __init__(self, in_channels: int, out_channels: int, **kwargs: Any) -> None:
        kwargs['level'] = 'node'
        super().__init__(in_channels, out_channels, **kwargs)
        self._tokenized: Optional[Tuple[Tensor, Data]] = None

    @classmethod
    def from_config(cls, cfg: Dict[str, Any], dataset: Any) -> 'GSMPlusPlusNode':
        """From the ``model`` config section and a :class:`~graphkit.data.NodeDataset`."""
        if dataset.data.x is None:
            raise ValueError(f"Model 'gsm-node' needs node features; dataset '{dataset.name}' has none")
        return cls(dataset.data.x.size(-1), dataset.num_classes, **cfg)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:  # type: ignore[override]
        if self._tokenized is None or self._tokenized[0] is not edge_index:
            data = Data(x=x.detach().cpu(), edge_index=edge_index.cpu(), num_nodes=x.size(0))
            data = self.transform()(data)
            self._tokenized = (edge_index, data.to(x.device))
        data = self._tokenized[1].clone()
        data.x, data.edge_index = x, edge_index
        return super().forward(data)
