"""Dense-backend common-neighbour sums: pooling the ANDed mask rows' sets against the masked GEMM.

    python benchmarks/cn_dense_sums.py [--nodes 3000] [--pairs 4096] [--channels 224] [--threads 1]
                                       [--degrees 50 300 800 1500 2500]

For random graphs of each mean degree: forward + backward of the two dense ways to form
:math:`\\mathbf{z}_b = \\sum_{u \\in \\mathcal{N}(i_b) \\cap \\mathcal{N}(j_b)} \\mathbf{x}_u` for a batch of random
pairs (best of 2 after a warm-up), their ratio, and that both give the same sums and gradients. The record of a
dropped path: pooling won here on random pairs, but lost on a real ogbl-ddi NCN training batch (whose positive
pairs have far larger common-neighbour sets), so ``ops.cn_sum`` keeps the masked GEMM (``benchmarks/RESULTS.md``).
"""

import argparse
import time

import torch

from graphkit import ops
from graphkit.ops import cn_backend as cnb
from graphkit.ops.common_neighbors import pool_pairs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--nodes', type=int, default=3000)
    parser.add_argument('--pairs', type=int, default=4096)
    parser.add_argument('--channels', type=int, default=224)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--degrees', type=int, nargs='+', default=[50, 300, 800, 1500, 2500])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    n, b, f = args.nodes, args.pairs, args.channels
    print(f'N = {n}, B = {b}, F = {f}, {args.threads} thread(s), torch {torch.__version__}')
    print('| mean degree | density | mean CN | GEMM s | pooled sets s | pooled / GEMM | same |')
    print('|---:|---:|---:|---:|---:|---:|---|')
    for deg in args.degrees:
        adj = ops.to_csr(torch.randint(0, n, (2, n * deg // 2), generator=gen), n)
        i, j = torch.randint(0, n, (2, b), generator=gen)
        x = torch.randn(n, f, generator=gen, requires_grad=True)

        def gemm():
            return cnb.dense_sum(cnb.dense_mask(adj, torch.float32), i, j, x)

        def pooled():
            (cn,) = cnb.dense_sets(cnb.dense_mask(adj), i, j, False)
            return pool_pairs(cn, x, b)

        times, results = {}, {}
        for fn in (gemm, pooled):
            best = float('inf')
            for _ in range(3):  # a warm-up, then the best of 2
                x.grad = None
                t = time.perf_counter()
                z = fn()
                z.sum().backward()
                best = min(best, time.perf_counter() - t)
            times[fn.__name__] = best
            results[fn.__name__] = (z.detach(), x.grad.clone())
        same = all(torch.allclose(a, c, rtol=1e-4, atol=1e-3) for a, c in zip(results['gemm'], results['pooled']))
        d = adj.col_indices().numel() / n
        (cn,) = cnb.dense_sets(cnb.dense_mask(adj), i, j, False)
        print(
            f'| {d:.0f} | {d / n:.3f} | {cn.size(1) / b:.0f} | {times["gemm"]:.3f} | {times["pooled"]:.3f} | '
            f'{times["pooled"] / times["gemm"]:.2f} | {"yes" if same else "NO"} |'
        )


if __name__ == '__main__':
    main()
