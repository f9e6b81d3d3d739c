import collections
import io
import os
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from graphkit.data.io import (
    RestrictedUnpickler,
    is_writable_dir,
    load_legacy_split,
    read_csv,
    read_planetoid_pickle,
)
from graphkit.io import atomic_torch_save, safe_torch_load

from .conftest import PWNED, Evil, cleanup_mode, read_only, write_csv


@pytest.mark.parametrize('zipfile', [False, True])
def test_load_legacy_split(tmp_path, zipfile):
    path = tmp_path / 'valid.pt'
    d = {
        'edge': np.arange(6, dtype=np.int64).reshape(3, 2),
        'edge_neg': np.arange(4, dtype=np.int32).reshape(2, 2),
        'weight': np.ones(3, dtype=np.float64),
    }
    torch.save(d, path, _use_new_zipfile_serialization=zipfile)
    out = load_legacy_split(str(path))
    assert set(out) == {'edge', 'edge_neg', 'weight'}
    assert out['edge'].dtype == torch.long and out['edge_neg'].dtype == torch.long
    assert out['weight'].dtype == torch.float
    assert torch.equal(out['edge'], torch.arange(6).view(3, 2))


def test_load_legacy_split_refuses_objects(tmp_path):
    path = tmp_path / 'test.pt'
    torch.save({'edge': np.zeros((2, 2)), 'evil': Evil()}, path, _use_new_zipfile_serialization=False)
    PWNED.clear()
    with pytest.raises(ValueError, match='not executed') as e:
        load_legacy_split(str(path))
    assert str(path) in str(e.value)
    assert PWNED == []


def test_load_legacy_split_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pt'):
        load_legacy_split(str(tmp_path / 'nope.pt'))
    path = tmp_path / 'list.pt'
    torch.save([np.zeros(2)], path, _use_new_zipfile_serialization=False)
    with pytest.raises(ValueError, match='dict'):
        load_legacy_split(str(path))


def test_safe_torch_load(tmp_path):
    good = tmp_path / 'good.pt'
    torch.save({'a': torch.ones(2), 'b': [1, 'x']}, good)
    assert torch.equal(safe_torch_load(str(good))['a'], torch.ones(2))
    bad = tmp_path / 'bad.pt'
    torch.save({'a': Evil()}, bad)
    PWNED.clear()
    with pytest.raises(ValueError, match='not executed.*force_reload'):
        safe_torch_load(str(bad), hint=' pass force_reload=True')
    assert PWNED == []
    (tmp_path / 'junk.pt').write_bytes(b'not a torch file')
    with pytest.raises(ValueError, match='junk.pt'):
        safe_torch_load(str(tmp_path / 'junk.pt'))


def test_atomic_torch_save(tmp_path):
    path = tmp_path / 'sub' / 'cache.pt'
    atomic_torch_save({'v': torch.arange(3)}, str(path))
    atomic_torch_save({'v': torch.arange(4)}, str(path))
    assert torch.equal(safe_torch_load(str(path))['v'], torch.arange(4))
    assert os.listdir(tmp_path / 'sub') == ['cache.pt']


def test_is_writable_dir(tmp_path):
    assert is_writable_dir(str(tmp_path / 'a' / 'b'))
    ro = tmp_path / 'ro'
    ro.mkdir()
    read_only(ro)
    try:
        assert not is_writable_dir(str(ro))
        assert not is_writable_dir(str(ro / 'processed'))
    finally:
        cleanup_mode(ro)


def test_read_csv(tmp_path):
    p = tmp_path / 'edge.csv.gz'
    write_csv(p, [[0, 1], [2, 3]])
    assert read_csv(str(p), ncols=2).tolist() == [[0, 1], [2, 3]]
    f = tmp_path / 'feat.csv.gz'
    write_csv(f, [[0.5, 1.0], [2.0, -1.5]])
    assert read_csv(str(f), dtype='float').dtype == np.float32


@pytest.mark.parametrize(
    'rows,match',
    [
        ([[0, 1], [2, 'x']], 'line 2: expected int'),
        ([[0, 1], [2.5, 3]], 'line 2: expected int'),
        ([[0, 1], [2, 3, 4]], 'line 2: expected 2 columns'),
        ([[0, 1], [2]], 'line 2: expected 2 columns'),
    ],
)
def test_read_csv_malformed(tmp_path, rows, match):
    p = tmp_path / 'edge.csv.gz'
    write_csv(p, rows)
    with pytest.raises(ValueError, match=match) as e:
        read_csv(str(p), ncols=2)
    assert 'edge.csv.gz' in str(e.value)


def test_read_csv_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match='edge.csv.gz'):
        read_csv(str(tmp_path / 'edge.csv.gz'))


def test_restricted_unpickler_allows_planetoid_types(tmp_path):
    g = collections.defaultdict(list)
    g[0].extend([1, 2])
    m = sp.csr_matrix(np.eye(3, dtype=np.float32))
    for obj in (g, m, np.arange(5)):
        out = RestrictedUnpickler(io.BytesIO(pickle.dumps(obj, protocol=2))).load()
        if sp.issparse(obj):
            assert (out != obj).nnz == 0
        elif isinstance(obj, np.ndarray):
            assert np.array_equal(out, obj)
        else:
            assert out == obj


def test_restricted_unpickler_refuses(tmp_path):
    path = tmp_path / 'ind.cora.graph'
    path.write_bytes(pickle.dumps(Evil(), protocol=2))
    PWNED.clear()
    with pytest.raises(ValueError, match='not executed'):
        read_planetoid_pickle(str(path))
    path.write_bytes(pickle.dumps(os.getcwd, protocol=2))
    with pytest.raises(ValueError, match="'posix.getcwd' is not allowed"):
        read_planetoid_pickle(str(path))
    assert PWNED == []
