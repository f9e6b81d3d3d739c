import json
import os

import numpy as np
import pytest
import torch
from torch_geometric.data import HeteroData

from graphkit.nn.rphgnn import RpHGNNPrecompute
from graphkit.tasks.cache import MANIFEST, PrecomputeCache, hash_graph


def _graph(seed=0):
    gen = torch.Generator().manual_seed(seed)
    data = HeteroData()
    data['paper'].x = torch.randn(6, 4, generator=gen)
    data['author'].x = torch.randn(5, 3, generator=gen)
    e = torch.stack([torch.randint(0, 5, (9,), generator=gen), torch.randint(0, 6, (9,), generator=gen)])
    data['author', 'writes', 'paper'].edge_index = e
    data['paper', 'rev_writes', 'author'].edge_index = e.flip(0)
    return data


LAYOUT = [((6, 3, 4), torch.float16), ((6, 2, 3), torch.bfloat16), ((6, 1, 2), torch.float32)]


def _fill(values):
    def compute(out):
        for o, v in zip(out, values):
            o.copy_(v)

    return compute


def _values():
    gen = torch.Generator().manual_seed(1)
    return [torch.randn(shape, generator=gen).to(dtype) for shape, dtype in LAYOUT]


def test_store_then_load_round_trips_every_dtype(tmp_path):
    cache = PrecomputeCache(str(tmp_path / 'cache'))
    key = cache.key(hash_graph(_graph()), {'k': 1, 'seed': 0})
    assert cache.load(key, LAYOUT) is None  # nothing yet
    values = _values()
    stored = cache.store(key, LAYOUT, _fill(values))
    loaded = cache.load(key, LAYOUT)
    for v, s, g in zip(values, stored, loaded):
        assert s.dtype == v.dtype and torch.equal(s, v) and torch.equal(g, v)
    rows = torch.tensor([4, 0])
    assert torch.equal(loaded[0][rows], values[0][rows])  # a batch of rows, as the training loop reads them
    assert sorted(os.listdir(tmp_path / 'cache')) == [key]  # no temporary folder left behind
    assert 'cache' in repr(cache)


def test_the_key_follows_the_graph_and_the_settings():
    base = PrecomputeCache.key(hash_graph(_graph()), {'k': 1, 'seed': 0})
    assert base == PrecomputeCache.key(hash_graph(_graph()), {'seed': 0, 'k': 1})  # deterministic, order-free
    assert base != PrecomputeCache.key(hash_graph(_graph()), {'k': 1, 'seed': 1})
    assert base != PrecomputeCache.key(hash_graph(_graph(seed=1)), {'k': 1, 'seed': 0})
    moved = _graph()
    e = moved['author', 'writes', 'paper'].edge_index
    e[0, 0] = (e[0, 0] + 1) % 5  # one edge moved
    assert hash_graph(moved) != hash_graph(_graph())
    features = _graph()
    features['paper'].x[0, 0] += 1.0
    assert hash_graph(features) != hash_graph(_graph())


def _damage_manifest(entry):
    (entry / MANIFEST).write_text('{"format": ')


def _truncate_tensor(entry):
    path = entry / '0.npy'
    path.write_bytes(path.read_bytes()[:-10])


def _wrong_shape(entry):
    manifest = json.loads((entry / MANIFEST).read_text())
    manifest['tensors'][1]['shape'] = [6, 9, 9]
    (entry / MANIFEST).write_text(json.dumps(manifest))


def _other_file(entry):
    np.save(entry / '2.npy', np.zeros((6, 1, 3), dtype=np.float32))


def _missing_file(entry):
    os.remove(entry / '1.npy')


@pytest.mark.parametrize(
    'damage, names',
    [
        (_damage_manifest, 'manifest.json: not valid JSON'),
        (_truncate_tensor, '0.npy'),
        (_wrong_shape, 'tensor 1'),
        (_other_file, '2.npy'),
        (_missing_file, '1.npy'),
    ],
)
def test_a_damaged_entry_is_reported_and_recomputed(tmp_path, damage, names):
    lines = []
    cache = PrecomputeCache(str(tmp_path), log=lines.append)
    key = cache.key('graph', {'seed': 0})
    values = _values()
    cache.store(key, LAYOUT, _fill(values))
    damage(tmp_path / key)
    assert cache.load(key, LAYOUT) is None
    assert len(lines) == 1 and 'damaged' in lines[0] and names in lines[0] and 'recomputing' in lines[0]
    again = cache.store(key, LAYOUT, _fill(values))  # replaces the damaged entry
    assert all(torch.equal(a, v) for a, v in zip(again, values))
    assert all(torch.equal(a, v) for a, v in zip(cache.load(key, LAYOUT), values))


def test_an_interrupted_computation_leaves_no_entry(tmp_path):
    cache = PrecomputeCache(str(tmp_path))
    key = cache.key('graph', {'seed': 0})

    def fails(out):
        out[0][0] = 1.0
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.store(key, LAYOUT, fails)
    assert os.listdir(tmp_path) == [] and cache.load(key, LAYOUT) is None
    with pytest.raises(ValueError, match='stores'):
        cache.store(key, [((2,), torch.int64)], fails)


def test_rphgnn_streams_into_the_cache_as_it_computes_in_memory(tmp_path):
    data = _graph()
    module = RpHGNNPrecompute(3, 'paper')
    ref = module(data, torch.Generator().manual_seed(5))
    cache = PrecomputeCache(str(tmp_path))
    key = cache.key(hash_graph(data), {'seed': 5})
    streamed = cache.store(key, module.layout(data), lambda out: module(data, torch.Generator().manual_seed(5), out))
    assert [tuple(t.shape) for t in streamed] == [shape for shape, _ in module.layout(data)]
    assert all(torch.equal(a, b) for a, b in zip(ref, streamed))
    with pytest.raises(ValueError, match="'out'"):
        module(data, torch.Generator(), out=[torch.empty(1)])
