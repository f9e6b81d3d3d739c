"""Train NCN on Cora inside a plain PyG / PyTorch loop, using graphkit's public API only.

    python examples/ncn_in_pyg_pipeline.py [--epochs 20] [--model ncn|ncnc]

The split is the NCN protocol (70/10/20, seeded); training uses target-link removal and one uniform negative
per positive, as the official recipe; evaluation is Hits@100 with OGB's tie rules.
"""

import argparse
import time

import torch
import torch.nn.functional as F
from torch_geometric.utils import negative_sampling

from graphkit.data import load_link_dataset
from graphkit.metrics import hits_at_k
from graphkit.models import NCN, NCNC
from graphkit.ops import remove_edges, to_csr

parser = argparse.ArgumentParser()
parser.add_argument('--epochs', type=int, default=20)
parser.add_argument('--model', choices=['ncn', 'ncnc'], default='ncn')
parser.add_argument('--seed', type=int, default=0)
args = parser.parse_args()
torch.manual_seed(args.seed)

ds = load_link_dataset('cora', seed=args.seed)  # PyG Data + OGB-style split dict
data, split = ds.data, ds.split_edge
train_pos = split['train']['edge'].t()  # (2, P): columns are pairs
adj = to_csr(train_pos, data.num_nodes)  # symmetric, binary torch sparse CSR

# The official Cora hyperparameters (see graphkit/configs/ncn/cora.yaml).
Model = NCN if args.model == 'ncn' else NCNC
extra = dict(scale=4.3, offset=2.8, pt=0.75, alpha=1.0) if args.model == 'ncnc' else {}
model = Model(
    data.num_features,
    256,
    conv='puregcn',
    jk=True,
    dropout=0.05,
    input_dropout=0.7,
    tail_dropout=0.3,
    predictor_dropout=0.05,
    predictor_edge_dropout=0.4,
    use_xlin=True,
    tailact=True,
    **extra,
)
optimizer = torch.optim.Adam(
    [
        {'params': model.encoder.parameters(), 'lr': 0.0043},
        {'params': model.predictor.parameters(), 'lr': 0.0024},
    ]
)


def train(batch_size=1152):
    model.train()
    full = torch.cat([train_pos, train_pos.flip(0)], dim=1)
    neg = negative_sampling(full, num_nodes=data.num_nodes, num_neg_samples=full.size(1))
    perm = torch.randperm(train_pos.size(1))
    total = 0.0
    for start in range(0, perm.numel() - batch_size + 1, batch_size):  # drop the last batch
        idx = perm[start : start + batch_size]
        pos = train_pos[:, idx]
        adj_b = remove_edges(adj, pos)  # target-link removal
        h = model.encode(data.x, adj_b)
        pos_out = model.predict(h, adj_b, pos)
        neg_out = model.predict(h, adj_b, neg[:, idx])
        loss = F.binary_cross_entropy_with_logits(
            pos_out, torch.ones_like(pos_out)
        ) + F.binary_cross_entropy_with_logits(neg_out, torch.zeros_like(neg_out))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += float(loss.detach())
    return total


@torch.no_grad()
def test(name):
    model.eval()
    h = model.encode(data.x, adj)
    pos = model.predict(h, adj, split[name]['edge'].t())
    neg = model.predict(h, adj, split[name]['edge_neg'].t())
    return float(hits_at_k(pos, neg, 100))


best_val, best_test = 0.0, 0.0
for epoch in range(1, args.epochs + 1):
    t = time.perf_counter()
    loss = train()
    val, tst = test('valid'), test('test')
    if val > best_val:
        best_val, best_test = val, tst
    print(
        f'Epoch: {epoch:03d}, Loss: {loss:.4f}, Val: {val:.4f}, Test: {tst:.4f}, Time: {time.perf_counter() - t:.2f}s'
    )
print(f'Test Hits@100 at best validation: {best_test:.4f}')
