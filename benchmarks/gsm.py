r"""GSM++ speed, side by side in one run (CPU):

1. HAC tokenisation (:class:`graphkit.tokenize.HACTokenizer`'s kernel :func:`graphkit.tokenize.hac`) on random
   graphs of 1k to 1M edges, with the exponent of a fit ``time ~ (m log2 n)^a``, against a straightforward
   Python-loop Borůvka (:func:`graphkit.tokenize.hac_reference`, the same clustering) where the loop runs;
2. the parallel (Hillis-Steele) selective scan against the per-step loop, sequence lengths 64 to 4096, forward
   and backward;
3. one training step of the GSM++ hybrid encoder (gated GCN + SSM -> attention block) against PyG's
   :class:`~torch_geometric.nn.conv.GPSConv` model (gated GCN + attention in parallel) of the same width and depth.

.. code-block:: bash

    flock /tmp/gk-heavy.lock python benchmarks/gsm.py --threads 1

Prints Markdown tables (for ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Callable, List

import torch


def _best(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float('inf')
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_hac(sizes: List[int], loop_max: int) -> None:
    import networkx  # noqa: F401  (imported before timing: the loop's first call must not pay for it)

    from graphkit.tokenize import edge_affinity, hac, hac_reference, node_scores

    print('\n### HAC tokenisation (random graphs, n = m / 4 nodes, 8 random features, cosine affinity)\n')
    print('| edges m | nodes n | rounds | vectorised (s) | Python loop (s) | loop / vectorised |')
    print('|---:|---:|---:|---:|---:|---:|')
    xs, ys = [], []
    for m in sizes:
        n = max(m // 4, 2)
        g = torch.Generator().manual_seed(0)
        ei = torch.randint(0, n, (2, m), generator=g)
        x = torch.randn(n, 8, generator=g)
        feat = x.double()
        w = edge_affinity(feat, ei[0], ei[1])
        score = node_scores(feat)
        res = hac(ei, n, w, score)
        t = _best(lambda: hac(ei, n, w, score), 3 if m <= 100_000 else 1)
        xs.append(math.log(m * math.log2(n)))
        ys.append(math.log(t))
        loop = '-'
        ratio = '-'
        if m <= loop_max:
            tl = _best(lambda: hac_reference(ei.t().tolist(), n, w.tolist(), score.tolist()), 1)
            loop, ratio = f'{tl:.3f}', f'{tl / t:.0f}x'
        print(f'| {m:,} | {n:,} | {res.num_levels} | {t:.4f} | {loop} | {ratio} |')
    xm, ym = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((a - xm) * (b - ym) for a, b in zip(xs, ys)) / sum((a - xm) ** 2 for a in xs)
    print(f'\nFitted exponent a in time ~ (m log2 n)^a over these sizes: **{slope:.2f}**')


def bench_scan(lengths: List[int]) -> None:
    from graphkit.nn.ssm import selective_scan

    print('\n### Selective scan: parallel vs per-step loop (batch 4, 32 channels, state 8, forward + backward)\n')
    print('| length L | parallel (ms) | per-step loop (ms) | loop / parallel | max abs diff |')
    print('|---:|---:|---:|---:|---:|')
    for L in lengths:
        g = torch.Generator().manual_seed(0)
        u = torch.randn(4, L, 32, generator=g, requires_grad=True)
        delta = torch.rand(4, L, 32, generator=g) * 0.1
        A = -torch.rand(32, 8, generator=g)
        B, C = torch.randn(4, L, 8, generator=g), torch.randn(4, L, 8, generator=g)

        def run(scan: str) -> torch.Tensor:
            y = selective_scan(u, delta, A, B, C, scan=scan)
            y.sum().backward()
            return y.detach()

        diff = float((run('parallel') - run('sequential')).abs().max())
        tp = _best(lambda: run('parallel'))
        ts = _best(lambda: run('sequential'), 1 if L >= 2048 else 3)
        print(f'| {L:,} | {1e3 * tp:.1f} | {1e3 * ts:.1f} | {ts / tp:.1f}x | {diff:.1e} |')


def bench_step(graphs: int, nodes: int, width: int, layers: int) -> None:
    from torch_geometric.data import Batch, Data
    from torch_geometric.nn import GPSConv, ResGatedGraphConv, global_mean_pool

    from graphkit.models import GSMPlusPlus
    from graphkit.tokenize import tokenize_graphs

    g = torch.Generator().manual_seed(0)
    data = []
    for _ in range(graphs):
        ei = torch.randint(0, nodes, (2, 3 * nodes), generator=g)
        ei = torch.cat([ei, ei.flip(0)], 1)
        data.append(Data(x=torch.randn(nodes, 16, generator=g), edge_index=ei, y=torch.randint(0, 2, (1,))))

    class GPS(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(16, width)
            self.convs = torch.nn.ModuleList(
                [GPSConv(width, ResGatedGraphConv(width, width), heads=4, norm='layer_norm') for _ in range(layers)]
            )
            self.head = torch.nn.Linear(width, 2)

        def forward(self, b: Batch) -> torch.Tensor:
            h = self.lin(b.x)
            for conv in self.convs:
                h = conv(h, b.edge_index, b.batch)
            return self.head(global_mean_pool(h, b.batch))

    print(f'\n### One training step: {graphs} graphs x {nodes} nodes, width {width}, {layers} layer(s) / block(s)\n')
    print('| model | parameters | ms / step (forward + backward + Adam) |')
    print('|---|---:|---:|')
    rows = []
    for tok in ('hac-dfs', 'hac-bfs'):
        torch.manual_seed(0)
        model = GSMPlusPlus(16, 2, tokenizer=tok, hidden_channels=width, local_layers=1, num_blocks=layers)
        batch = Batch.from_data_list(tokenize_graphs(data, model.transform()))
        rows.append((f'GSM++ ({tok}: GatedGCN, then SSM -> attention)', model, batch))
    torch.manual_seed(0)
    rows.append(('PyG GPSConv (GatedGCN + attention in parallel)', GPS(), Batch.from_data_list(data)))
    for name, model, batch in rows:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step() -> None:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(batch), batch.y).backward()
            opt.step()

        step()
        t = _best(step, 5)
        print(f'| {name} | {sum(p.numel() for p in model.parameters()):,} | {1e3 * t:.1f} |')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--max-edges', type=int, default=1_000_000)
    parser.add_argument('--loop-max-edges', type=int, default=10_000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f'torch {torch.__version__}, {args.threads} thread(s)')
    sizes = [m for m in (1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000) if m <= args.max_edges]
    bench_hac(sizes, args.loop_max_edges)
    bench_scan([64, 256, 1024, 4096])
    bench_step(graphs=32, nodes=50, width=64, layers=1)


if __name__ == '__main__':
    main()
