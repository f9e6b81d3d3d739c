"""PyG-style layers: NCN / NCNC predictors and their message-passing encoder."""
from graphkit.nn.encoder import DropAdj, MPNNEncoder, PureConv, drop_adj
from graphkit.nn.ncn import NCNCPredictor, NCNPredictor

__all__ = [
    'DropAdj',
    'MPNNEncoder',
    'PureConv',
    'drop_adj',
    'NCNPredictor',
    'NCNCPredictor',
]
