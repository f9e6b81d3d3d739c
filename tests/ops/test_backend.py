import pytest
import torch
import torch_geometric.typing

from graphkit.ops import (
    cn_sum,
    common_neighbors,
    disable_extensions,
    extension_flags,
    spmm,
    to_csr,
)

KEYS = {'WITH_TORCH_SCATTER', 'WITH_TORCH_SPARSE', 'WITH_PYG_LIB'}


def test_extension_flags_and_disable():
    flags = extension_flags()
    assert set(flags) == KEYS and all(isinstance(v, bool) for v in flags.values())
    before = torch_geometric.typing.WITH_TORCH_SPARSE
    with disable_extensions():
        assert not any(extension_flags().values())
        assert torch_geometric.typing.WITH_TORCH_SPARSE is False
        with disable_extensions():  # nests
            assert not any(extension_flags().values())
        assert not any(extension_flags().values())
    assert torch_geometric.typing.WITH_TORCH_SPARSE == before
    assert extension_flags() == flags

    @disable_extensions()
    def inner():
        return extension_flags()

    assert not any(inner().values())


def _problem():
    gen = torch.Generator().manual_seed(0)
    adj = to_csr(torch.randint(0, 200, (2, 2000), generator=gen), 200)
    pairs = torch.randint(0, 200, (2, 500), generator=gen)
    x = torch.randn(200, 8, generator=gen)
    return adj, pairs, x


@pytest.mark.skipif(not torch_geometric.typing.WITH_TORCH_SPARSE, reason='torch-sparse not installed')
@pytest.mark.parametrize('reduce', ['sum', 'mean', 'max', 'min'])
def test_identical_with_and_without_extensions(reduce):
    from torch_geometric.typing import SparseTensor, torch_sparse

    adj, pairs, x = _problem()
    out = spmm(adj, x, reduce)
    cn = common_neighbors(adj, pairs, differences=True)
    pooled = cn_sum(adj, pairs, x)
    with disable_extensions():
        assert torch.equal(spmm(adj, x, reduce), out)
        plain = common_neighbors(adj, pairs, differences=True)
        assert all(torch.equal(a, b) for a, b in zip(plain, cn))
        assert torch.equal(cn_sum(adj, pairs, x), pooled)
    # Cross-check with torch_sparse's own kernels.
    st = SparseTensor.from_torch_sparse_csr_tensor(adj)
    assert torch.allclose(torch_sparse.matmul(st, x, reduce), out, atol=1e-6)
    s_i, s_j = st.index_select(0, pairs[0]), st.index_select(0, pairs[1])
    dense = s_i.to_dense() * s_j.to_dense()
    assert torch.equal(dense.nonzero().t(), cn.cn)
