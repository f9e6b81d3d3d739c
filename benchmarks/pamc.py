"""Time and peak memory of the PamC loss against the dense pairwise loss it approximates, forward + backward.

    python benchmarks/pamc.py [--sizes 2000 10000 50000 100000] [--threads 1] [--max-gib 6] [--json out.json]

Graphs: a seeded sparse stochastic block model (`sbm_edges`: K blocks of equal size, a mean degree of
`--degree`, a share `--p-in` of the edges inside blocks), drawn edge by edge in O(edges) memory; PyG's
StochasticBlockModelDataset draws a Bernoulli for every node pair and cannot reach 100k nodes.

Inputs of both losses: Gamma = A_hat + A_hat^2 (R = 2, `graphkit.ops.adjacency_power_sum`), embeddings z ~ N(0, 1)
of width 16 with requires_grad, soft assignments Q (a softmax of Gaussian logits, K = number of blocks), tau = 1.
PamC: `graphkit.losses.PamCLoss` (hard meta-nodes from argmax Q); dense: `PairwiseContrastiveLoss`, the same
positive term plus the all-pairs negative term over the N x N similarity matrix (SCGC*'s loss; its official code
also holds Gamma as a dense N x N matrix, which is not counted here).

Each (loss, N) runs in a fresh subprocess: one warm-up call, then the median of `--repeat` timed calls of
forward + backward; memory = growth of the peak RSS over the state after the inputs were loaded. Before starting
the dense loss the script estimates its peak (`DENSE_BYTES_PER_PAIR` x N^2 bytes) and skips it when that exceeds
`--max-gib` or half the memory available, saying so. Ratios and the exponents of time ~ N^a and memory ~ N^b
(least squares on log-log, over the sizes measured) are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time

#: Bytes per node pair the dense loss allocates at its peak (forward + backward), for the estimate before running
#: it: the similarity matrix and its masked, scaled copy, the exponentials of the log-sum-exp and the gradients of
#: the backward, float32: 20.8 measured at N = 5k, 10k and 15k (the table prints the measured bytes / N^2).
DENSE_BYTES_PER_PAIR = 21


def sbm_edges(num_nodes: int, num_blocks: int = 10, degree: float = 5.0, p_in: float = 0.8, seed: int = 0):
    """Directed edge list [2, E] of a sparse SBM: E = N * degree / 2 pairs (each read as undirected), a share p_in
    with both ends in one block (blocks are contiguous id ranges), the rest between blocks. Memory O(E)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    size = -(-num_nodes // num_blocks)  # ceil: the last block may be smaller
    block = torch.arange(num_nodes) // size
    start = block * size
    block_size = torch.clamp(num_nodes - start, max=size)
    m = int(num_nodes * degree / 2)
    src = torch.randint(0, num_nodes, (m,), generator=gen)
    inside = torch.rand(m, generator=gen) < p_in
    u = torch.rand(m, generator=gen)
    b_size, b_start = block_size[src], start[src]
    dst_in = b_start + (u * b_size).long().clamp(max=b_size - 1)
    # between blocks: uniform over the N - |block| other nodes, skipping the source's block
    other = (u * (num_nodes - b_size)).long().clamp(max=num_nodes - b_size - 1)
    dst_out = other + b_size * (other >= b_start)
    dst = torch.where(inside, dst_in, dst_out)
    return torch.stack([src, dst]), block


def _rss_now_kib() -> int:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') // 1024


def _available_bytes() -> int:
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('MemAvailable:'):
                return int(line.split()[1]) * 1024
    return 0


def run_one(method: str, cache: str, repeat: int, threads: int, dim: int, tau: float) -> dict:
    import torch

    from graphkit.losses import PairwiseContrastiveLoss, PamCLoss

    torch.set_num_threads(threads)
    inputs = torch.load(cache, weights_only=True)
    pos_index, pos_weight, n, k = inputs['pos_index'], inputs['pos_weight'], inputs['num_nodes'], inputs['k']
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(n, dim, generator=gen).requires_grad_()
    q = torch.softmax(torch.randn(n, k, generator=gen), dim=1)
    if method == 'pamc':
        loss_fn = PamCLoss(tau=tau, num_clusters=k)

        def step():
            pos, neg = loss_fn(z, q, pos_index, pos_weight)
            (pos + neg).backward()
            return pos + neg
    else:
        loss_fn = PairwiseContrastiveLoss(tau=tau)

        def step():
            pos, neg = loss_fn(z, pos_index, pos_weight)
            (pos + neg).backward()
            return pos + neg

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss0 = max(rss0, _rss_now_kib())
    out = step()  # warm-up
    z.grad = None
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = step()
        times.append(time.perf_counter() - t)
        z.grad = None
    times.sort()
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0, 0) * 1024
    return {'method': method, 'num_nodes': n, 'seconds': times[len(times) // 2], 'peak_bytes': peak, 'loss': float(out)}


def fit_exponent(xs, ys):
    """Slope of log y against log x (least squares); None with fewer than two points."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if y and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx


def _gib(b):
    return b / 2**30


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--sizes', type=int, nargs='+', default=[2000, 10000, 50000, 100000])
    p.add_argument('--blocks', type=int, default=10)
    p.add_argument('--degree', type=float, default=5.0)
    p.add_argument('--p-in', type=float, default=0.8)
    p.add_argument('--order', type=int, default=2)
    p.add_argument('--dim', type=int, default=16)
    p.add_argument('--tau', type=float, default=1.0)
    p.add_argument('--repeat', type=int, default=3)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--max-gib', type=float, default=6.0, help='largest estimated dense peak to attempt (GiB)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', default=None, help='also write the results to this file')
    p.add_argument('--child', nargs=2, metavar=('METHOD', 'CACHE'), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        res = run_one(args.child[0], args.child[1], args.repeat, args.threads, args.dim, args.tau)
        print(json.dumps(res))
        return

    import torch

    from graphkit.ops import adjacency_power_sum, csr_to_coo

    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            t0 = time.perf_counter()
            edges, _ = sbm_edges(n, args.blocks, args.degree, args.p_in, seed=args.seed + n)
            gamma = adjacency_power_sum(edges, n, order=args.order)
            pos_index, pos_weight = csr_to_coo(gamma)
            cache = os.path.join(tmp, f'n{n}.pt')
            k = args.blocks
            torch.save({'pos_index': pos_index, 'pos_weight': pos_weight, 'num_nodes': n, 'k': k}, cache)
            row = {
                'num_nodes': n,
                'edges': int(edges.size(1)),
                'gamma_nnz': int(pos_weight.numel()),
                'gamma_build_s': time.perf_counter() - t0,
            }
            del edges, gamma, pos_index, pos_weight
            for method in ('pamc', 'dense'):
                if method == 'dense':
                    estimate = DENSE_BYTES_PER_PAIR * n * n
                    limit = min(args.max_gib * 2**30, _available_bytes() / 2)
                    row['dense_estimate_bytes'] = estimate
                    if estimate > limit:
                        row['dense'] = {
                            'skipped': f'estimated peak {_gib(estimate):.1f} GiB > limit {_gib(limit):.1f} GiB '
                            f'(--max-gib {args.max_gib:g}, half of the {_gib(_available_bytes()):.1f} GiB available)'
                        }
                        print(f'N={n}: dense skipped, {row["dense"]["skipped"]}', file=sys.stderr, flush=True)
                        continue
                cmd = [
                    sys.executable,
                    __file__,
                    '--child',
                    method,
                    cache,
                    '--repeat',
                    str(args.repeat),
                    '--threads',
                    str(args.threads),
                    '--dim',
                    str(args.dim),
                    '--tau',
                    str(args.tau),
                ]
                out = subprocess.run(cmd, capture_output=True, text=True)
                if out.returncode != 0:
                    row[method] = {'failed': (out.stderr.strip().splitlines() or ['?'])[-1]}
                else:
                    row[method] = json.loads(out.stdout.strip().splitlines()[-1])
                print(f'N={n}: {method} {row[method]}', file=sys.stderr, flush=True)
            rows.append(row)

    def measured(method, key):
        return [(r['num_nodes'], r[method][key]) for r in rows if key in r.get(method, {})]

    print(
        f'\nSBM: {args.blocks} blocks, mean degree {args.degree:g}, p_in {args.p_in:g}, seed {args.seed} + N; '
        f'Gamma order {args.order}; d = {args.dim}, tau = {args.tau:g}; {args.threads} thread(s); '
        f'median of {args.repeat} forward + backward; memory = growth of peak RSS\n'
    )
    print('| N | edges | nnz(Γ) | PamC s | dense s | time ratio | PamC MiB | dense MiB | memory ratio | dense B / N² |')
    print('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    for r in rows:
        pm, dn = r.get('pamc', {}), r.get('dense', {})
        if 'seconds' in dn:
            dense_s, dense_m = f'{dn["seconds"]:.3f}', f'{dn["peak_bytes"] / 2**20:.0f}'
            t_ratio = f'{dn["seconds"] / pm["seconds"]:.1f}x' if 'seconds' in pm else '-'
            m_ratio = f'{dn["peak_bytes"] / max(pm.get("peak_bytes", 0), 1):.1f}x' if 'peak_bytes' in pm else '-'
            per_pair = f'{dn["peak_bytes"] / r["num_nodes"] ** 2:.1f}'
        else:
            reason = dn.get('skipped') or dn.get('failed') or '-'
            dense_s, dense_m, t_ratio, m_ratio, per_pair = f'not run ({reason})', '-', '-', '-', '-'
        pamc_s = f'{pm["seconds"]:.3f}' if 'seconds' in pm else pm.get('failed', '-')
        pamc_m = f'{pm["peak_bytes"] / 2**20:.0f}' if 'peak_bytes' in pm else '-'
        print(
            f'| {r["num_nodes"]:,} | {r["edges"]:,} | {r["gamma_nnz"]:,} | {pamc_s} | {dense_s} | {t_ratio} | '
            f'{pamc_m} | {dense_m} | {m_ratio} | {per_pair} |'
        )
    print('\nFitted exponents (y ~ N^a, least squares on log-log over the sizes measured):\n')
    print('| quantity | PamC | dense | ratio dense / PamC |')
    print('|---|---:|---:|---:|')
    for key, name in (('seconds', 'time'), ('peak_bytes', 'peak memory')):
        exps = {}
        for method in ('pamc', 'dense'):
            pts = measured(method, key)
            exps[method] = fit_exponent([x for x, _ in pts], [y for _, y in pts])
        both = [
            (r['num_nodes'], r['dense'][key] / r['pamc'][key])
            for r in rows
            if key in r.get('dense', {}) and key in r.get('pamc', {}) and r['pamc'][key] > 0
        ]
        ratio = fit_exponent([x for x, _ in both], [y for _, y in both])

        def fmt(v):
            return '-' if v is None else f'{v:.2f}'

        print(f'| {name} | {fmt(exps["pamc"])} | {fmt(exps["dense"])} | {fmt(ratio)} |')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'args': vars(args), 'rows': rows}, f, indent=2)


if __name__ == '__main__':
    main()
