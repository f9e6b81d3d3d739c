r"""Graph tokenisers for graph sequence models (GSM++): hierarchical affinity clustering (HAC) with its DFS orders
and BFS multi-level tokens, k-hop and random-walk tokens, and the LCA levels of the hierarchical positional
encoding. Every tokeniser is a PyG transform that works on a :class:`~torch_geometric.data.Batch` and can be
cached as a ``pre_transform``."""

from graphkit.tokenize.hac import AFFINITIES, HACResult, edge_affinity, hac, hac_reference, max_depth_bound, node_scores
from graphkit.tokenize.transforms import (
    FEATURES,
    TOKEN_KEYS,
    HACTokenizer,
    KHopTokens,
    RandomWalkTokens,
    dfs_permutation,
    graph_offsets,
    hac_bfs_tokens,
    khop_tokens,
    lca_levels,
    random_walk_pe,
    structural_features,
    tokenize_graphs,
)

__all__ = [
    'AFFINITIES',
    'FEATURES',
    'TOKEN_KEYS',
    'HACResult',
    'hac',
    'hac_reference',
    'max_depth_bound',
    'edge_affinity',
    'node_scores',
    'HACTokenizer',
    'KHopTokens',
    'RandomWalkTokens',
    'dfs_permutation',
    'graph_offsets',
    'hac_bfs_tokens',
    'khop_tokens',
    'lca_levels',
    'random_walk_pe',
    'structural_features',
    'tokenize_graphs',
]
