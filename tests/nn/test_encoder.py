import pytest
import torch

from graphkit.nn import DropAdj, MPNNEncoder, PureConv
from graphkit.ops import drop_adj, to_csr

# A 4-node graph: 0-1, 0-2, 1-2, 2-3.
EDGE_INDEX = torch.tensor([[0, 0, 1, 2], [1, 2, 2, 3]])


def dense(adj):
    return adj.to_dense()


def random_graph(n=60, e=240, seed=0):
    g = torch.Generator().manual_seed(seed)
    return to_csr(torch.randint(0, n, (2, e), generator=g), n)


def test_repr():
    assert str(MPNNEncoder(1433, 256, conv='puregcn')) == ("MPNNEncoder(1433, 256, conv='puregcn', num_layers=1)")
    assert str(MPNNEncoder(None, 224, conv='puresum', num_embeddings=4267)) == (
        "MPNNEncoder(Embedding(4267), 224, conv='puresum', num_layers=1)"
    )
    assert str(MPNNEncoder(8, 16, 4, num_layers=3)) == ("MPNNEncoder(8, 4, conv='gcn', num_layers=3)")
    assert str(PureConv('gcn')) == 'PureConv(gcn)'
    assert str(DropAdj(0.4)) == 'DropAdj(p=0.4)'


@pytest.mark.parametrize('conv', ['gcn', 'sage', 'gin', 'max', 'puregcn', 'puresum', 'puremean', 'puremax', 'none'])
@pytest.mark.parametrize('num_layers', [0, 1, 3])
@pytest.mark.parametrize('jk,res', [(False, False), (True, True)])
def test_shapes(conv, num_layers, jk, res):
    adj = random_graph()
    x = torch.randn(60, 12)
    enc = MPNNEncoder(
        12,
        16,
        num_layers=num_layers,
        conv=conv,
        layer_norm=True,
        dropout=0.1,
        input_dropout=0.1,
        tail_dropout=0.1,
        edge_dropout=0.2,
        res=res,
        jk=jk,
    )
    out = enc(x, adj)
    assert out.shape == (60, 16)
    assert torch.isfinite(out).all()
    enc.eval()
    assert torch.allclose(enc(x, adj), enc(x, adj))


def test_puregcn_by_hand():
    adj = to_csr(EDGE_INDEX, 4)
    a = dense(adj) + torch.eye(4)
    d = a.sum(1).rsqrt()
    x = torch.randn(4, 3)
    expected = d.view(-1, 1) * a * d.view(1, -1) @ x
    assert torch.allclose(PureConv('gcn')(x, adj), expected, atol=1e-6)


@pytest.mark.parametrize('aggr', ['sum', 'mean', 'max'])
def test_pure_aggr_vs_loop(aggr):
    adj = random_graph(30, 90)
    x = torch.randn(30, 5)
    a = dense(adj)
    out = PureConv(aggr)(x, adj)
    for i in range(30):
        nbrs = a[i].nonzero().view(-1)
        if nbrs.numel() == 0:
            assert torch.allclose(out[i], torch.zeros(5))
            continue
        ref = {'sum': x[nbrs].sum(0), 'mean': x[nbrs].mean(0), 'max': x[nbrs].max(0).values}[aggr]
        assert torch.allclose(out[i], ref, atol=1e-5)


def test_pure_encoder_is_sgc():
    adj = to_csr(EDGE_INDEX, 4)
    enc = MPNNEncoder(3, 5, num_layers=2, conv='puregcn').eval()
    x = torch.randn(4, 3)
    a = dense(adj) + torch.eye(4)
    d = a.sum(1).rsqrt()
    a_hat = d.view(-1, 1) * a * d.view(1, -1)
    lin = enc.input[1]
    assert torch.allclose(enc(x, adj), a_hat @ a_hat @ lin(x), atol=1e-5)


def test_gcn_matches_edge_index():
    adj = random_graph()
    x = torch.randn(60, 8)
    enc = MPNNEncoder(8, 8, conv='gcn').eval()
    conv = enc.convs[0]
    ei = adj.to_sparse_coo().indices()
    assert torch.allclose(conv(x, adj), conv(x, ei), atol=1e-5)


def test_layer_blocks():
    enc = MPNNEncoder(4, 8, num_layers=1, conv='gcn', layer_norm=True)
    assert [type(m).__name__ for m in enc.lins[0]] == ['LayerNorm', 'Dropout', 'ReLU']
    enc = MPNNEncoder(4, 8, num_layers=2, conv='gcn', layer_norm=False)
    assert [type(m).__name__ for m in enc.lins[0]] == ['Identity', 'Dropout', 'ReLU']
    assert type(enc.lins[1]).__name__ == 'Identity'
    enc = MPNNEncoder(4, 8, num_layers=2, conv='puregcn', tail_dropout=0.3)
    assert [type(m).__name__ for m in enc.input] == ['Dropout', 'Linear', 'Dropout']
    assert type(enc.lins[0]).__name__ == 'Identity' and enc.lins[1].p == 0.3
    assert [type(m).__name__ for m in MPNNEncoder(4, 8, conv='gcn').input] == ['Dropout']


def test_jk_and_res():
    adj = to_csr(EDGE_INDEX, 4)
    x = torch.randn(4, 6)
    enc = MPNNEncoder(6, 6, num_layers=2, conv='puresum', jk=True, res=True).eval()
    h0 = enc.input(x)
    h1 = PureConv('sum')(h0, adj) + h0
    h2 = PureConv('sum')(h1, adj) + h1
    w = enc.jk_weight
    assert w.shape == (2,) and w.requires_grad
    assert torch.allclose(enc(x, adj), w[0] * h1 + w[1] * h2, atol=1e-5)


def test_embedding_path():
    adj = random_graph(40, 100)
    enc = MPNNEncoder(None, 16, conv='puresum', num_embeddings=40)
    w = enc.emb.weight
    assert torch.allclose(w.t() @ w, torch.eye(16), atol=1e-4)  # orthogonal columns
    out = enc(None, adj)
    assert out.shape == (40, 16)
    out.sum().backward()
    assert enc.emb.weight.grad is not None
    assert enc(torch.arange(40), adj).shape == (40, 16)


def test_drop_adj_module():
    adj = random_graph(50, 400)
    torch.manual_seed(0)
    expected = DropAdj(0.5).train()(adj)
    torch.manual_seed(0)
    assert torch.equal(dense(expected), dense(drop_adj(adj, 0.5)))
    assert DropAdj(0.5).eval()(adj) is adj


def test_edge_dropout_fresh_mask_per_layer(monkeypatch):
    adj = random_graph()
    calls = []
    enc = MPNNEncoder(4, 4, num_layers=3, conv='puresum', edge_dropout=0.3)
    orig = enc.drop_adj.forward
    monkeypatch.setattr(enc.drop_adj, 'forward', lambda a: calls.append(1) or orig(a))
    enc(torch.randn(60, 4), adj)
    assert len(calls) == 3


def test_reset_parameters():
    enc = MPNNEncoder(6, 8, num_layers=2, conv='gcn', jk=True, num_embeddings=None)
    torch.manual_seed(1)
    enc.reset_parameters()
    a = [p.detach().clone() for p in enc.parameters()]
    torch.manual_seed(1)
    enc.reset_parameters()
    b = [p.detach().clone() for p in enc.parameters()]
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    torch.manual_seed(2)
    enc.reset_parameters()
    assert not torch.equal(enc.jk_weight, a[-1]) or not torch.equal(next(enc.parameters()), a[0])


def test_errors():
    with pytest.raises(ValueError, match="unknown 'conv'"):
        MPNNEncoder(4, 8, conv='gat')
    with pytest.raises(ValueError, match="'dropout' in"):
        MPNNEncoder(4, 8, dropout=1.0)
    with pytest.raises(ValueError, match="'out_channels' == 'hidden_channels'"):
        MPNNEncoder(4, 8, 2, conv='puregcn')
    with pytest.raises(ValueError, match="'in_channels'"):
        MPNNEncoder(None, 8)
    with pytest.raises(ValueError, match='needs node features'):
        MPNNEncoder(4, 8)(None, to_csr(EDGE_INDEX, 4))
    with pytest.raises(ValueError, match="'p' in"):
        DropAdj(1.5)
