import pytest
import torch
from torch_geometric.data import Batch

from graphkit.models import GIN
from tests.models.test_gsm import _graphs


@pytest.mark.parametrize('level', ['graph', 'node'])
def test_gin_shapes_and_batch_consistency(level):
    torch.manual_seed(0)
    model = GIN(3, 2, level=level, hidden_channels=8, num_layers=2).eval()
    graphs = _graphs()
    batched = model(Batch.from_data_list(graphs))
    alone = torch.cat([model(Batch.from_data_list([g])) for g in graphs])
    assert torch.allclose(batched, alone, atol=1e-5)
    assert model.transform() is None
    assert str(model) == f"GIN(3, 2, num_layers=2, level='{level}')"
