r"""Training objectives: UltraGCN's constraint loss and weights (BPR is PyG's
:class:`torch_geometric.nn.models.lightgcn.BPRLoss`, used through :class:`graphkit.models.LightGCN`)."""
from graphkit.losses.ultragcn import UltraGCNLoss, constraint_weights, item_item_neighbors

__all__ = ['UltraGCNLoss', 'constraint_weights', 'item_item_neighbors']
