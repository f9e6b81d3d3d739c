r"""Training objectives: UltraGCN's constraint loss (its weights are graph preprocessing in
:mod:`graphkit.ops.bipartite`; BPR is PyG's :class:`torch_geometric.nn.models.lightgcn.BPRLoss`, used through
:class:`graphkit.models.LightGCN`)."""

from graphkit.losses.ultragcn import UltraGCNLoss

__all__ = ['UltraGCNLoss']
