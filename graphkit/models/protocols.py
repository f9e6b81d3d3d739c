r"""What a model must provide to be trained by each task family (``graphkit train MODEL``).

Every model class declares :attr:`task` (the task family that trains it, a key of
:obj:`graphkit.tasks.TASKS`), :attr:`kinds` (the dataset kinds it reads, see :obj:`graphkit.data.KINDS`),
:attr:`trainable`, and a ``from_config(cfg, data)`` classmethod that builds it from the ``model`` config
section and the loaded dataset. The task checks a built model against its protocol with :func:`isinstance`.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Protocol, Tuple, runtime_checkable

from torch import Tensor

__all__ = [
    'Model',
    'LinkModel',
    'RecommendModel',
    'NodeModel',
    'PrecomputedNodeModel',
    'ClusterModel',
    'GraphModel',
    'MODEL_PROTOCOLS',
]


@runtime_checkable
class Model(Protocol):
    """Shared by every model."""

    task: str
    kinds: Tuple[str, ...]
    trainable: bool

    @classmethod
    def from_config(cls, cfg: Dict[str, Any], data: Any) -> 'Model': ...

    def reset_parameters(self) -> None: ...


@runtime_checkable
class LinkModel(Model, Protocol):
    r"""A link predictor (:class:`~graphkit.tasks.link.LinkTask`): node representations from features and a
    binary sparse CSR adjacency, then logits of node pairs (``[2, B]``). Optional ``encoder`` / ``predictor``
    sub-modules get the learning rates ``train.encoder_lr`` / ``train.predictor_lr``."""

    def encode(self, x: Optional[Tensor], adj: Tensor) -> Tensor: ...

    def predict(self, h: Tensor, adj: Tensor, pairs: Tensor) -> Tensor: ...


@runtime_checkable
class RecommendModel(Model, Protocol):
    r"""A user-item model (:class:`~graphkit.tasks.recommend.RecommendTask`) on one node index, users in
    :math:`[0, U)` and items in :math:`[U, U + I)`."""

    def get_embedding(self, edge_index: Optional[Any] = None) -> Tensor: ...

    def sample_negatives(self, user: Tensor) -> Tensor: ...

    def loss(self, edge_label_index: Tensor, neg_index: Optional[Tensor] = None, **kwargs: Any) -> Tensor: ...


@runtime_checkable
class NodeModel(Model, Protocol):
    r"""A node classifier (:class:`~graphkit.tasks.node.NodeTask`): ``forward(*inputs)`` gives class logits
    ``[N, C]`` of the (target) nodes, where ``inputs`` is what the task's ``model_inputs()`` returns
    (``(x, edge_index)`` on a homogeneous graph)."""

    def forward(self, *inputs: Any) -> Tensor: ...


@runtime_checkable
class PrecomputedNodeModel(NodeModel, Protocol):
    r"""A node classifier whose graph part is a parameter-free pre-computation (RpHGNN): the node task calls
    ``precompute(data, generator)`` once per projection seed (``precompute_seed``, or the run's seed when
    :obj:`None`), keeps the tensors (one ``[N_target, ...]`` tensor per group, on CPU), and trains ``forward``
    on mini-batches of their rows (``train.batch_size``) with no graph access. Optionally, ``precompute_layout(data)``
    (the ``(shape, dtype)`` of each tensor), ``precompute_settings()`` (plain values that, with the graph and the
    seed, determine the output) and an ``out`` argument of ``precompute`` (tensors to fill in place) let the task
    cache the tensors on disk across calls (RpHGNN has them)."""

    precompute_seed: Optional[int]

    def precompute(self, data: Any, generator: Any) -> List[Tensor]: ...


@runtime_checkable
class ClusterModel(Model, Protocol):
    r"""A deep node-clustering model (:class:`~graphkit.tasks.cluster.ClusterTask`; PamC): pretrained on
    ``pretrain_loss`` (mini-batches of node indices, or full batch when ``needs_graph``), centres set by
    ``init_clusters(z, seed, n_init)`` on the embeddings of ``encode``, then trained on ``loss(x, edge_index,
    pos_index, pos_weight) -> (loss, parts)`` with the positive pairs of ``positive_pairs(edge_index, N)``;
    ``forward(x, edge_index)`` gives soft assignments ``[N, K]``."""

    num_clusters: int
    needs_graph: bool

    def encode(self, x: Tensor, edge_index: Optional[Any] = None) -> Tensor: ...

    def forward(self, x: Tensor, edge_index: Optional[Any] = None) -> Tensor: ...

    def pretrain_loss(self, x: Tensor, edge_index: Optional[Any] = None, index: Optional[Tensor] = None) -> Tensor: ...

    def init_clusters(self, z: Tensor, seed: int = 0, n_init: int = 20) -> Tensor: ...

    def positive_pairs(self, edge_index: Tensor, num_nodes: int) -> Tuple[Tensor, Tensor]: ...

    def loss(
        self, x: Tensor, edge_index: Optional[Any], pos_index: Tensor, pos_weight: Optional[Tensor] = None
    ) -> Tuple[Tensor, Dict[str, Tensor]]: ...


@runtime_checkable
class GraphModel(Model, Protocol):
    r"""A model of many graphs (:class:`~graphkit.tasks.graph.GraphTask`): ``forward(batch)`` on a PyG
    :class:`~torch_geometric.data.Batch` gives ``[B, C]`` per graph or ``[N, C]`` per node (``C = 1`` for
    regression); ``transform()`` is the tokenising transform its inputs need (or :obj:`None`), applied once to the
    dataset by the task."""

    def forward(self, batch: Any) -> Tensor: ...

    def transform(self) -> Any: ...


#: The protocol each task family checks its models against.
MODEL_PROTOCOLS = {
    'link': LinkModel,
    'recommend': RecommendModel,
    'node': NodeModel,
    'cluster': ClusterModel,
    'graph': GraphModel,
}
