import pytest
import torch

from graphkit.data import PlanetoidRaw, check_link_split, ncn_link_split, random_link_split
from graphkit.data.link_split import undirected_pairs


def codes(pairs, n):  # (B, 2) -> order-free codes
    return set((torch.minimum(pairs[:, 0], pairs[:, 1]) * n + torch.maximum(pairs[:, 0], pairs[:, 1])).tolist())


def random_graph(n=60, e=300, seed=0):
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, e), generator=g)
    return torch.cat([ei, ei.flip(0)], 1)  # both directions, duplicates and self loops included


def assert_valid(split, ei, n):
    pos = undirected_pairs(ei, n)
    all_pos = codes(pos.t(), n)
    tr, va, te = (codes(split[s]['edge'], n) for s in ('train', 'valid', 'test'))
    assert tr | va | te == all_pos
    assert len(tr) + len(va) + len(te) == pos.size(1)
    for s in ('valid', 'test'):
        neg = split[s]['edge_neg']
        assert bool((neg[:, 0] < neg[:, 1]).all())
        assert not codes(neg, n) & all_pos
        assert len(codes(neg, n)) == neg.size(0)  # distinct
    assert not codes(split['valid']['edge_neg'], n) & codes(split['test']['edge_neg'], n)
    for s in ('train', 'valid', 'test'):
        e = split[s]['edge']
        assert e.dtype == torch.long and e.dim() == 2 and e.size(1) == 2
        assert bool((e[:, 0] < e[:, 1]).all())


def test_ncn_cora_counts(cora_root):
    data = PlanetoidRaw(cora_root, 'cora')[0]
    split = ncn_link_split(data.edge_index, data.num_nodes, seed=0)
    sizes = {s: {k: v.size(0) for k, v in d.items()} for s, d in split.items()}
    assert sizes == {
        'train': {'edge': 3696},
        'valid': {'edge': 527, 'edge_neg': 1055},
        'test': {'edge': 1055, 'edge_neg': 1055},
    }
    assert_valid(split, data.edge_index, data.num_nodes)


@pytest.mark.parametrize('seed', [0, 1, 7])
def test_ncn_small(seed):
    ei = random_graph()
    split = ncn_link_split(ei, 60, seed=seed)
    E = undirected_pairs(ei, 60).size(1)
    n = int(0.2 * E)
    assert split['test']['edge'].size(0) == n == split['test']['edge_neg'].size(0)
    assert split['valid']['edge_neg'].size(0) == n
    assert split['valid']['edge'].size(0) == int(n * 0.1 / 0.2)
    assert_valid(split, ei, 60)


def test_same_seed_same_split():
    ei = random_graph()
    a, b, c = (ncn_link_split(ei, 60, seed=s) for s in (3, 3, 4))
    for s in a:
        for k in a[s]:
            assert torch.equal(a[s][k], b[s][k])
    assert not torch.equal(a['test']['edge'], c['test']['edge'])
    r1, r2 = random_link_split(ei, 60, seed=5), random_link_split(ei, 60, seed=5)
    assert all(torch.equal(r1[s][k], r2[s][k]) for s in r1 for k in r1[s])


@pytest.mark.parametrize('val_ratio,test_ratio', [(0.05, 0.1), (0.1, 0.2), (0.0, 0.3)])
def test_random_link_split(val_ratio, test_ratio):
    ei = random_graph()
    E = undirected_pairs(ei, 60).size(1)
    split = random_link_split(ei, 60, val_ratio=val_ratio, test_ratio=test_ratio, num_test_neg=50, seed=0)
    assert split['valid']['edge'].size(0) == int(val_ratio * E) == split['valid']['edge_neg'].size(0)
    assert split['test']['edge'].size(0) == int(test_ratio * E)
    assert split['test']['edge_neg'].size(0) == 50
    assert_valid(split, ei, 60)


def test_negatives_exhaust_non_edges():
    # complete graph on 8 nodes minus 6 edges: exactly 6 non-edges, all must be drawn
    n = 8
    full = torch.combinations(torch.arange(n), 2).t()
    missing = full[:, :6]
    ei = full[:, 6:]
    split = random_link_split(ei, n, val_ratio=0.1, test_ratio=0.1, num_val_neg=2, num_test_neg=4, seed=0)
    got = codes(torch.cat([split['valid']['edge_neg'], split['test']['edge_neg']]), n)
    assert got == codes(missing.t(), n)
    with pytest.raises(ValueError, match='only 6 non-edges'):
        random_link_split(ei, n, num_val_neg=3, num_test_neg=4)


def test_errors():
    ei = random_graph()
    with pytest.raises(ValueError, match="'val_ratio'"):
        random_link_split(ei, 60, val_ratio=1.5)
    with pytest.raises(ValueError, match="'val_ratio' \\+ 'test_ratio'"):
        random_link_split(ei, 60, val_ratio=0.5, test_ratio=0.5)
    with pytest.raises(ValueError, match="'edge_index'"):
        ncn_link_split(ei[0], 60)
    with pytest.raises(ValueError, match="'edge_index' holds node ids"):
        ncn_link_split(ei, 10)
    with pytest.raises(ValueError, match='test_ratio'):
        ncn_link_split(ei, 60, val_ratio=0.3, test_ratio=0.2)
    with pytest.raises(ValueError, match="'num_test_neg'"):
        random_link_split(ei, 60, num_test_neg=-1)


def test_check_link_split_catches_leaks():
    ei = random_graph()
    split = ncn_link_split(ei, 60, seed=0)
    leaked = {s: dict(v) for s, v in split.items()}
    leaked['test']['edge'] = torch.cat([leaked['test']['edge'], leaked['train']['edge'][:1].flip(1)])
    with pytest.raises(AssertionError, match="both 'train' and 'test'"):
        check_link_split(leaked, 60)
    bad = {s: dict(v) for s, v in split.items()}
    bad['valid']['edge_neg'] = torch.cat([bad['valid']['edge_neg'], bad['test']['edge'][:1].flip(1)])
    with pytest.raises(AssertionError, match="'valid' negatives are positive"):
        check_link_split(bad, 60)
