"""Every reader, given a damaged file: each file of a small dataset is truncated at a random offset or has random
bytes flipped (hypothesis). The load either succeeds (a harmless change) or raises a graphkit error
(:class:`ValueError` / :class:`FileNotFoundError`) naming that file; never another exception, never a crash."""

import os
import os.path as osp
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphkit.data import load_dataset
from tests.tasks.test_recommend import write_tiny_rec

from .conftest import CORA_RAW, make_ogbl, make_ogbn_arxiv, make_ogbn_mag


def _cora(root):
    shutil.copytree(CORA_RAW, osp.join(root, 'cora', 'raw'))


def _rec(root):
    write_tiny_rec(Path(root))


READERS = {
    'ogbl': (lambda r: make_ogbl(r), lambda r: load_dataset('ogbl-tiny', 'link', r)),
    'ogbn': (lambda r: make_ogbn_arxiv(r), lambda r: load_dataset('ogbn-arxiv', 'node', r)),
    'ogbn-hetero': (lambda r: make_ogbn_mag(r), lambda r: load_dataset('ogbn-mag', 'hetero-node', r)),
    'planetoid': (_cora, lambda r: load_dataset('cora', 'node', r)),
    'lightgcn': (_rec, lambda r: load_dataset('tiny-rec', 'recommend', r)),
}


def _damage(path, data, how, offset, flips):
    raw = path.read_bytes()
    if how == 'truncate':
        raw = raw[: int(offset * len(raw))]
    else:
        raw = bytearray(raw)
        for pos, byte in flips:
            if raw:
                raw[int(pos * (len(raw) - 1))] = byte
        raw = bytes(raw)
    path.write_bytes(raw)


@pytest.mark.parametrize('reader', sorted(READERS))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.data(),
    how=st.sampled_from(['truncate', 'flip']),
    offset=st.floats(0, 1),
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_damaged_files_fail_naming_the_file(tmp_path_factory, reader, data, how, offset, flips):
    make, load = READERS[reader]
    root = tmp_path_factory.mktemp(reader)
    make(str(root))
    files = sorted(p for p in root.rglob('*') if p.is_file() and 'processed' not in p.parts)
    target = data.draw(st.sampled_from(files))
    _damage(target, data, how, offset, flips)
    try:
        load(str(root))
    except (ValueError, FileNotFoundError) as e:
        assert target.name in str(e), f'{type(e).__name__} does not name {target.name}: {e}'
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert not any(p.name.endswith('.tmp') for p in Path(os.path.dirname(root)).rglob('*'))


@pytest.mark.parametrize('value, match', [(2_000_000, 'implies 2,000,001 items'), (10**12, 'id beyond 2,147,483,647')])
def test_absurd_item_ids_are_refused_naming_the_line(tmp_path, value, match):
    _rec(tmp_path)
    path = tmp_path / 'tiny-rec' / 'train.txt'
    lines = path.read_text().splitlines()
    lines[4] += f' {value}'
    path.write_text('\n'.join(lines) + '\n')
    with pytest.raises(ValueError, match=rf"train.txt' line 5: .*{match}"):
        load_dataset('tiny-rec', 'recommend', str(tmp_path))


def test_absurd_user_id_is_refused_naming_the_line(tmp_path):
    _rec(tmp_path)
    path = tmp_path / 'tiny-rec' / 'test.txt'
    path.write_text(path.read_text() + '5000000 1 2\n')
    with pytest.raises(ValueError, match=r"test.txt' line 31: user id 5,000,000 implies"):
        load_dataset('tiny-rec', 'recommend', str(tmp_path))


def test_a_sparse_but_plausible_id_space_still_loads(tmp_path):
    _rec(tmp_path)
    path = tmp_path / 'tiny-rec' / 'train.txt'
    path.write_text(path.read_text() + '0 70\n')  # 71 item slots for 41 distinct items: a gap, not an absurdity
    assert load_dataset('tiny-rec', 'recommend', str(tmp_path)).num_items == 71


@pytest.mark.parametrize('value', [10**12, -3])
def test_planetoid_test_index_out_of_range(tmp_path, value):
    _cora(tmp_path)
    path = tmp_path / 'cora' / 'raw' / 'ind.cora.test.index'
    lines = path.read_text().splitlines()
    lines[6] = str(value)
    path.write_text('\n'.join(lines) + '\n')
    with pytest.raises(ValueError, match=rf"ind.cora.test.index' line 7: node id {value} outside \[0, 2708\)"):
        load_dataset('cora', 'node', str(tmp_path))
