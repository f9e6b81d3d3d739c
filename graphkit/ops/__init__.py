r"""Sparse adjacency, SpMM and common-neighbour operations on plain PyTorch.

Pure functions on :obj:`torch.sparse_csr` adjacency matrices, device-agnostic,
using torch-scatter / torch-sparse only when :mod:`torch_geometric.typing`
reports them (see :func:`extension_flags`, :func:`disable_extensions`). Every
sparse tensor is built through :func:`csr_tensor` / :func:`to_sparse_csr` /
:func:`coo_tensor`. One job per module:

* :mod:`~graphkit.ops.csr`: building sparse tensors, reading CSR rows;
* :mod:`~graphkit.ops.adjacency`: canonical adjacencies, degrees,
  normalisation, edge removal;
* :mod:`~graphkit.ops.dropout`: dropout with a cheap CPU mask, and edge dropout;
* :mod:`~graphkit.ops.spmm`, :mod:`~graphkit.ops.sddmm`: sparse-dense and
  sampled dense-dense products;
* :mod:`~graphkit.ops.common_neighbors`: common-neighbour sets and pooling;
* :mod:`~graphkit.ops.cn_backend`: their sparse / dense algorithms and the automatic choice;
* :mod:`~graphkit.ops.topk`: top-:math:`k` over all candidates;
* :mod:`~graphkit.ops.bipartite`: user-item graph preprocessing (UltraGCN);
* :mod:`~graphkit.ops.powers`: sums of normalised adjacency powers (PamC's positive weights).
"""

from graphkit.ops._backend import disable_extensions, extension_flags
from graphkit.ops.adjacency import (
    check_edge_index,
    csr_parts,
    degree,
    edge_positions,
    gcn_norm,
    pairs_to_csr,
    remove_edges,
    remove_positions,
    rw_norm,
    to_csr,
)
from graphkit.ops.bipartite import bipartite_pairs, constraint_weights, item_item_neighbors
from graphkit.ops.cn_backend import (
    cn_backend_counts,
    get_cn_backend,
    release_workspace,
    set_cn_backend,
    use_cn_backend,
)
from graphkit.ops.common_neighbors import (
    CommonNeighbors,
    cn_count,
    cn_sum,
    common_neighbors,
    pool_pairs,
    sample_per_row,
    two_hop_stack,
)
from graphkit.ops.csr import coo_tensor, csr_rows, csr_tensor, to_sparse_csr
from graphkit.ops.dropout import drop_adj, keep_mask, packed_dropout
from graphkit.ops.powers import adjacency_power_sum, csr_to_coo
from graphkit.ops.sddmm import sampled_dot
from graphkit.ops.spmm import spmm
from graphkit.ops.topk import topk_full_ranking

__all__ = [
    'csr_tensor',
    'to_sparse_csr',
    'coo_tensor',
    'csr_rows',
    'check_edge_index',
    'to_csr',
    'pairs_to_csr',
    'csr_parts',
    'degree',
    'gcn_norm',
    'rw_norm',
    'remove_edges',
    'edge_positions',
    'remove_positions',
    'drop_adj',
    'packed_dropout',
    'keep_mask',
    'spmm',
    'sampled_dot',
    'CommonNeighbors',
    'common_neighbors',
    'cn_count',
    'cn_sum',
    'pool_pairs',
    'sample_per_row',
    'two_hop_stack',
    'set_cn_backend',
    'release_workspace',
    'get_cn_backend',
    'use_cn_backend',
    'cn_backend_counts',
    'topk_full_ranking',
    'bipartite_pairs',
    'constraint_weights',
    'item_item_neighbors',
    'adjacency_power_sum',
    'csr_to_coo',
    'extension_flags',
    'disable_extensions',
]
