r"""Cost curves of the link-prediction path on seeded power-law graphs, 10^4 nodes upwards.

    python benchmarks/scaling.py                       # 1e4 .. 3e5 nodes (a few minutes)
    python benchmarks/scaling.py --max-nodes 3e6       # up to ogbl-citation2 size (3e6 nodes, 3e7 edges)
    python benchmarks/scaling.py --sizes 1e4 1e5 --degree 10 --threads 2

Graphs come from a vectorised Chung-Lu generator (:func:`chung_lu`): expected degrees follow a power law
:math:`w_i \propto (i + i_0)^{-1/(\gamma - 1)}`, and the :math:`m` edges are drawn at once, both endpoints
i.i.d. with probability :math:`w / \sum w` (``torch.searchsorted`` on the cumulative weights), from one
:class:`torch.Generator`; self-loops are dropped and duplicates merged by :func:`graphkit.ops.to_csr`. PyG's
``barabasi_albert_graph`` is a Python loop and cannot reach these sizes.

Every size runs in its own process (so peak memory is its own, ``ru_maxrss``) and measures:

* ``build``: the canonical CSR adjacency (``ops.to_csr``, symmetrised, sorted, deduplicated);
* ``cn``: ``ops.cn_sum`` for a fixed batch of random pairs (``--pairs``, F = 64), backend chosen automatically;
* ``step``: one NCN training step as the link task runs it (target-link removal of a batch of positives by
  ``ops.remove_positions``, encode, predict positives + as many random negatives, BCE, backward, Adam);
* ``eval``: one evaluation chunk (encode, then ``predict`` on ``--pairs`` pairs without gradients);
* ``peak``: the growth of the process's peak RSS over its size after the imports.

The exponent of each column is the slope of a least-squares fit of :math:`\log t` on :math:`\log N` over the
sizes that ran (times are medians of ``--repeats``). The largest feasible size is the largest that ran, and the
peak-memory fit extrapolated to the machine's memory.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time


def chung_lu(num_nodes: int, num_edges: int, gamma: float = 2.5, seed: int = 0):
    r"""A seeded Chung-Lu graph: :obj:`num_edges` endpoint pairs of shape :obj:`(2, m)`, both endpoints drawn
    i.i.d. from the power-law expected-degree weights :math:`w_i \propto (i + 10)^{-1/(\gamma - 1)}`."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    w = (torch.arange(num_nodes, dtype=torch.float64) + 10.0).pow(-1.0 / (gamma - 1.0))
    cdf = torch.cumsum(w, 0)
    cdf /= cdf[-1].clone()
    u = torch.rand(2, num_edges, generator=gen, dtype=torch.float64)
    ends = torch.searchsorted(cdf, u).clamp_(max=num_nodes - 1)
    perm = torch.randperm(num_nodes, generator=gen)  # node ids not ordered by degree
    return perm[ends]


def _median(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def one_size(num_nodes: int, degree: float, pairs: int, batch: int, repeats: int, threads: int) -> dict:
    import torch
    import torch.nn.functional as F

    from graphkit.models import NCN
    from graphkit.ops import cn_backend_counts, cn_sum, edge_positions, remove_positions, to_csr

    torch.set_num_threads(threads)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # after the imports
    num_edges = int(num_nodes * degree / 2)
    t = time.perf_counter()
    ei = chung_lu(num_nodes, num_edges)
    gen_s = time.perf_counter() - t
    build = _median(lambda: to_csr(ei, num_nodes), max(1, repeats // 2))
    adj = to_csr(ei, num_nodes)
    nnz = adj.col_indices().numel()
    # The training positives: the canonical upper-triangle edges (as an OGB split stores them).
    row = torch.repeat_interleave(torch.arange(num_nodes), adj.crow_indices().diff())
    upper = row < adj.col_indices()
    train_pos = torch.stack([row[upper], adj.col_indices()[upper]])
    del row, upper

    gen = torch.Generator().manual_seed(1)
    q = torch.randint(0, num_nodes, (2, pairs), generator=gen)
    x = torch.randn(num_nodes, 64, generator=gen)
    before = cn_backend_counts()
    cn = _median(lambda: cn_sum(adj, q, x), repeats)
    backend = [k for k, v in cn_backend_counts().items() if v > before[k]]

    torch.manual_seed(0)
    feats = torch.randn(num_nodes, 32, generator=gen)
    model = NCN(32, 64, conv='puregcn', use_xlin=True, tailact=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    positions = edge_positions(adj, train_pos)

    def step():
        model.train()
        idx = torch.randint(0, train_pos.size(1), (batch,), generator=gen)
        pos = train_pos[:, idx]
        neg = torch.randint(0, num_nodes, (2, batch), generator=gen)
        a = remove_positions(adj, positions[:, idx])
        opt.zero_grad()
        out = model.predict(model.encode(feats, a), a, torch.cat([pos, neg], 1))
        loss = -F.logsigmoid(out[:batch]).mean() - F.logsigmoid(-out[batch:]).mean()
        loss.backward()
        opt.step()

    @torch.no_grad()
    def evaluate():
        model.eval()
        model.predict(model.encode(feats, adj), adj, q)

    res = {
        'nodes': num_nodes,
        'edges': nnz // 2,
        'generate_s': gen_s,
        'build_s': build,
        'cn_s': cn,
        'cn_backend': backend,
        'step_s': _median(step, repeats),
        'eval_s': _median(evaluate, repeats),
    }
    res['peak_mib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    return res


def fit(xs, ys):
    """Slope and intercept of log y on log x (least squares)."""
    lx, ly = [math.log(v) for v in xs], [math.log(max(v, 1e-9)) for v in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    sxx = sum((a - mx) ** 2 for a in lx)
    if sxx == 0:
        return float('nan'), float('nan')
    slope = sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sxx
    return slope, my - slope * mx


def _mem_total_mib() -> float:
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('MemTotal'):
                return int(line.split()[1]) / 1024
    return float('nan')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', nargs='+', type=float, default=None, help='node counts (default 1e4 .. max)')
    parser.add_argument('--max-nodes', type=float, default=3e5, help='largest default size (3e6: citation2 scale)')
    parser.add_argument('--degree', type=float, default=20.0, help='mean degree (edges = N * degree / 2)')
    parser.add_argument('--pairs', type=int, default=65536, help='pairs of the CN operator and eval chunk')
    parser.add_argument('--batch', type=int, default=8192, help='positives of a training step')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--one', type=float, default=None, help=argparse.SUPPRESS)  # child process: one size
    args = parser.parse_args(argv)
    if args.one is not None:
        res = one_size(int(args.one), args.degree, args.pairs, args.batch, args.repeats, args.threads)
        print(json.dumps(res))
        return
    sizes = args.sizes or [s for s in (1e4, 3e4, 1e5, 3e5, 1e6, 3e6) if s <= args.max_nodes]
    cols = ('build_s', 'cn_s', 'step_s', 'eval_s', 'peak_mib')
    print(f'degree {args.degree}, pairs {args.pairs}, batch {args.batch}, threads {args.threads}')
    print('| nodes | edges | build s | CN s | NCN step s | eval chunk s | peak MiB | CN backend |')
    print('|---:|---:|---:|---:|---:|---:|---:|---|')
    rows = []
    for n in sizes:
        cmd = [sys.executable, os.path.abspath(__file__), '--one', str(int(n))]
        cmd += ['--degree', str(args.degree), '--pairs', str(args.pairs), '--batch', str(args.batch)]
        cmd += ['--repeats', str(args.repeats), '--threads', str(args.threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or '').strip().splitlines()[-1:] or [f'exit {proc.returncode}']
            print(f'| {int(n):,} | failed: {tail[0][:120]} (exit {proc.returncode}) |')
            break
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(r)
        print(
            f'| {r["nodes"]:,} | {r["edges"]:,} | {r["build_s"]:.3f} | {r["cn_s"]:.3f} | {r["step_s"]:.3f} | '
            f'{r["eval_s"]:.3f} | {r["peak_mib"]:.0f} | {", ".join(r["cn_backend"])} |',
            flush=True,
        )
    if len(rows) >= 2:
        xs = [r['nodes'] for r in rows]
        print('\nfitted exponent (t ~ N^a):', ', '.join(f'{c} {fit(xs, [r[c] for r in rows])[0]:.2f}' for c in cols))
        slope, icpt = fit(xs, [max(r['peak_mib'], 1.0) for r in rows])
        total = _mem_total_mib()
        limit = math.exp((math.log(total) - icpt) / slope) if slope > 0 else float('inf')
        print(
            f"largest size run: {rows[-1]['nodes']:,} nodes; the peak-memory fit reaches the machine's "
            f'{total:.0f} MiB at ~{limit:.2g} nodes'
        )


if __name__ == '__main__':
    main()
