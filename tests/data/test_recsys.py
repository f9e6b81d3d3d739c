import pytest
import torch

from graphkit.data import DATASETS, dataset_info
from graphkit.data.recsys import find_recsys_root, load_recsys_dataset, read_interactions

TRAIN = '0 0 1 2\n1 2 3\n2\n3 1 1 4\n'  # user 2 has no items; user 3 lists item 1 twice
TEST = '0 3\n1 0 4\n2 0\n3\n'


def _write(folder, train=TRAIN, test=TEST):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / 'train.txt').write_text(train)
    (folder / 'test.txt').write_text(test)
    return folder


def test_reads_the_lightgcn_format(tmp_path):
    _write(tmp_path / 'tiny')
    ds = load_recsys_dataset('tiny', str(tmp_path))
    assert (ds.num_users, ds.num_items) == (4, 5)
    assert ds.train.tolist() == [[0, 0, 0, 1, 1, 3, 3], [0, 1, 2, 2, 3, 1, 4]]
    assert ds.test.tolist() == [[0, 1, 1, 2], [3, 0, 4, 0]]
    assert ds.cold_test_users == 1  # user 2: test items, no training item (kept, reported)
    assert ds.valid is None
    assert repr(ds) == 'RecSysDataset(tiny, num_users=4, num_items=5, train=7, valid=0, test=4)'


def test_homogeneous_and_bipartite_views(tmp_path):
    ds = load_recsys_dataset('tiny', str(_write(tmp_path)))
    data = ds.data
    assert data.num_nodes == 9 and data.num_users == 4 and data.num_items == 5
    assert data.edge_label_index.tolist() == [[0, 0, 0, 1, 1, 3, 3], [4, 5, 6, 6, 7, 5, 8]]
    assert torch.equal(data.edge_index, torch.cat([data.edge_label_index, data.edge_label_index.flip(0)], 1))
    assert torch.equal(data.test_edge_label_index[1], ds.test[1] + 4)
    het = ds.hetero
    assert het['user'].num_nodes == 4 and het['item'].num_nodes == 5
    assert torch.equal(het['user', 'rates', 'item'].edge_index, ds.train)
    assert torch.equal(het['item', 'rated_by', 'user'].edge_index, ds.train.flip(0))
    csr = ds.csr('train')
    assert csr.to_dense().nonzero().t().tolist() == ds.train.tolist()


def test_root_resolution(tmp_path):
    _write(tmp_path / 'electronics')
    assert find_recsys_root('electronics', str(tmp_path)) == str(tmp_path / 'electronics')
    assert find_recsys_root('electronics', str(tmp_path / 'electronics')) == str(tmp_path / 'electronics')
    with pytest.raises(FileNotFoundError, match='gowalla'):
        find_recsys_root('gowalla', str(tmp_path / 'nowhere'))
    rows = {r['name']: r['found'] for r in dataset_info(str(tmp_path), kinds=('recommend',))}
    assert rows['electronics'] and not rows['ml-1m'] and set(rows) == set(DATASETS.names('recommend'))


def test_validation_split_is_seeded_and_disjoint(tmp_path):
    lines = ''.join(f'{u} ' + ' '.join(str((u * 7 + j) % 30) for j in range(10)) + '\n' for u in range(20))
    _write(tmp_path, train=lines + '20 5\n', test='0 29\n')
    full = load_recsys_dataset('x', str(tmp_path))
    a = load_recsys_dataset('x', str(tmp_path), val_ratio=0.2, seed=1)
    b = load_recsys_dataset('x', str(tmp_path), val_ratio=0.2, seed=1)
    c = load_recsys_dataset('x', str(tmp_path), val_ratio=0.2, seed=2)
    assert torch.equal(a.valid, b.valid) and not torch.equal(a.valid, c.valid)
    assert a.train.size(1) + a.valid.size(1) == full.train.size(1)
    key = lambda p: set(map(tuple, p.t().tolist()))  # noqa: E731
    assert not key(a.train) & key(a.valid)
    assert torch.bincount(a.valid[0], minlength=21)[:20].tolist() == [2] * 20
    assert 20 not in a.valid[0].tolist()  # a user with a single item keeps it for training
    assert a.data.val_edge_label_index.size(1) == a.valid.size(1)


@pytest.mark.parametrize(
    'text,match',
    [
        ('0 1 x\n', "line 1: expected 'user item item ...'"),
        ('0 1\n1 2.5\n', 'line 2'),
        ('0 1\n-1 2\n', 'line 2: ids must be non-negative'),
        ('0 -3\n', 'non-negative'),
    ],
)
def test_malformed_lines(tmp_path, text, match):
    _write(tmp_path, train=text)
    with pytest.raises(ValueError, match=match):
        load_recsys_dataset('x', str(tmp_path))


def test_ids_out_of_range(tmp_path):
    path = _write(tmp_path) / 'train.txt'
    with pytest.raises(ValueError, match=r'line 4: item id out of range \[0, 4\) \(got 4\)'):
        read_interactions(str(path), num_items=4)
    with pytest.raises(ValueError, match=r'user id out of range \[0, 3\) \(got 3\)'):
        read_interactions(str(path), num_users=3)


def test_empty_files(tmp_path):
    _write(tmp_path, test='0\n\n1\n')
    with pytest.raises(ValueError, match='test.txt.*no interaction'):
        load_recsys_dataset('x', str(tmp_path))
    _write(tmp_path, train='', test='0 1\n')
    with pytest.raises(ValueError, match='train.txt.*no interaction'):
        load_recsys_dataset('x', str(tmp_path))
    with pytest.raises(FileNotFoundError, match='train.txt'):
        read_interactions(str(tmp_path / 'missing' / 'train.txt'))
    with pytest.raises(ValueError, match='val_ratio'):
        load_recsys_dataset('x', str(tmp_path), val_ratio=1.0)
