r"""Sparse adjacency, SpMM and common-neighbour operations on plain PyTorch.

Pure functions on :obj:`torch.sparse_csr` adjacency matrices, device-agnostic,
using torch-scatter / torch-sparse only when :mod:`torch_geometric.typing`
reports them (see :func:`extension_flags`, :func:`disable_extensions`).
"""
from graphkit.ops._backend import disable_extensions, extension_flags
from graphkit.ops.adjacency import (
    check_edge_index,
    csr_parts,
    degree,
    gcn_norm,
    pairs_to_csr,
    remove_edges,
    rw_norm,
    to_csr,
)
from graphkit.ops.common_neighbors import (
    CommonNeighbors,
    cn_count,
    cn_sum,
    common_neighbors,
    pool_pairs,
    sample_per_row,
)
from graphkit.ops.spmm import spmm

__all__ = [
    'check_edge_index',
    'to_csr',
    'pairs_to_csr',
    'csr_parts',
    'degree',
    'gcn_norm',
    'rw_norm',
    'remove_edges',
    'spmm',
    'CommonNeighbors',
    'common_neighbors',
    'cn_count',
    'cn_sum',
    'pool_pairs',
    'sample_per_row',
    'extension_flags',
    'disable_extensions',
]
