r"""End-to-end NCN and NCNC link-prediction models (encoder + predictor)."""

from __future__ import annotations

import inspect
from typing import Any, Dict, Mapping, Optional, Set, Tuple, Type, Union

import torch
from torch import Tensor
from torch.nn import Module

from graphkit import ops
from graphkit.checks import check_index, check_tensor, checks_enabled
from graphkit.configs.schema import COUNT, DEPTH0, RATE, WIDTH, Field
from graphkit.models.registry import MODELS
from graphkit.nn._checks import check_choice
from graphkit.nn.encoder import CONVS, MPNNEncoder
from graphkit.nn.ncn import VARIANTS, NCNCPredictor, NCNPredictor
from graphkit.ops.cn_backend import BACKENDS as CN_BACKENDS

EMBEDDINGS = ('auto', 'none', 'node', 'argmax')

# Component arguments the model sets itself: the sizes (from the data and `hidden_channels`) and the
# predictor variant (NCN's `predictor`).
_FIXED = frozenset({'in_channels', 'hidden_channels', 'out_channels', 'num_embeddings', 'variant'})
# A predictor argument whose name the encoder also has is a model argument under this prefix.
_PREFIX = 'predictor_'


def _arguments(cls: type) -> Tuple[str, ...]:
    r"""The named arguments of :obj:`cls.__init__`, followed through :obj:`**kwargs` into the bases
    (:class:`NCNCPredictor` forwards the arguments of :class:`NCNPredictor`)."""
    names: list = []
    for klass in cls.__mro__:
        if klass is Module:
            break
        if '__init__' not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        names += [
            p.name
            for p in params
            if p.name != 'self' and p.name not in names and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return tuple(names)


def _check_graph_input(owner: str, x: Optional[Tensor], adj: Tensor) -> None:
    # encode(x, adj): a square sparse adjacency, and features (if any) with one row per node on its device
    if not checks_enabled():
        return
    check_tensor(owner, 'adj', adj, dim=2)
    if adj.size(0) != adj.size(1):
        raise ValueError(f"'{owner}' expects a square 'adj' (got shape {tuple(adj.shape)})")
    if x is not None:
        check_tensor(owner, 'x', x, size=((0, adj.size(0)),), like=adj)


def _check_pairs(owner: str, h: Tensor, pairs: Tensor) -> None:
    # predict(h, adj, pairs): node representations and a (2, B) index of pairs into them
    if not checks_enabled():
        return
    check_tensor(owner, 'h', h, floating=True)
    check_index(owner, 'pairs', pairs, h.size(0), rows=2, like=h)


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

    .. note::
        Only the arguments whose defaults differ from the components' (or that belong to the model)
        are written out in the signature; every other keyword goes to the component that has it:
        an argument of :class:`~graphkit.nn.MPNNEncoder` to the encoder, an argument of the predictor
        to the predictor, under the prefix :obj:`predictor_` when the encoder has one of the same name
        (:obj:`predictor_dropout`, :obj:`predictor_edge_dropout`, :obj:`predictor_layer_norm`).
        :meth:`config_keys` lists them all.

    Args:
        in_channels (int, optional): Size of each input feature; :obj:`None` for featureless graphs
            (then :obj:`num_embeddings` is required).
        hidden_channels (int): Width of the encoder and predictor.
        conv (str, optional): Encoder convolution, see :class:`~graphkit.nn.MPNNEncoder`.
            (default: :obj:`'puregcn'`)
        layer_norm (bool, optional): LayerNorm between encoder layers (official :obj:`--ln`).
            (default: :obj:`True`)
        num_embeddings (int, optional): Rows of a learnable input embedding table.
            (default: :obj:`None`)
        embedding (str, optional): How the input is read: :obj:`'none'` (features), :obj:`'node'`
            (one embedding per node, :obj:`x` ignored), :obj:`'argmax'` (one embedding per
            :obj:`x.argmax(-1)` class, e.g. ogbl-ppa species) or :obj:`'auto'` (:obj:`'node'` when
            :obj:`num_embeddings` is set, else :obj:`'none'`). (default: :obj:`'auto'`)
        predictor (str, optional): :obj:`'cn1'` (NCN) or an ablation: :obj:`'cn0'` (GAE),
            :obj:`'scn1'`, :obj:`'cn1.5'`, :obj:`'cn1res'`. (default: :obj:`'cn1'`)
        predictor_layer_norm (bool, optional): LayerNorms inside the predictor MLPs (official
            :obj:`--lnnn`). (default: :obj:`True`)
        sparse_features (str or bool, optional): Feed dense input features to the encoder as a
            sparse CSR matrix (input dropout on the stored entries, sparse input :obj:`Linear`);
            :obj:`'auto'` does so when at most 10% of the entries are non-zero (bag-of-words). The
            conversion is cached per input tensor. (default: :obj:`'auto'`)
        cn_backend (str, optional): The common-neighbour algorithm of the predictor:
            :obj:`'auto'` (by density and batch size), :obj:`'sparse'` (sorted keys) or
            :obj:`'dense'` (mask and masked GEMM), see :mod:`graphkit.ops.cn_backend`; :obj:`None`
            follows :func:`graphkit.ops.set_cn_backend`. Results are the same. (default: :obj:`None`)
        num_layers (int, optional): Message-passing layers (official :obj:`--mplayers`).
            (default: :obj:`1`)
        dropout (float, optional): Encoder dropout probability on the embedding / input stage and
            between layers (official :obj:`--gnndp`). (default: :obj:`0.0`)
        input_dropout (float, optional): Dropout probability on the raw input features (official
            :obj:`--xdp`). (default: :obj:`0.0`)
        tail_dropout (float, optional): Dropout probability after the last parameter-free
            convolution (official :obj:`--tdp`). (default: :obj:`0.0`)
        edge_dropout (float, optional): Probability to drop each adjacency entry before every
            encoder layer, training only (official :obj:`--gnnedp`). (default: :obj:`0.0`)
        res (bool, optional): Residual connection around every encoder layer whose shapes match
            (official :obj:`--res`). (default: :obj:`False`)
        jk (bool, optional): Learnable weighted sum over the encoder's layer outputs (official
            :obj:`--jk`). (default: :obj:`False`)
        predictor_dropout (float, optional): Dropout probability in every predictor MLP (official
            :obj:`--predp`). (default: :obj:`0.0`)
        predictor_edge_dropout (float, optional): Probability to drop each adjacency entry before the
            common-neighbour sets are computed, training only (official :obj:`--preedp`).
            (default: :obj:`0.0`)
        use_xlin (bool, optional): Pool :math:`\mathbf{h} + \mathrm{xlin}(\mathbf{h})` instead of
            :math:`\mathbf{h}` over the common neighbours (official :obj:`--use_xlin`).
            (default: :obj:`False`)
        tailact (bool, optional): End the pair and CN branches of the predictor with a ReLU instead
            of a :obj:`Linear` (official :obj:`--tailact`). (default: :obj:`False`)
        twolayerlin (bool, optional): Two hidden layers in the predictor's output MLP (official
            :obj:`--twolayerlin`). (default: :obj:`False`)
        beta (float, optional): Initial value of the learnable gain of the CN branch (official
            :obj:`--beta`). (default: :obj:`1.0`)
    """

    task = 'link'
    kinds = ('link',)
    trainable: bool = True
    config_schema = {
        'hidden_channels': WIDTH,
        'num_layers': DEPTH0,
        'conv': Field('str', choices=CONVS),
        'layer_norm': Field('bool'),
        'dropout': RATE,
        'input_dropout': RATE,
        'tail_dropout': RATE,
        'edge_dropout': RATE,
        'res': Field('bool'),
        'jk': Field('bool'),
        'embedding': Field('str', choices=EMBEDDINGS),
        'predictor': Field('str', choices=VARIANTS),
        'predictor_dropout': RATE,
        'predictor_edge_dropout': RATE,
        'use_xlin': Field('bool'),
        'tailact': Field('bool'),
        'twolayerlin': Field('bool'),
        'predictor_layer_norm': Field('bool'),
        'beta': Field('float'),
        'sparse_features': Field('choice', choices=('auto', True, False)),
        'cn_backend': Field('str', nullable=True, choices=CN_BACKENDS),
    }
    #: The predictor class; its arguments (and its bases') are model arguments.
    predictor_cls: Type[NCNPredictor] = NCNPredictor

    def __init__(
        self,
        in_channels: Optional[int],
        hidden_channels: int,
        *,
        conv: str = 'puregcn',
        layer_norm: bool = True,
        num_embeddings: Optional[int] = None,
        embedding: str = 'auto',
        predictor: str = 'cn1',
        predictor_layer_norm: bool = True,
        sparse_features: Union[str, bool] = 'auto',
        cn_backend: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        name = self.__class__.__name__
        check_choice(name, 'embedding', embedding, EMBEDDINGS)
        if embedding == 'auto':
            embedding = 'node' if num_embeddings is not None else 'none'
        if embedding in ('node', 'argmax') and num_embeddings is None:
            raise ValueError(f"'{name}' with embedding '{embedding}' needs 'num_embeddings'")
        if embedding == 'none':
            num_embeddings = None
        if cn_backend is not None and cn_backend not in CN_BACKENDS:
            raise ValueError(f"'{name}' expects 'cn_backend' in {', '.join(CN_BACKENDS)} or None (got {cn_backend!r})")
        if sparse_features not in ('auto', True, False):
            raise ValueError(f"'{name}' expects 'sparse_features' in auto, true, false (got {sparse_features!r})")
        encoder_kwargs: Dict[str, Any] = dict(conv=conv, layer_norm=layer_norm)
        predictor_kwargs: Dict[str, Any] = dict(variant=predictor, layer_norm=predictor_layer_norm)
        targets = self._forwarded()
        for key, value in kwargs.items():
            if key not in targets:
                raise TypeError(f"{name}.__init__() got an unexpected keyword argument '{key}'")
            component, arg = targets[key]
            (encoder_kwargs if component == 'encoder' else predictor_kwargs)[arg] = value

        self.sparse_features = sparse_features
        self.cn_backend = cn_backend
        self._sparse_cache: Optional[tuple] = None
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.embedding = embedding
        self.num_embeddings = num_embeddings
        self.encoder = MPNNEncoder(in_channels, hidden_channels, num_embeddings=num_embeddings, **encoder_kwargs)
        self.predictor = self.predictor_cls(hidden_channels, hidden_channels, **predictor_kwargs)
        self.num_layers = self.encoder.num_layers
        self.conv = conv

        self.reset_parameters()

    @classmethod
    def _forwarded(cls) -> Dict[str, Tuple[str, str]]:
        # Model keyword -> (component, argument) for the component arguments that are not written out.
        encoder = set(_arguments(MPNNEncoder)) - _FIXED
        predictor = set(_arguments(cls.predictor_cls)) - _FIXED
        out = {key: ('encoder', key) for key in encoder}
        out.update({(_PREFIX + key if key in encoder else key): ('predictor', key) for key in predictor})
        own = set(inspect.signature(NCN.__init__).parameters)
        return {key: target for key, target in out.items() if key not in own}

    def reset_parameters(self) -> None:
        """Resets all learnable parameters of the module."""
        self.encoder.reset_parameters()
        self.predictor.reset_parameters()

    @classmethod
    def config_keys(cls) -> Set[str]:
        """The keys of a config's :obj:`model:` section: the model's own arguments and the component
        arguments it forwards, except those read from the data (:obj:`in_channels`,
        :obj:`num_embeddings`)."""
        own = set(inspect.signature(NCN.__init__).parameters) - {'self', 'in_channels', 'num_embeddings', 'kwargs'}
        if cls is not NCN:
            own.discard('predictor')
        return own | set(cls._forwarded())

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], data: Any) -> 'NCN':
        r"""Builds the model from the :obj:`model:` section of a config and a PyG :obj:`Data`
        (only :obj:`data.x` and :obj:`data.num_nodes` are read)."""
        cfg = dict(cfg)
        known = cls.config_keys()
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ValueError(f"'{cls.__name__}' got unknown model keys {unknown} (known: {', '.join(sorted(known))})")
        x = getattr(data, 'x', None)
        embedding = cfg.get('embedding', 'auto')
        if embedding == 'auto':
            embedding = 'node' if x is None else 'none'
        if embedding == 'none' and x is None:
            raise ValueError(f"'{cls.__name__}' with embedding 'none' needs node features 'data.x'")
        cfg['embedding'] = embedding
        in_channels = None if x is None else (x.size(-1) if x.dim() > 1 else 1)
        num_embeddings = {'node': int(data.num_nodes), 'argmax': in_channels}.get(embedding)
        return cls(in_channels, num_embeddings=num_embeddings, **cfg)

    def _input(self, x: Optional[Tensor]) -> Optional[Tensor]:
        if self.embedding == 'node':
            return None
        if self.embedding == 'argmax' and x is not None and x.is_floating_point():
            return x.argmax(dim=-1) if x.dim() > 1 else x.long()
        if (
            self.sparse_features is False
            or x is None
            or x.layout != torch.strided
            or x.dim() != 2
            or not x.is_floating_point()
        ):
            return x
        cache = self._sparse_cache
        if cache is not None and cache[0] is x and cache[1] == x._version:
            return cache[2]
        out = x
        if self.sparse_features is True or float((x != 0).float().mean()) <= 0.1:
            out = ops.to_sparse_csr(x)
        self._sparse_cache = (x, x._version, out)
        return out

    def encode(self, x: Optional[Tensor], adj: Tensor) -> Tensor:
        """Node representations :obj:`(num_nodes, hidden_channels)`."""
        _check_graph_input(f'{type(self).__name__}.encode', x, adj)
        return self.encoder(self._input(x), adj)

    def predict(self, h: Tensor, adj: Tensor, pairs: Tensor) -> Tensor:
        """Logits :obj:`(B,)` for the columns of :obj:`pairs`."""
        _check_pairs(f'{type(self).__name__}.predict', h, pairs)
        if self.cn_backend is None:
            return self.predictor(h, adj, pairs)
        with ops.use_cn_backend(self.cn_backend):
            return self.predictor(h, adj, pairs)

    def forward(self, x: Optional[Tensor], adj: Tensor, pairs: Tensor) -> Tensor:
        """Logits :obj:`(B,)`: :obj:`predict(encode(x, adj), adj, pairs)`."""
        return self.predict(self.encode(x, adj), adj, pairs)

    def predict_link(self, x: Optional[Tensor], adj: Tensor, pairs: Tensor, prob: bool = False) -> Tensor:
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
        return {'missing_keys': list(result.missing_keys), 'unexpected_keys': list(result.unexpected_keys)}

    def _repr_extra(self) -> str:
        return f", predictor='{self.predictor.variant}'"

    def __repr__(self) -> str:
        src = self.num_embeddings if self.num_embeddings is not None else self.in_channels
        emb = f", embedding='{self.embedding}'" if self.num_embeddings is not None else ''
        return (
            f"{self.__class__.__name__}({src}, {self.hidden_channels}, conv='{self.conv}', "
            f'num_layers={self.num_layers}{self._repr_extra()}{emb})'
        )


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
        **kwargs (optional): The arguments of :class:`NCN` except :obj:`predictor`, and the completion
            arguments of :class:`graphkit.nn.NCNCPredictor` (:obj:`depth`, :obj:`scale`, :obj:`offset`,
            :obj:`pt`, :obj:`alpha`, :obj:`train_max_candidates`, :obj:`test_max_candidates`,
            :obj:`split_size`, :obj:`nested_xlin`; documented there), under the same names and
            defaults.
    """

    predictor_cls = NCNCPredictor
    config_schema = {
        **{k: f for k, f in NCN.config_schema.items() if k != 'predictor'},
        'depth': COUNT,
        'scale': Field('float'),
        'offset': Field('float'),
        'pt': Field('float', min=1e-12, max=1.0, max_open=True),
        'alpha': Field('float'),
        'train_max_candidates': Field('int', nullable=True, min=1),
        'test_max_candidates': Field('int', nullable=True, min=1),
        'split_size': Field('int', nullable=True, min=1),
        'nested_xlin': Field('bool'),
    }

    def __init__(self, in_channels: Optional[int], hidden_channels: int, **kwargs: Any) -> None:
        if 'predictor' in kwargs:
            raise ValueError(
                f"'{self.__class__.__name__}' has no 'predictor' choice (it is always the "
                f'completion predictor; use NCN for the ablations)'
            )
        super().__init__(in_channels, hidden_channels, **kwargs)
        self.depth = self.predictor.depth

    def _repr_extra(self) -> str:
        return f', depth={self.depth}'
