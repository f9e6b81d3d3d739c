r"""End-to-end NCN and NCNC link-prediction models (encoder + predictor)."""
from __future__ import annotations

import inspect
from typing import Any, Dict, Mapping, Optional, Union

import torch
from torch import Tensor
from torch.nn import Module

from graphkit.models.registry import MODELS
from graphkit.nn.encoder import MPNNEncoder
from graphkit.nn.ncn import NCNCPredictor, NCNPredictor

EMBEDDINGS = ('auto', 'none', 'node', 'argmax')


@MODELS.register('ncn')
class NCN(Module):
    r"""The Neural Common Neighbor (NCN) link-prediction model from the `"Neural Common Neighbor
    with Completion for Link Prediction" <https://arxiv.org/abs/2302.00890>`_ paper: one pass of an
    MPNN encoder (:class:`graphkit.nn.MPNNEncoder`), then a per-pair predictor pooling the
    representations of the common neighbours (:class:`graphkit.nn.NCNPredictor`).

    .. math::
        \mathbf{H} = \mathrm{MPNN}(\mathbf{X}, \mathbf{A}), \qquad
        s_{ij} = \mathrm{MLP}\Big(\mathbf{h}_i \odot \mathbf{h}_j \,\big\|\,
        \sum_{u \in \mathcal{N}(i) \cap \mathcal{N}(j)} \mathbf{h}_u\Big)

    .. note::
        :obj:`adj` (a torch sparse CSR matrix, e.g. from :func:`graphkit.ops.to_csr`) drives both
        propagation and the common-neighbour sets; :obj:`pairs` (:obj:`edge_label_index`,
        shape :obj:`(2, B)`) are the node pairs that get scored. In training, pass the adjacency
        with the batch's positive edges removed (target-link removal,
        :func:`graphkit.ops.remove_edges`) to both :meth:`encode` and :meth:`predict`.

    .. note::
        Example, inside a plain PyG pipeline::

            from graphkit.models import NCN
            from graphkit.ops import to_csr

            adj = to_csr(data.edge_index, data.num_nodes)
            model = NCN(data.num_features, 256, conv='puregcn', use_xlin=True)
            logits = model(data.x, adj, edge_label_index)

    Args:
        in_channels (int, optional): Size of each input feature; :obj:`None` for featureless graphs
            (then :obj:`num_embeddings` is required).
        hidden_channels (int): Width of the encoder and predictor.
        num_layers (int, optional): Encoder layers (:obj:`--mplayers`). (default: :obj:`1`)
        conv (str, optional): Encoder convolution, see :class:`~graphkit.nn.MPNNEncoder`.
            (default: :obj:`'puregcn'`)
        layer_norm (bool, optional): Encoder LayerNorm (:obj:`--ln`). (default: :obj:`True`)
        dropout (float, optional): Encoder dropout (:obj:`--gnndp`). (default: :obj:`0.0`)
        input_dropout (float, optional): Input-feature dropout (:obj:`--xdp`). (default: :obj:`0.0`)
        tail_dropout (float, optional): Tail dropout (:obj:`--tdp`). (default: :obj:`0.0`)
        edge_dropout (float, optional): Encoder edge dropout (:obj:`--gnnedp`).
            (default: :obj:`0.0`)
        res (bool, optional): Encoder residuals. (default: :obj:`False`)
        jk (bool, optional): Encoder jumping knowledge. (default: :obj:`False`)
        num_embeddings (int, optional): Rows of a learnable input embedding table.
            (default: :obj:`None`)
        embedding (str, optional): How the input is read: :obj:`'none'` (features), :obj:`'node'`
            (one embedding per node, :obj:`x` ignored), :obj:`'argmax'` (one embedding per
            :obj:`x.argmax(-1)` class, e.g. ogbl-ppa species) or :obj:`'auto'` (:obj:`'node'` when
            :obj:`num_embeddings` is set, else :obj:`'none'`). (default: :obj:`'auto'`)
        predictor (str, optional): :obj:`'cn1'` (NCN) or an ablation: :obj:`'cn0'` (GAE),
            :obj:`'scn1'`, :obj:`'cn1.5'`, :obj:`'cn1res'`. (default: :obj:`'cn1'`)
        predictor_dropout (float, optional): :obj:`--predp`. (default: :obj:`0.0`)
        predictor_edge_dropout (float, optional): :obj:`--preedp`. (default: :obj:`0.0`)
        use_xlin (bool, optional): :obj:`--use_xlin`. (default: :obj:`False`)
        tailact (bool, optional): :obj:`--tailact`. (default: :obj:`False`)
        twolayerlin (bool, optional): :obj:`--twolayerlin`. (default: :obj:`False`)
        predictor_layer_norm (bool, optional): :obj:`--lnnn`. (default: :obj:`True`)
        beta (float, optional): Initial CN-branch gain. (default: :obj:`1.0`)
        sparse_features (str or bool, optional): Feed dense input features to the encoder as a
            sparse CSR matrix (input dropout on the stored entries, sparse input :obj:`Linear`);
            :obj:`'auto'` does so when at most 10% of the entries are non-zero (bag-of-words). The
            conversion is cached per input tensor. (default: :obj:`'auto'`)
    """
    trainable: bool = True

    def __init__(
        self,
        in_channels: Optional[int],
        hidden_channels: int,
        num_layers: int = 1,
        conv: str = 'puregcn',
        layer_norm: bool = True,
        dropout: float = 0.0,
        input_dropout: float = 0.0,
        tail_dropout: float = 0.0,
        edge_dropout: float = 0.0,
        res: bool = False,
        jk: bool = False,
        num_embeddings: Optional[int] = None,
        embedding: str = 'auto',
        predictor: str = 'cn1',
        predictor_dropout: float = 0.0,
        predictor_edge_dropout: float = 0.0,
        use_xlin: bool = False,
        tailact: bool = False,
        twolayerlin: bool = False,
        predictor_layer_norm: bool = True,
        beta: float = 1.0,
        sparse_features: Union[str, bool] = 'auto',
    ) -> None:
        super().__init__()
        name = self.__class__.__name__
        if embedding not in EMBEDDINGS:
            raise ValueError(f"'{name}' got an unknown 'embedding' '{embedding}' (expected one of "
                             f"{', '.join(EMBEDDINGS)})")
        if embedding == 'auto':
            embedding = 'node' if num_embeddings is not None else 'none'
        if embedding in ('node', 'argmax') and num_embeddings is None:
            raise ValueError(f"'{name}' with embedding '{embedding}' needs 'num_embeddings'")
        if embedding == 'none':
            num_embeddings = None
        if sparse_features not in ('auto', True, False):
            raise ValueError(f"'{name}' expects 'sparse_features' in auto, true, false "
                             f"(got {sparse_features!r})")
        self.sparse_features = sparse_features
        self._sparse_cache: Optional[tuple] = None
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.conv = conv
        self.embedding = embedding
        self.num_embeddings = num_embeddings

        self.encoder = MPNNEncoder(
            in_channels, hidden_channels, num_layers=num_layers, conv=conv, layer_norm=layer_norm,
            dropout=dropout, input_dropout=input_dropout, tail_dropout=tail_dropout,
            edge_dropout=edge_dropout, res=res, jk=jk, num_embeddings=num_embeddings)
        self.predictor = self._build_predictor(
            predictor=predictor, dropout=predictor_dropout, edge_dropout=predictor_edge_dropout,
            use_xlin=use_xlin, tailact=tailact, twolayerlin=twolayerlin,
            layer_norm=predictor_layer_norm, beta=beta)

        self.reset_parameters()

    def _build_predictor(self, predictor: str, **kwargs: Any) -> Module:
        return NCNPredictor(self.hidden_channels, self.hidden_channels, variant=predictor, **kwargs)

    def reset_parameters(self) -> None:
        """Resets all learnable parameters of the module."""
        self.encoder.reset_parameters()
        self.predictor.reset_parameters()

    @classmethod
    def config_keys(cls) -> set:
        """The keys of a config's :obj:`model:` section: the constructor arguments of this class and its NCN
        bases, except those read from the data (:obj:`in_channels`, :obj:`num_embeddings`)."""
        known = {name for klass in cls.__mro__ if issubclass(klass, NCN)
                 for name, p in inspect.signature(klass.__init__).parameters.items()
                 if p.kind is p.POSITIONAL_OR_KEYWORD} - {'self', 'in_channels', 'num_embeddings'}
        return known if cls is NCN else known - {'predictor'}

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], data: Any) -> 'NCN':
        r"""Builds the model from the :obj:`model:` section of a config and a PyG :obj:`Data`
        (only :obj:`data.x` and :obj:`data.num_nodes` are read)."""
        cfg = dict(cfg)
        known = cls.config_keys()
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ValueError(f"'{cls.__name__}' got unknown model keys {unknown} (known: "
                             f"{', '.join(sorted(known))})")
        x = getattr(data, 'x', None)
        embedding = cfg.get('embedding', 'auto')
        if embedding == 'auto':
            embedding = 'node' if x is None else 'none'
        if embedding == 'none' and x is None:
            raise ValueError(f"'{cls.__name__}' with embedding 'none' needs node features "
                             f"'data.x'")
        cfg['embedding'] = embedding
        in_channels = None if x is None else (x.size(-1) if x.dim() > 1 else 1)
        num_embeddings = {'node': int(data.num_nodes), 'argmax': in_channels}.get(embedding)
        return cls(in_channels, num_embeddings=num_embeddings, **cfg)

    def _input(self, x: Optional[Tensor]) -> Optional[Tensor]:
        if self.embedding == 'node':
            return None
        if self.embedding == 'argmax' and x is not None and x.is_floating_point():
            return x.argmax(dim=-1) if x.dim() > 1 else x.long()
        if (self.sparse_features is False or x is None or x.layout != torch.strided
                or x.dim() != 2 or not x.is_floating_point()):
            return x
        cache = self._sparse_cache
        if cache is not None and cache[0] is x and cache[1] == x._version:
            return cache[2]
        out = x
        if self.sparse_features is True or float((x != 0).float().mean()) <= 0.1:
            out = x.to_sparse_csr()
        self._sparse_cache = (x, x._version, out)
        return out

    def encode(self, x: Optional[Tensor], adj: Tensor) -> Tensor:
        """Node representations :obj:`(num_nodes, hidden_channels)`."""
        return self.encoder(self._input(x), adj)

    def predict(self, h: Tensor, adj: Tensor, pairs: Tensor) -> Tensor:
        """Logits :obj:`(B,)` for the columns of :obj:`pairs`."""
        return self.predictor(h, adj, pairs)

    def forward(self, x: Optional[Tensor], adj: Tensor, pairs: Tensor) -> Tensor:
        """Logits :obj:`(B,)`: :obj:`predict(encode(x, adj), adj, pairs)`."""
        return self.predict(self.encode(x, adj), adj, pairs)

    def predict_link(self, x: Optional[Tensor], adj: Tensor, pairs: Tensor,
                     prob: bool = False) -> Tensor:
        """Link logits, or probabilities with :obj:`prob=True`."""
        out = self(x, adj, pairs)
        return out.sigmoid() if prob else out

    def load_ncn_state(self, state: Mapping[str, Tensor] | Module) -> Dict[str, list]:
        r"""Warm start (NCN -> NCNC on ogbl-ddi): copies the matching weights of an NCN state dict
        or model, non-strictly as the official :obj:`--loadmod`; returns the missing / unexpected
        keys."""
        if isinstance(state, Module):
            state = state.state_dict()
        result = self.load_state_dict(dict(state), strict=False)
        return {'missing_keys': list(result.missing_keys),
                'unexpected_keys': list(result.unexpected_keys)}

    def _repr_extra(self) -> str:
        return f", predictor='{self.predictor.variant}'"

    def __repr__(self) -> str:
        src = self.num_embeddings if self.num_embeddings is not None else self.in_channels
        emb = f", embedding='{self.embedding}'" if self.num_embeddings is not None else ''
        return (f"{self.__class__.__name__}({src}, {self.hidden_channels}, conv='{self.conv}', "
                f'num_layers={self.num_layers}{self._repr_extra()}{emb})')


@MODELS.register('ncnc')
class NCNC(NCN):
    r"""The NCN-with-Completion (NCNC) link-prediction model from the `"Neural Common Neighbor
    with Completion for Link Prediction" <https://arxiv.org/abs/2302.00890>`_ paper: the encoder
    of :class:`NCN` and the :class:`graphkit.nn.NCNCPredictor`, which completes each pair's
    common-neighbour set softly with its own no-grad prediction at depth :math:`d - 1`.

    .. math::
        s_{ij} = \mathrm{MLP}\Big(\mathbf{h}_i \odot \mathbf{h}_j \,\big\|\,
        \sum_u P_{uij}\, \mathbf{h}_u\Big)

    .. note::
        The parameter names equal :class:`NCN`'s, so an NCN state dict warm-starts NCNC
        (:meth:`load_ncn_state`), as the official ogbl-ddi recipe does.

    Args:
        in_channels (int, optional): As in :class:`NCN`.
        hidden_channels (int): As in :class:`NCN`.
        depth (int, optional): Completion depth (1: NCNC, 2: NCNC2). (default: :obj:`1`)
        scale (float, optional): :obj:`--probscale`. (default: :obj:`5.0`)
        offset (float, optional): :obj:`--proboffset`. (default: :obj:`3.0`)
        pt (float, optional): :obj:`--pt`. (default: :obj:`0.5`)
        alpha (float, optional): :obj:`--alpha`. (default: :obj:`1.0`)
        train_max_candidates (int, optional): :obj:`--trndeg`. (default: :obj:`None`)
        test_max_candidates (int, optional): :obj:`--tstdeg`. (default: :obj:`None`)
        split_size (int, optional): :obj:`--splitsize`. (default: :obj:`None`)
        nested_xlin (bool, optional): Reproduce quirk Q1. (default: :obj:`True`)
        **kwargs (optional): The remaining arguments of :class:`NCN` except :obj:`predictor`.
    """
    def __init__(
        self,
        in_channels: Optional[int],
        hidden_channels: int,
        depth: int = 1,
        scale: float = 5.0,
        offset: float = 3.0,
        pt: float = 0.5,
        alpha: float = 1.0,
        train_max_candidates: Optional[int] = None,
        test_max_candidates: Optional[int] = None,
        split_size: Optional[int] = None,
        nested_xlin: bool = True,
        **kwargs: Any,
    ) -> None:
        if 'predictor' in kwargs:
            raise ValueError(f"'{self.__class__.__name__}' has no 'predictor' choice (it is always the "
                             f"completion predictor; use NCN for the ablations)")
        self._completion = dict(depth=depth, scale=scale, offset=offset, pt=pt, alpha=alpha,
                                train_max_candidates=train_max_candidates,
                                test_max_candidates=test_max_candidates, split_size=split_size,
                                nested_xlin=nested_xlin)
        super().__init__(in_channels, hidden_channels, predictor='cn1', **kwargs)
        self.depth = depth

    def _build_predictor(self, predictor: str, **kwargs: Any) -> Module:
        return NCNCPredictor(self.hidden_channels, self.hidden_channels, **self._completion,
                             **kwargs)

    def _repr_extra(self) -> str:
        return f', depth={self.depth}'


__all__ = ['NCN', 'NCNC']
