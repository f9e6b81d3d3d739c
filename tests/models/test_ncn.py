from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml
from torch_geometric.data import Data

from graphkit.configs import CONFIG_DIR, load_config
from graphkit.models import MODELS, NCN, NCNC
from graphkit.ops import remove_edges, to_csr

PRESETS = ['cora', 'citeseer', 'pubmed', 'ogbl-collab', 'ogbl-ppa', 'ogbl-citation2', 'ogbl-ddi']


def tiny_graph(n=40, e=120, f=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, n, (2, e), generator=g)
    x = (torch.rand(n, f, generator=g) < 0.3).float()
    return x, to_csr(edge_index, n), edge_index


def test_registry():
    assert MODELS.get('ncn') is NCN
    assert MODELS.get('NCNC') is NCNC
    assert NCN.trainable and NCNC.trainable


def test_repr():
    assert str(NCN(1433, 256)) == "NCN(1433, 256, conv='puregcn', num_layers=1, predictor='cn1')"
    assert str(NCNC(1433, 256, depth=2)) == ("NCNC(1433, 256, conv='puregcn', num_layers=1, depth=2)")
    assert str(NCN(None, 224, conv='puresum', num_embeddings=4267)) == (
        "NCN(4267, 224, conv='puresum', num_layers=1, predictor='cn1', embedding='node')"
    )


@pytest.mark.parametrize('cls', [NCN, NCNC])
@pytest.mark.parametrize('sparse_features', ['auto', False])
def test_shapes_and_api(cls, sparse_features):
    x, adj, _ = tiny_graph()
    pairs = torch.randint(0, 40, (2, 25))
    model = cls(12, 16, use_xlin=True, sparse_features=sparse_features)
    assert isinstance(model.encoder, torch.nn.Module)
    assert isinstance(model.predictor, torch.nn.Module)
    h = model.encode(x, adj)
    assert h.shape == (40, 16)
    assert model.predict(h, adj, pairs).shape == (25,)
    assert model(x, adj, pairs).shape == (25,)
    model.eval()
    prob = model.predict_link(x, adj, pairs, prob=True)
    assert ((prob > 0) & (prob < 1)).all()
    assert torch.allclose(model.predict_link(x, adj, pairs).sigmoid(), prob)


def test_sparse_features_equal_dense_in_eval():
    x, adj, _ = tiny_graph()
    pairs = torch.randint(0, 40, (2, 25))
    torch.manual_seed(0)
    a = NCN(12, 16, sparse_features=True, input_dropout=0.5).eval()
    b = NCN(12, 16, sparse_features=False, input_dropout=0.5).eval()
    b.load_state_dict(a.state_dict())
    assert torch.allclose(a(x, adj, pairs), b(x, adj, pairs), atol=1e-5)
    # The embedding-bag input stage (on a contiguous copy of the weight) has the dense stage's gradient.
    for m in (a, b):
        m(x, adj, pairs).square().sum().backward()
    torch.testing.assert_close(a.encoder.input[1].weight.grad, b.encoder.input[1].weight.grad, atol=1e-4, rtol=1e-4)
    a.train()
    a.zero_grad()
    a(x, adj, pairs).sum().backward()
    assert a.encoder.input[1].weight.grad.abs().sum() > 0


def test_featureless_embedding():
    _, adj, _ = tiny_graph()
    model = NCN.from_config({'hidden_channels': 16, 'conv': 'puresum'}, Data(num_nodes=40))
    assert model.embedding == 'node' and model.encoder.emb.weight.shape == (40, 16)
    out = model(None, adj, torch.tensor([[0, 1], [2, 3]]))
    out.sum().backward()
    assert model.encoder.emb.weight.grad is not None


def test_argmax_embedding():
    _, adj, _ = tiny_graph()
    x = F.one_hot(torch.randint(0, 5, (40,)), 5).float()
    model = NCN.from_config({'hidden_channels': 8, 'embedding': 'argmax', 'conv': 'gcn'}, Data(x=x, num_nodes=40))
    assert model.encoder.emb.weight.shape == (5, 8)
    assert model(x, adj, torch.tensor([[0], [1]])).shape == (1,)


def test_reset_parameters():
    model = NCNC(12, 16, use_xlin=True, jk=True)
    torch.manual_seed(3)
    model.reset_parameters()
    first = [p.clone() for p in model.parameters()]
    torch.manual_seed(3)
    model.reset_parameters()
    assert all(torch.equal(a, b) for a, b in zip(first, model.parameters()))


@pytest.mark.parametrize('name', ['ncn', 'ncnc'])
def test_default_config_has_every_model_key(name):
    cfg = yaml.safe_load((CONFIG_DIR / name / 'default.yaml').read_text())['model']
    cls = MODELS.get(name)
    x, _, _ = tiny_graph()
    model = cls.from_config(cfg, Data(x=x, num_nodes=40))
    assert set(cfg) == cls.config_keys()
    assert isinstance(model, cls)
    text = (CONFIG_DIR / name / 'default.yaml').read_text()
    model_section = text.split('model:\n')[1].split('\ntrain:')[0]
    for line in model_section.splitlines():  # every model key carries a '# (type) meaning' comment
        assert '# (' in line, line


@pytest.mark.parametrize('name', ['ncn', 'ncnc'])
@pytest.mark.parametrize('dataset', PRESETS)
def test_presets_resolve_and_build(name, dataset):
    assert (CONFIG_DIR / name / f'{dataset}.yaml').exists()
    cfg = load_config(name, dataset)
    text = (CONFIG_DIR / name / f'{dataset}.yaml').read_text()
    assert 'NeuralCommonNeighbor README' in text
    n = 30
    if dataset == 'ogbl-ddi':
        data = Data(num_nodes=n)
    elif dataset == 'ogbl-ppa':
        data = Data(x=F.one_hot(torch.randint(0, 58, (n,)), 58).float(), num_nodes=n)
    else:
        data = Data(x=torch.rand(n, 7), num_nodes=n)
    model = MODELS.get(name).from_config(cfg['model'], data)
    _, adj, _ = tiny_graph(n=n)
    model.eval()
    assert model(data.x, adj, torch.tensor([[0, 1], [2, 3]])).shape == (2,)


def test_cora_preset_values():
    cfg = load_config('ncnc', 'cora')
    m, t = cfg['model'], cfg['train']
    assert (m['conv'], m['num_layers'], m['hidden_channels']) == ('puregcn', 1, 256)
    assert (m['input_dropout'], m['tail_dropout'], m['dropout'], m['predictor_dropout']) == (0.7, 0.3, 0.05, 0.05)
    assert (m['predictor_edge_dropout'], m['jk'], m['use_xlin'], m['tailact']) == (0.4, True, True, True)
    assert (m['scale'], m['offset'], m['pt'], m['alpha']) == (4.3, 2.8, 0.75, 1.0)
    assert (t['encoder_lr'], t['predictor_lr'], t['batch_size'], t['eval_batch_size']) == (0.0043, 0.0024, 1152, 8192)
    assert t['target_link_removal'] is True
    ddi = load_config('ncnc', 'ogbl-ddi')
    assert ddi['train']['encoder_lr'] == 0.0 and ddi['model']['split_size'] == 262144
    assert load_config('ncn', 'ogbl-collab')['data']['use_valedges_as_input'] is True
    assert load_config('ncn', 'ogbl-citation2')['train']['grad_clip'] == 1.0


def test_from_config_errors():
    x, _, _ = tiny_graph()
    with pytest.raises(ValueError, match='unknown model keys'):
        NCN.from_config({'hidden_channels': 8, 'hiddim': 3}, Data(x=x, num_nodes=40))
    with pytest.raises(ValueError, match='needs node features'):
        NCN.from_config({'hidden_channels': 8, 'embedding': 'none'}, Data(num_nodes=40))
    with pytest.raises(ValueError, match="unknown 'embedding'"):
        NCN(4, 8, embedding='table')
    with pytest.raises(ValueError, match="needs 'num_embeddings'"):
        NCN(4, 8, embedding='node')


def test_warm_start_from_ncn():
    x, adj, _ = tiny_graph()
    ncn = NCN(12, 16, use_xlin=True)
    ncnc = NCNC(12, 16, use_xlin=True)
    keys = ncnc.load_ncn_state(ncn)
    # Only NCNC's fixed calibration buffers are not in an NCN state (they keep NCNC's values).
    assert sorted(keys['missing_keys']) == ['predictor.alpha', 'predictor.offset', 'predictor.pt', 'predictor.scale']
    assert keys['unexpected_keys'] == []
    ncn.eval(), ncnc.eval()
    assert torch.allclose(ncn.encode(x, adj), ncnc.encode(x, adj))
    ncnc.predictor.alpha.fill_(0.0)  # no completion: NCNC = NCN
    pairs = torch.randint(0, 40, (2, 10))
    assert torch.allclose(ncn(x, adj, pairs), ncnc(x, adj, pairs), atol=1e-5)


@pytest.mark.parametrize('cls', [NCN, NCNC])
def test_training_decreases_loss(cls):
    torch.manual_seed(0)
    x, adj, edge_index = tiny_graph(n=30, e=90)
    pos = adj.to_sparse_coo().indices()
    pos = pos[:, pos[0] < pos[1]]
    model = cls(12, 16, use_xlin=True)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    neg = torch.randint(0, 30, pos.shape)
    losses = []
    for _ in range(15):
        a = remove_edges(adj, pos[:, :20])  # target-link removal of the batch
        h = model.encode(x, a)
        lp, ln = model.predict(h, a, pos[:, :20]), model.predict(h, a, neg[:, :20])
        loss = F.binary_cross_entropy_with_logits(lp, torch.ones_like(lp)) + F.binary_cross_entropy_with_logits(
            ln, torch.zeros_like(ln)
        )
        assert torch.isfinite(loss) and loss > 0
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]


def test_package_exports():
    import graphkit.models
    import graphkit.nn

    assert {'NCN', 'NCNC'} <= set(graphkit.models.__all__)
    assert {'MPNNEncoder', 'NCNPredictor', 'NCNCPredictor'} <= set(graphkit.nn.__all__)
    assert Path(CONFIG_DIR / 'ncn' / 'default.yaml').exists()


def test_keywords_reach_their_component():
    model = NCNC(
        12,
        16,
        dropout=0.1,
        predictor_dropout=0.2,
        edge_dropout=0.3,
        predictor_edge_dropout=0.4,
        layer_norm=False,
        predictor_layer_norm=False,
        use_xlin=True,
        num_layers=2,
        jk=True,
        depth=2,
        pt=0.3,
        split_size=5,
    )
    enc, pred = model.encoder, model.predictor
    assert (enc.dropout, enc.edge_dropout, enc.layer_norm, enc.num_layers, enc.jk) == (0.1, 0.3, False, 2, True)
    assert (pred.dropout, pred.edge_dropout, pred.layer_norm, pred.use_xlin) == (0.2, 0.4, False, True)
    assert (pred.depth, float(pred.pt), pred.split_size, model.depth) == (2, pytest.approx(0.3), 5, 2)
    defaults = NCN(12, 16)
    assert defaults.encoder.conv == 'puregcn' and defaults.encoder.layer_norm and defaults.predictor.layer_norm
    with pytest.raises(TypeError, match="unexpected keyword argument 'depth'"):
        NCN(12, 16, depth=2)  # a completion argument: NCNC only
    with pytest.raises(TypeError, match="unexpected keyword argument 'variant'"):
        NCN(12, 16, variant='cn0')  # the model's name for it is 'predictor'
    with pytest.raises(TypeError, match="unexpected keyword argument 'predictor_use_xlin'"):
        NCN(12, 16, predictor_use_xlin=True)  # the prefix only where the encoder has the same name
    with pytest.raises(ValueError, match="no 'predictor' choice"):
        NCNC(12, 16, predictor='cn0')
