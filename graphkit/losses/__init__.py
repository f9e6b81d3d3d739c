r"""Training objectives: UltraGCN's constraint loss (its weights are graph preprocessing in
:mod:`graphkit.ops.bipartite`; BPR is PyG's :class:`torch_geometric.nn.models.lightgcn.BPRLoss`, used through
:class:`graphkit.models.LightGCN`), and PamC's meta-node contrastive loss with the dense pairwise loss it
approximates (its positive weights come from :func:`graphkit.ops.adjacency_power_sum`)."""

from graphkit.losses.pamc import (
    PairwiseContrastiveLoss,
    PamCLoss,
    dense_negative,
    meta_node_negative,
    meta_nodes,
    positive_term,
)
from graphkit.losses.ultragcn import UltraGCNLoss

__all__ = [
    'UltraGCNLoss',
    'PamCLoss',
    'PairwiseContrastiveLoss',
    'meta_nodes',
    'positive_term',
    'meta_node_negative',
    'dense_negative',
]
