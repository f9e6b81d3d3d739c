"""PyG-style layers: NCN / NCNC predictors and their message-passing encoder; RpHGNN's pre-computation; the
node-feature autoencoder and DEC clustering head of PamC."""

from graphkit.nn.autoencoder import FeatureAutoencoder
from graphkit.nn.dec import DECHead, kl_clustering_loss, target_distribution
from graphkit.nn.encoder import DropAdj, MPNNEncoder, PureConv
from graphkit.nn.gsm import HybridBlock, LocalEncoder, MoTRouter, SequenceAttention
from graphkit.nn.ncn import NCNCPredictor, NCNPredictor
from graphkit.nn.rphgnn import RpHGNNPrecompute
from graphkit.nn.ssm import SelectiveSSM
from graphkit.ops.dropout import drop_adj  # re-export: the op lives in graphkit.ops

__all__ = [
    'SelectiveSSM',
    'HybridBlock',
    'SequenceAttention',
    'LocalEncoder',
    'MoTRouter',
    'DropAdj',
    'MPNNEncoder',
    'PureConv',
    'drop_adj',
    'NCNPredictor',
    'NCNCPredictor',
    'RpHGNNPrecompute',
    'FeatureAutoencoder',
    'DECHead',
    'target_distribution',
    'kl_clustering_loss',
]
