"""The argument checks of the public entry points: bad pairs, features and ids fail naming the function and
the argument; graphkit.checks turns them off."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphkit import checks
from graphkit.models import GAE, NCN, NCNC, LinkHeuristic, UltraGCN
from graphkit.ops import to_csr
from tests.models.test_ncn import tiny_graph

MODELS = {
    'NCN': lambda: NCN(12, 16),
    'NCNC': lambda: NCNC(12, 16),
    'GAE': lambda: GAE(12, 40, hidden_channels=8),
    'LinkHeuristic': lambda: LinkHeuristic('cn'),
}


@pytest.mark.parametrize('name', sorted(MODELS))
@settings(max_examples=20, deadline=None)
@given(bad=st.one_of(st.integers(40, 10**9), st.integers(-(10**9), -1)), pos=st.integers(0, 7), row=st.integers(0, 1))
def test_pairs_out_of_range_name_the_argument(name, bad, pos, row):
    x, adj, _ = tiny_graph()
    model = MODELS[name]().eval()
    pairs = torch.randint(0, 40, (2, 8))
    pairs[row, pos] = bad
    with pytest.raises(ValueError, match=rf"'{name}\.predict' got 'pairs' with id {bad}, outside \[0, 40\)"):
        model(x, adj, pairs)


def test_shapes_dtypes_and_devices_are_checked():
    x, adj, _ = tiny_graph()
    model = NCN(12, 16).eval()
    with pytest.raises(ValueError, match=r"'NCN.predict' expects 'pairs' of shape \(2, B\)"):
        model(x, adj, torch.zeros(3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="'NCN.predict' expects 'pairs' to be an integer tensor"):
        model(x, adj, torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"'NCN.encode' expects 'x' to have size 40 in dimension 0"):
        model(x[:30], adj, torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="'NCN.predict' expects 'pairs' on cpu"):
        model.predict(torch.zeros(40, 16), adj, torch.zeros(2, 4, dtype=torch.long, device='meta'))
    with pytest.raises(ValueError, match="'NCN.encode' expects a square 'adj'"):
        model.encode(x, to_csr(torch.tensor([[0], [1]]), 3).to_dense()[:2])


def test_ultragcn_ids_are_checked():
    train = torch.tensor([[0, 1, 2, 3, 4, 0], [0, 1, 2, 3, 4, 6]])  # (user, item) pairs
    model = UltraGCN(5, 7, 4, train, negative_num=2, ii_neighbor_num=2)
    with pytest.raises(ValueError, match=r"'UltraGCN.recommend' got 'src_index' with id 5, outside \[0, 5\)"):
        model.recommend(src_index=torch.tensor([0, 5]), k=2)
    with pytest.raises(ValueError, match="expects item ids in 'dst_index'"):
        model.recommend(src_index=torch.tensor([0]), dst_index=torch.tensor([1, 6]), k=1)
    with pytest.raises(ValueError, match=r"'UltraGCN.forward' got 'edge_label_index' with id 12"):
        model(edge_label_index=torch.tensor([[0], [12]]))
    assert model.recommend(src_index=torch.tensor([0, 4]), k=3).shape == (2, 3)


def test_checks_can_be_turned_off():
    x, adj, _ = tiny_graph()
    model = NCN(12, 16).eval()
    pairs = torch.randint(0, 40, (2, 8))
    ref = model(x, adj, pairs)
    assert checks.checks_enabled()
    with checks.no_checks():
        assert not checks.checks_enabled()
        assert torch.equal(model(x, adj, pairs), ref)  # the same numbers without the checks
        checks.check_index('f', 'idx', torch.tensor([-1]), 3)  # a no-op while off
    assert checks.checks_enabled()
    with pytest.raises(ValueError, match="'f' got 'idx' with id -1"):
        checks.check_index('f', 'idx', torch.tensor([-1]), 3)
    with pytest.raises(ValueError, match="'f' expects 'idx' to be a tensor"):
        checks.check_tensor('f', 'idx', [1, 2])
