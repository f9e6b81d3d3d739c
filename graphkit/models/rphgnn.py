r"""RpHGNN node classifier: a parameter-free pre-computation (:class:`~graphkit.nn.rphgnn.RpHGNNPrecompute`)
and a learnable encoder over its groups, found by ``graphkit train rphgnn``."""

from __future__ import annotations

import inspect
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Conv1d, Dropout, Linear, Module, ModuleList, PReLU, Sequential
from torch_geometric.data import HeteroData

from graphkit.configs.schema import DEPTH, RATE, WIDTH, Field
from graphkit.models.registry import MODELS
from graphkit.nn.rphgnn import RpHGNNPrecompute

_MERGES = ('concat', 'mean')
_DTYPES = {'float16': torch.float16, 'bfloat16': torch.bfloat16, 'float32': torch.float32}


def _mlp(in_channels: int, hidden_channels: int, num_blocks: int, dropout: float) -> Sequential:
    # num_blocks x (Linear -> PReLU (one slope) -> Dropout).
    layers: List[Module] = []
    for i in range(num_blocks):
        layers += [Linear(in_channels if i == 0 else hidden_channels, hidden_channels), PReLU(), Dropout(dropout)]
    return Sequential(*layers)


@MODELS.register('rphgnn')
class RpHGNN(torch.nn.Module):
    r"""The random-projection heterogeneous GNN from the `"Efficient Heterogeneous Graph Learning via Random
    Projection" <https://arxiv.org/abs/2310.14481>`_ paper, for node classification on a
    :class:`~torch_geometric.data.HeteroData` graph.

    :meth:`precompute` turns the graph once into :math:`G` group tensors
    :math:`\mathbf{X}_g \in \mathbb{R}^{N \times S_g \times w_g}` (see
    :class:`~graphkit.nn.rphgnn.RpHGNNPrecompute`); :meth:`forward` encodes a batch of them, per group

    .. math::
        \mathbf{y}_g[f, :] = \sum_{s=1}^{S_g} W_g[f, s]\, \tilde{\mathbf{X}}_g[s, :] + c_g[f], \qquad
        \mathbf{z}_g = \mathrm{MLP}_g\big(\mathrm{flatten}(\mathbf{y}_g)\big)

    (:math:`\tilde{\mathbf{X}}_g` after input dropout; a 1x1 :class:`~torch.nn.Conv1d` over the hop axis with
    :math:`F` = :obj:`conv_filters` output channels, :math:`F = 1` if :math:`S_g = 1`; the group MLP is
    :obj:`num_group_layers` blocks of Linear, PReLU and dropout), then fuses them

    .. math::
        \mathbf{\hat{y}} = \mathrm{MLP}_{\text{global}}\big(\mathrm{merge}(\mathbf{z}_1, \dots,
        \mathbf{z}_G)\big)

    with merge = concatenation or mean, and a global MLP of :obj:`num_global_layers` - 1 blocks of Linear,
    PReLU and dropout followed by a Linear to the class logits. Weights are Xavier-normal, biases zero.

    .. note::
        Training needs no graph: pre-compute once (``groups = model.precompute(data, generator)``, float16 on
        CPU), then feed mini-batches ``[g[idx] for g in groups]``; inputs are cast to :obj:`float32`.
        :obj:`precompute_seed` pins the generator's seed (the official code pins :obj:`1`); :obj:`None` leaves it
        to the caller (the node task seeds it with the run's seed).

    Args:
        group_shapes (Sequence[Tuple[str, int, int]]): ``(name, S_g, w_g)`` of every group, from
            :meth:`RpHGNNPrecompute.group_shapes`.
        out_channels (int): Number of classes.
        hidden_channels (int): Hidden units of every MLP. (default: :obj:`512`)
        num_group_layers (int): Blocks of each group MLP, :math:`\ge 1`. (default: :obj:`2`)
        num_global_layers (int): Linear layers of the global MLP, :math:`\ge 1`. (default: :obj:`2`)
        conv_filters (int): Output channels :math:`F` of each group's 1x1 convolution. (default: :obj:`2`)
        input_dropout (float): Element-wise dropout on every group tensor. (default: :obj:`0.1`)
        dropout (float): Dropout after every hidden PReLU. (default: :obj:`0.5`)
        merge (str): :obj:`'concat'` or :obj:`'mean'` over the group outputs. (default: :obj:`'concat'`)
        num_iterations (int): Pre-computation iterations :math:`K`. (default: :obj:`2`)
        projection (str): :obj:`'sparse'` or :obj:`'gaussian'` random projections. (default: :obj:`'sparse'`)
        use_input (bool): Prepend the raw target features to every even group. (default: :obj:`True`)
        precompute_dtype (str): Storage dtype of the groups: :obj:`'float16'`, :obj:`'bfloat16'` or
            :obj:`'float32'`. (default: :obj:`'float16'`)
        precompute_seed (int, optional): Seed of the pre-computation's generator; :obj:`None` = the run's seed.
            (default: :obj:`None`)
        target (str, optional): The classified node type (set by :meth:`from_config`); :meth:`precompute`
            needs it. (default: :obj:`None`)
    """

    task = 'node'
    kinds = ('hetero-node',)
    trainable = True
    config_schema = {
        'hidden_channels': WIDTH,
        'num_group_layers': DEPTH,
        'num_global_layers': DEPTH,
        'conv_filters': WIDTH,
        'input_dropout': RATE,
        'dropout': RATE,
        'merge': Field('str', choices=_MERGES),
        'num_iterations': DEPTH,
        'projection': Field('str', choices=('sparse', 'gaussian')),
        'use_input': Field('bool'),
        'precompute_dtype': Field('str', choices=tuple(_DTYPES)),
        'precompute_seed': Field('int', nullable=True, min=0),
    }

    def __init__(
        self,
        group_shapes: Sequence[Tuple[str, int, int]],
        out_channels: int,
        hidden_channels: int = 512,
        num_group_layers: int = 2,
        num_global_layers: int = 2,
        conv_filters: int = 2,
        input_dropout: float = 0.1,
        dropout: float = 0.5,
        merge: str = 'concat',
        num_iterations: int = 2,
        projection: str = 'sparse',
        use_input: bool = True,
        precompute_dtype: str = 'float16',
        precompute_seed: Optional[int] = None,
        target: Optional[str] = None,
    ) -> None:
        super().__init__()
        name = self.__class__.__name__
        shapes = [tuple(s) for s in group_shapes]
        if not shapes or not all(
            len(s) == 3 and isinstance(s[1], int) and isinstance(s[2], int) and s[1] >= 1 and s[2] >= 1 for s in shapes
        ):
            raise ValueError(
                f"'{name}' expects 'group_shapes' to be a non-empty list of (name, slices >= 1, width >= 1) "
                f'(got {group_shapes!r})'
            )
        for key, value in (
            ('out_channels', out_channels),
            ('hidden_channels', hidden_channels),
            ('num_group_layers', num_group_layers),
            ('num_global_layers', num_global_layers),
            ('conv_filters', conv_filters),
            ('num_iterations', num_iterations),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"'{name}' expects '{key}' to be an integer >= 1 (got {value!r})")
        for key, p in (('input_dropout', input_dropout), ('dropout', dropout)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"'{name}' expects '{key}' in [0, 1) (got {p})")
        if merge not in _MERGES:
            raise ValueError(f"'{name}' expects 'merge' in {_MERGES} (got {merge!r})")
        if projection not in ('sparse', 'gaussian'):
            raise ValueError(f"'{name}' expects 'projection' in ('sparse', 'gaussian') (got {projection!r})")
        if precompute_dtype not in _DTYPES:
            raise ValueError(f"'{name}' expects 'precompute_dtype' in {tuple(_DTYPES)} (got {precompute_dtype!r})")
        if precompute_seed is not None and (isinstance(precompute_seed, bool) or not isinstance(precompute_seed, int)):
            raise ValueError(f"'{name}' expects 'precompute_seed' to be an integer or None (got {precompute_seed!r})")

        self.group_shapes = shapes
        self.out_channels = out_channels
        self.hidden_channels = hidden_channels
        self.num_group_layers = num_group_layers
        self.num_global_layers = num_global_layers
        self.conv_filters = conv_filters
        self.input_dropout = input_dropout
        self.dropout = dropout
        self.merge = merge
        self.num_iterations = num_iterations
        self.projection = projection
        self.use_input = bool(use_input)
        self.precompute_dtype = precompute_dtype
        self.precompute_seed = precompute_seed
        self.target = target

        self.convs = ModuleList()
        self.group_mlps = ModuleList()
        for _, slices, width in shapes:
            filters = conv_filters if slices > 1 else 1
            self.convs.append(Conv1d(slices, filters, kernel_size=1))
            self.group_mlps.append(_mlp(filters * width, hidden_channels, num_group_layers, dropout))
        merged = hidden_channels * (len(shapes) if merge == 'concat' else 1)
        self.global_mlp = Sequential(
            *_mlp(merged, hidden_channels, num_global_layers - 1, dropout),
            Linear(merged if num_global_layers == 1 else hidden_channels, out_channels),
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Resets all learnable parameters (Xavier-normal weights, zero biases, PReLU slopes 0.25)."""
        for module in self.modules():
            if isinstance(module, (Linear, Conv1d)):
                torch.nn.init.xavier_normal_(module.weight)
                torch.nn.init.zeros_(module.bias)
            elif isinstance(module, PReLU):
                module.reset_parameters()

    @classmethod
    def from_config(cls, cfg: Dict[str, Any], dataset: Any) -> 'RpHGNN':
        """From the ``model`` config section and a heterogeneous :class:`~graphkit.data.NodeDataset`."""
        data, target = getattr(dataset, 'data', None), getattr(dataset, 'target', None)
        if not isinstance(data, HeteroData) or target is None:
            raise ValueError(
                f"Model 'rphgnn' needs a heterogeneous dataset with a target node type "
                f'(got {type(data).__name__}, target={target!r})'
            )
        cfg = dict(cfg)
        allowed = set(inspect.signature(cls.__init__).parameters) - {'self', 'group_shapes', 'out_channels', 'target'}
        unknown = sorted(set(cfg) - allowed)
        if unknown:
            raise ValueError(f"Model 'rphgnn' got unknown config keys {unknown}; known: {sorted(allowed)}")
        precompute = cls._precompute_module(
            cfg.get('num_iterations', 2),
            target,
            cfg.get('projection', 'sparse'),
            cfg.get('use_input', True),
            cfg.get('precompute_dtype', 'float16'),
        )
        return cls(precompute.group_shapes(data), dataset.num_classes, target=target, **cfg)

    @staticmethod
    def _precompute_module(
        num_iterations: int, target: str, projection: str, use_input: bool, precompute_dtype: str
    ) -> RpHGNNPrecompute:
        if precompute_dtype not in _DTYPES:
            raise ValueError(f"'RpHGNN' expects 'precompute_dtype' in {tuple(_DTYPES)} (got {precompute_dtype!r})")
        return RpHGNNPrecompute(
            num_iterations, target, projection=projection, use_input=use_input, dtype=_DTYPES[precompute_dtype]
        )

    def _module(self) -> RpHGNNPrecompute:
        if self.target is None:
            raise ValueError("'RpHGNN' needs 'target' (the classified node type) to pre-compute")
        return self._precompute_module(
            self.num_iterations, self.target, self.projection, self.use_input, self.precompute_dtype
        )

    def precompute_settings(self) -> Dict[str, Any]:
        r"""Everything besides the graph and the generator's seed that determines :meth:`precompute`'s output
        (the key of the node task's pre-compute cache)."""
        module = self._module()
        return {
            'method': 'rphgnn',
            'target': module.target,
            'num_iterations': module.num_iterations,
            'projection': module.projection,
            'sparsity': module.sparsity,
            'use_input': module.use_input,
            'dtype': str(module.dtype),
        }

    def precompute_layout(self, data: HeteroData) -> List[Tuple[Tuple[int, ...], torch.dtype]]:
        r"""The ``(shape, dtype)`` of every tensor :meth:`precompute` returns for :obj:`data`."""
        return self._module().layout(data)

    def precompute(
        self, data: HeteroData, generator: torch.Generator, out: Optional[List[Tensor]] = None
    ) -> List[Tensor]:
        r"""The groups of :obj:`data` (``[N_target, S_g, w_g]``, :obj:`precompute_dtype`, CPU) for
        :meth:`forward`, from an :class:`~graphkit.nn.rphgnn.RpHGNNPrecompute` with this model's settings
        (written into :obj:`out` if given, *e.g.* memory-mapped files of :meth:`precompute_layout`)."""
        module = self._module()
        shapes = module.group_shapes(data)
        if [tuple(s) for s in shapes] != self.group_shapes:
            raise ValueError(f"'RpHGNN' was built for groups {self.group_shapes}, but 'data' gives {shapes}")
        return module(data, generator, out=out)

    def forward(self, groups: List[Tensor]) -> Tensor:
        """Class logits ``[B, C]`` from the :math:`G` group tensors ``[B, S_g, w_g]`` of a batch."""
        if len(groups) != len(self.convs):
            raise ValueError(f"'RpHGNN' expects {len(self.convs)} group tensors (got {len(groups)})")
        outs = []
        for x, conv, mlp in zip(groups, self.convs, self.group_mlps):
            x = F.dropout(x.float(), p=self.input_dropout, training=self.training)
            # the 1x1 convolution over the hop axis as one batched matmul (same parameters and math; several
            # times faster than mkldnn's Conv1d on CPU for these shapes)
            y = torch.matmul(conv.weight[:, :, 0], x) + conv.bias[:, None]
            outs.append(mlp(y.flatten(1)))
        h = torch.cat(outs, dim=-1) if self.merge == 'concat' else torch.stack(outs, dim=0).mean(0)
        return self.global_mlp(h)

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}({len(self.group_shapes)}, {self.out_channels}, '
            f'hidden_channels={self.hidden_channels}, merge={self.merge!r})'
        )
