import torch

from graphkit.nn.dropout import Dropout
from graphkit.ops import keep_mask


def test_dropout_module():
    m = Dropout(0.25)
    assert isinstance(m, torch.nn.Dropout) and m.p == 0.25
    assert str(m) == 'Dropout(p=0.25, inplace=False)'
    x = torch.randn(17, 9)
    torch.manual_seed(0)
    y = m(x)
    torch.manual_seed(0)
    keep = keep_mask(x.shape, 0.25)
    torch.testing.assert_close(y, torch.where(keep, x / 0.75, 0.0))
    m.eval()
    assert m(x) is x


def test_ncn_layers_use_it():
    from graphkit.nn import MPNNEncoder, NCNPredictor

    for module in (MPNNEncoder(8, 16, conv='puregcn', dropout=0.1), NCNPredictor(16, 16, dropout=0.1)):
        drops = [m for m in module.modules() if isinstance(m, torch.nn.Dropout)]
        assert drops and all(isinstance(m, Dropout) for m in drops)
