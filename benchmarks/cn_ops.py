"""Time and peak memory of graphkit.ops common-neighbour ops vs a torch.sparse baseline.

    python benchmarks/cn_ops.py [--batch 8192] [--repeat 5] [--device cpu]

Graph: ogbl-ddi (4267 nodes, ~1.07M undirected edges) from
../shared/data/ogbl_ddi/raw/edge.csv.gz when present, else a random graph of the
same size. Baseline: row-gather A[i] and A[j] as sparse COO (index_select),
multiply element-wise, then sum rows (count) or multiply by x (sum).
Each method runs in a fresh subprocess so that peak memory (max RSS on CPU,
max_memory_allocated on CUDA) is its own; prints a markdown table.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

DATA = os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'data', 'ogbl_ddi', 'raw', 'edge.csv.gz')
METHODS = ['graphkit.cn_count', 'baseline.cn_count', 'graphkit.cn_sum', 'baseline.cn_sum']


def load_graph(torch):
    if os.path.exists(DATA):
        import pandas as pd

        df = pd.read_csv(DATA, header=None, compression='gzip')
        ei = torch.from_numpy(df.to_numpy().T.copy()).long()
        return ei, 4267, 'ogbl-ddi'
    gen = torch.Generator().manual_seed(0)
    return torch.randint(0, 4267, (2, 1_067_911), generator=gen), 4267, 'random'


def run_one(method, batch, repeat, device, channels, cache):
    import torch

    from graphkit.ops import cn_count, cn_sum, to_csr

    ei, n, source = torch.load(cache, weights_only=True)
    adj = to_csr(ei, n).to(device)
    gen = torch.Generator().manual_seed(1)
    pairs = torch.randint(0, n, (2, batch), generator=gen).to(device)
    x = torch.randn(n, channels, generator=gen).to(device)
    coo = adj.to_sparse_coo()

    def baseline(with_x):
        s = coo.index_select(0, pairs[0]) * coo.index_select(0, pairs[1])
        if with_x:
            return torch.sparse.mm(s, x)
        return torch.sparse.sum(s, dim=1).to_dense()

    fn = {
        'graphkit.cn_count': lambda: cn_count(adj, pairs),
        'baseline.cn_count': lambda: baseline(False),
        'graphkit.cn_sum': lambda: cn_sum(adj, pairs, x),
        'baseline.cn_sum': lambda: baseline(True),
    }[method]
    cuda = device.startswith('cuda')
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated() if cuda else 0
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    if cuda:
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:  # growth of max RSS over the state before the first call (KiB)
        peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0, 0) / 1024
    print(
        json.dumps(
            {
                'method': method,
                'ms': 1e3 * min(times),
                'peak_mib': peak,
                'source': source,
                'checksum': float(out.double().sum()),
            }
        )
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--batch', type=int, default=8192)
    p.add_argument('--repeat', type=int, default=5)
    p.add_argument('--channels', type=int, default=64)
    p.add_argument('--device', default='cpu')
    p.add_argument('--method', help=argparse.SUPPRESS)
    p.add_argument('--cache', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.method:
        return run_one(args.method, args.batch, args.repeat, args.device, args.channels, args.cache)
    import torch

    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = os.path.join(tmp, 'graph.pt')
        torch.save(load_graph(torch), cache)
        for m in METHODS:
            cmd = [
                sys.executable,
                __file__,
                '--method',
                m,
                '--batch',
                str(args.batch),
                '--repeat',
                str(args.repeat),
                '--device',
                args.device,
                '--channels',
                str(args.channels),
                '--cache',
                cache,
            ]
            out = subprocess.check_output(cmd).decode().strip().splitlines()[-1]
            res[m] = json.loads(out)
    src = res[METHODS[0]]['source']
    mem = 'max_memory_allocated' if args.device != 'cpu' else 'max-RSS growth'
    print(
        f'\nGraph: {src}, batch={args.batch}, F={args.channels}, '
        f'device={args.device}, best of {args.repeat}; memory = {mem}\n'
    )
    print('| op | graphkit ms | baseline ms | speed-up | graphkit MiB | baseline MiB | same result |')
    print('|---|---:|---:|---:|---:|---:|:---:|')
    for op in ('cn_count', 'cn_sum'):
        g, b = res[f'graphkit.{op}'], res[f'baseline.{op}']
        same = abs(g['checksum'] - b['checksum']) <= 1e-3 * max(1.0, abs(b['checksum']))
        print(
            f'| {op} | {g["ms"]:.1f} | {b["ms"]:.1f} | {b["ms"] / g["ms"]:.2f}x | '
            f'{g["peak_mib"]:.0f} | {b["peak_mib"]:.0f} | {"yes" if same else "NO"} |'
        )


if __name__ == '__main__':
    main()
