import pytest
import torch

from graphkit.nn.gsm import HybridBlock, LocalEncoder, MoTRouter, SequenceAttention


def test_attention_ignores_padding_and_applies_the_bias():
    torch.manual_seed(0)
    attn = SequenceAttention(8, heads=2).eval()
    x = torch.randn(1, 5, 8)
    mask = torch.tensor([[True, True, True, False, False]])
    y = attn(x, mask)
    x2 = x.clone()
    x2[:, 3:] = 100.0
    assert torch.allclose(attn(x2, mask)[:, :3], y[:, :3], atol=1e-6)
    assert torch.allclose(attn(x[:, :3])[:, :3], y[:, :3], atol=1e-6)
    # a huge negative bias on every key but the first makes each token copy token 0's value
    bias = torch.full((1, 2, 5, 5), -1e9)
    bias[..., 0] = 0.0
    out = attn(x, bias=bias)
    assert torch.allclose(out, out[:, :1].expand_as(out), atol=1e-5)


def test_hybrid_block_zeroes_padding_and_counts_layers():
    block = HybridBlock(8, ssm_layers=2, attn_layers=1, heads=2, d_state=4).eval()
    x = torch.randn(2, 6, 8)
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[1, 4:] = False
    y = block(x, mask)
    assert y.shape == x.shape and (y[1, 4:] == 0).all()
    assert len(block.ssms) == 2 and len(block.attns) == 1 and len(block.norms) == 4
    assert str(block) == 'HybridBlock(8, ssm_layers=2, attn_layers=1)'
    with pytest.raises(ValueError, match='not both 0'):
        HybridBlock(8, ssm_layers=0, attn_layers=0)


def test_router_keeps_top_k_and_trains_through_the_gates():
    torch.manual_seed(0)
    router = MoTRouter(4, num_tokenizers=3, top_k=2)
    h = torch.randn(10, 4)
    gates, balance = router(h)
    assert ((gates > 0).sum(1) == 2).all() and torch.allclose(gates.sum(1), torch.ones(10))
    p = torch.softmax(router.lin(h), -1)
    for v in range(10):  # the kept ones are the two largest probabilities, renormalised
        top = p[v].topk(2).indices
        assert torch.allclose(gates[v, top], p[v, top] / p[v, top].sum())
    (gates[:, 0].sum() + balance).backward()
    assert router.lin.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='top_k'):
        MoTRouter(4, 2, top_k=3)


def test_local_encoder_shapes():
    enc = LocalEncoder(8, num_layers=2)
    ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    assert enc(torch.randn(3, 8), ei).shape == (3, 8)
    assert str(enc) == 'LocalEncoder(8, num_layers=2)'
