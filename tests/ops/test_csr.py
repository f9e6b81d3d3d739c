import subprocess
import sys
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphkit.ops import coo_tensor, csr_rows, csr_tensor, to_sparse_csr


def test_csr_rows():
    rowptr, col = torch.tensor([0, 2, 2, 5]), torch.tensor([1, 4, 0, 2, 3])
    local, c = csr_rows(rowptr, col, torch.tensor([2, 1, 0]))
    assert local.tolist() == [0, 0, 0, 2, 2] and c.tolist() == [0, 2, 3, 1, 4]
    local, c = csr_rows(rowptr, col, torch.tensor([], dtype=torch.long))
    assert local.numel() == 0 and c.numel() == 0


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.integers(1, 8), st.data())
def test_csr_rows_vs_dense(num_rows, num_cols, data):
    mask = data.draw(
        st.lists(st.lists(st.booleans(), min_size=num_cols, max_size=num_cols), min_size=num_rows, max_size=num_rows)
    )
    dense = torch.tensor(mask, dtype=torch.float32)
    m = to_sparse_csr(dense)
    rows = torch.tensor(data.draw(st.lists(st.integers(0, num_rows - 1), max_size=10)), dtype=torch.long)
    local, c = csr_rows(m.crow_indices(), m.col_indices(), rows)
    expected = [(b, j) for b, r in enumerate(rows.tolist()) for j in range(num_cols) if mask[r][j]]
    assert list(zip(local.tolist(), c.tolist())) == expected  # grouped by b, sorted columns


def test_csr_tensor_matches_dense():
    rowptr, col = torch.tensor([0, 2, 2, 3]), torch.tensor([0, 3, 1])
    value = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    m = csr_tensor(rowptr, col, value, (3, 4))
    assert m.layout == torch.sparse_csr and m.dtype == torch.float64 and m.shape == (3, 4)
    expected = torch.zeros(3, 4, dtype=torch.float64)
    expected[0, 0], expected[0, 3], expected[2, 1] = 1.0, 2.0, 3.0
    assert torch.equal(m.to_dense(), expected)
    square = csr_tensor(torch.tensor([0, 1, 1]), torch.tensor([1]), None, 2)
    assert square.shape == (2, 2) and square.dtype == torch.get_default_dtype()
    assert torch.equal(square.to_dense(), torch.tensor([[0.0, 1.0], [0.0, 0.0]]))
    with pytest.raises(RuntimeError):
        csr_tensor(torch.tensor([0, 2, 1]), torch.tensor([0]), None, (2, 2), check_invariants=True)


def test_to_sparse_csr_and_coo_tensor():
    dense = torch.tensor([[0.0, 2.0], [3.0, 0.0]])
    m = to_sparse_csr(dense)
    assert m.layout == torch.sparse_csr and torch.equal(m.to_dense(), dense)
    assert to_sparse_csr(m) is m
    coo = coo_tensor(torch.tensor([[0, 1, 1], [1, 0, 0]]), torch.tensor([2.0, 1.0, 2.0]), 2)
    assert coo.layout == torch.sparse_coo
    assert torch.equal(to_sparse_csr(coo).to_dense(), dense)  # duplicates summed
    ones = coo_tensor(torch.tensor([[0], [1]]), None, (2, 3), is_coalesced=True)
    assert ones.is_coalesced() and torch.equal(ones.to_dense(), torch.tensor([[0.0, 1, 0], [0, 0, 0]]))


def test_no_sparse_warnings_after_import():
    # Both warnings are emitted once per process, so the check needs a fresh interpreter. After importing
    # graphkit.ops: graphkit's constructors, torch's own conversions (torch.sparse.mm builds CSR internally) and
    # a constructor that passes no check_invariants (as PyG's GCNConv does) all stay silent.
    code = (
        'import warnings; import torch; '
        'from graphkit.ops import coo_tensor, csr_tensor, to_sparse_csr; '
        'warnings.simplefilter("error"); '
        'coo_tensor(torch.tensor([[0], [0]]), None, 1); '
        'csr_tensor(torch.tensor([0, 1]), torch.tensor([0]), None, 1); '
        'to_sparse_csr(torch.eye(2)); '
        'a = torch.eye(3).to_sparse_coo(); torch.sparse.mm(a, a); torch.eye(2).to_sparse_csr(); '
        'torch.sparse_csr_tensor(torch.tensor([0, 1]), torch.tensor([0]), torch.ones(1)); '
        'assert not torch.sparse.check_sparse_tensor_invariants.is_enabled()'
    )
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_warning_filter_is_temporary():
    before = list(warnings.filters)
    csr_tensor(torch.tensor([0, 1]), torch.tensor([0]), None, 1)
    to_sparse_csr(torch.eye(2))
    assert warnings.filters == before
