import pytest
import torch
from torch_geometric.data import Batch, Data

from graphkit.models import GSMPlusPlus, GSMPlusPlusNode
from graphkit.tokenize import tokenize_graphs
from tests.tokenize.test_hac import _random_graph

TOKENIZERS = ['hac-dfs', 'hac-bfs', 'khop', 'rw', 'node', 'mot']
SMALL = dict(hidden_channels=8, heads=2, d_state=4, local_layers=1, scan='parallel')


def _graphs(n=4, features=3):
    out = []
    for s in range(n):
        g = _random_graph(100 + s, n=6 + s, p=0.4, features=features)
        g.y = torch.tensor([s % 2])
        out.append(g)
    return out


def _model(tokenizer, level='graph', **kw):
    torch.manual_seed(0)
    return GSMPlusPlus(3, 2, level=level, tokenizer=tokenizer, **{**SMALL, **kw}).eval()


@pytest.mark.parametrize('tokenizer', TOKENIZERS)
@pytest.mark.parametrize('level', ['graph', 'node'])
def test_a_batch_gives_the_outputs_of_each_graph_alone(tokenizer, level):
    model = _model(tokenizer, level)
    graphs = tokenize_graphs(_graphs(), model.transform())
    batched = model(Batch.from_data_list(graphs))
    alone = torch.cat([model(Batch.from_data_list([g])) for g in graphs])
    assert batched.shape == ((4, 2) if level == 'graph' else (sum(g.num_nodes for g in graphs), 2))
    assert torch.allclose(batched, alone, atol=1e-5)


@pytest.mark.parametrize('tokenizer', ['hac-dfs', 'hac-bfs', 'khop', 'node', 'mot'])
def test_relabelling_the_nodes_leaves_graph_outputs_unchanged(tokenizer):
    # continuous features: no ties in scores or affinities, so orders and trees are relabelled, not changed
    model = _model(tokenizer)
    g = _graphs(1)[0]
    n = g.num_nodes
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(1))
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(n)
    moved = Data(x=g.x[perm], edge_index=inv[g.edge_index], y=g.y, num_nodes=n)
    a = model(Batch.from_data_list(tokenize_graphs([g], model.transform())))
    b = model(Batch.from_data_list(tokenize_graphs([moved], model.transform())))
    assert torch.allclose(a, b, atol=1e-5)


def test_mot_sets_a_balance_term_and_trains_the_router():
    model = _model('mot', mot_tokenizers='hac-dfs,khop,rw').train()
    batch = Batch.from_data_list(tokenize_graphs(_graphs(), model.transform()))
    out = model(batch)
    assert model.aux_loss.item() > 0
    (out.sum() + model.aux_loss).backward()
    assert model.router.lin.weight.grad.abs().sum() > 0


def test_hierarchical_pe_changes_the_dfs_model():
    graphs = _graphs()
    a, b = _model('hac-dfs', hier_pe=True), _model('hac-dfs', hier_pe=False)
    assert a.branches[0].lca_bias is not None and b.branches[0].lca_bias is None
    batch = Batch.from_data_list(tokenize_graphs(graphs, a.transform()))
    torch.nn.init.normal_(a.branches[0].lca_bias.weight, std=1.0)
    assert not torch.allclose(a(batch), b(batch))


def test_repr_and_bad_arguments():
    assert str(_model('hac-bfs')) == "GSMPlusPlus(3, 2, tokenizer='hac-bfs', level='graph')"
    with pytest.raises(ValueError, match="unknown 'tokenizer' 'metis'"):
        GSMPlusPlus(3, 2, tokenizer='metis')
    with pytest.raises(ValueError, match='mot_tokenizers'):
        GSMPlusPlus(3, 2, tokenizer='mot', mot_tokenizers='hac-dfs')
    with pytest.raises(ValueError, match="unknown 'features'"):
        GSMPlusPlus(3, 2, features='x+pagerank')
    with pytest.raises(ValueError, match="'bfs_levels' <= 'num_levels'"):
        GSMPlusPlus(3, 2, bfs_levels=5, num_levels=4)


def test_node_model_tokenises_once_per_graph():
    g = _random_graph(5, n=30, p=0.1)
    torch.manual_seed(0)
    model = GSMPlusPlusNode(3, 4, **SMALL)
    out = model(g.x, g.edge_index)
    first = model._tokenized[1]
    model(g.x, g.edge_index)
    assert out.shape == (30, 4) and model._tokenized[1] is first


def test_lca_bias_gradient_is_the_embedding_gradient():
    from graphkit.models.gsm import _CategoryBias

    c = torch.randint(0, 5, (2, 4, 4))
    w = torch.randn(5, 3, dtype=torch.double, requires_grad=True)
    assert torch.equal(_CategoryBias.apply(c, w), w[c].permute(0, 3, 1, 2))
    assert torch.autograd.gradcheck(lambda w: _CategoryBias.apply(c, w), (w,))
