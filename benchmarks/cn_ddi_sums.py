"""Common-neighbour feature sums of one real ogbl-ddi NCN training batch: the dense path's masked GEMM against
sparse formulations of the same sums (issue 14; the alternatives were tried and dropped).

    python benchmarks/cn_ddi_sums.py --root ../shared/data [--threads 2] [--batch 24576] [--channels 224]

The batch: ``--batch`` training edges and as many uniform random pairs (the preset's negatives), on the training
graph. Best of 3, seconds. Forward: ``z = (A[i] * A[j]) H``; backward: ``dH = (A[i] * A[j])^T G``.
"""

import argparse
import tempfile
import time

import torch
import torch.nn.functional as F

from graphkit.configs import load_config
from graphkit.ops import cn_backend as cnb
from graphkit.tasks import TrainOptions
from graphkit.tasks.link import LinkTask


def best(fn, repeats=3):
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--root', required=True)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--batch', type=int, default=24576)
    parser.add_argument('--channels', type=int, default=224)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as out:
        opts = TrainOptions(model='ncn', dataset='ogbl-ddi', root=args.root, out=out, quiet=True)
        task = LinkTask(opts, load_config('ncn', 'ogbl-ddi'))
        task.prepare(0)
    adj, n, b = task.adj, task.num_nodes, args.batch
    pos = task.train_pos[:, torch.randperm(task.train_pos.size(1))[:b]]
    pairs = torch.cat([pos, torch.randint(0, n, (2, b))], 1)
    i, j = pairs[0].contiguous(), pairs[1].contiguous()
    x = torch.randn(n, args.channels, requires_grad=True)
    g = torch.randn(2 * b, args.channels)
    fmask, bmask = cnb.dense_mask(adj, torch.float32), cnb.dense_mask(adj, torch.bool)
    flop = 2 * 2 * (2 * b) * n * args.channels  # forward + backward, 2 flops per multiply-add

    def gemm_fb():
        x.grad = None
        cnb.dense_sum(fmask, i, j, x).backward(g)
        return x.grad

    def gemm_f():
        with torch.no_grad():
            return cnb.dense_sum(fmask, i, j, x)

    def sets():
        return cnb.dense_sets(bmask, i, j, False)[0]

    t_fb, grad = best(gemm_fb)
    t_f, z = best(gemm_f)
    t_sets, nz = best(sets)
    counts = torch.bincount(nz[0], minlength=2 * b)
    print(
        f'ogbl-ddi: {n} nodes, {adj._nnz()} entries; batch {2 * b} pairs, F = {args.channels}, threads {args.threads}'
    )
    print(
        f'common neighbours: {nz.size(1)} (positives {counts[:b].float().mean():.0f}, '
        f'negatives {counts[b:].float().mean():.0f} per pair)'
    )
    print(f'masked GEMM forward + backward      {t_fb:7.3f} s  ({flop / t_fb / 1e9:.0f} GFLOP/s)')
    print(f'masked GEMM forward                 {t_f:7.3f} s')
    print(f'sets: mask rows AND + nonzero       {t_sets:7.3f} s')

    crow = torch.zeros(2 * b + 1, dtype=torch.long)
    crow[1:] = counts.cumsum(0)
    csr = torch.sparse_csr_tensor(crow, nz[1], torch.ones(nz.size(1)), (2 * b, n))

    def spmm_f():
        with torch.no_grad():
            return torch.sparse.mm(csr, x)

    t, z2 = best(spmm_f)
    print(f'CSR spmm forward (after the sets)   {t:7.3f} s  max |diff| {float((z2 - z).abs().max()):.1e}')
    t, csr_t = best(lambda: csr.t().to_sparse_csr())
    print(f'CSR transpose (for the backward)    {t:7.3f} s')
    t, _ = best(lambda: torch.sparse.mm(csr_t, g))
    print(f'CSR spmm backward M^T G             {t:7.3f} s')

    def bag_fb():
        xx = x.detach().requires_grad_()
        F.embedding_bag(nz[1], xx, crow[:-1], mode='sum').backward(g)
        return xx.grad

    t, grad2 = best(bag_fb)
    print(f'embedding_bag forward + backward    {t:7.3f} s  max |dgrad| {float((grad2 - grad).abs().max()):.1e}')
    t, _ = best(lambda: torch.zeros(n, args.channels).index_add_(0, nz[1], g.index_select(0, nz[0])), repeats=1)
    print(f'index_add backward (materialised)   {t:7.3f} s')


if __name__ == '__main__':
    main()
