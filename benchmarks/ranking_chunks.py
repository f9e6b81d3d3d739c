"""Full-ranking evaluation time against the query chunk: page faults of large temporaries on CPU.

    python benchmarks/ranking_chunks.py [--users 6144] [--items 35648] [--dim 64] [--threads 1]

Random embeddings of the Amazon-CDs item count, 14 excluded (training) and 4 true (test) items per user:
:func:`graphkit.metrics.ranking.dot_product_ranking` with ``CHUNK_ELEMENTS`` disabled (every chunk the
requested size, the previous behaviour) at several chunk sizes, then with the cap (the default). Reported:
wall, user and system seconds and minor page faults of the process, and that Recall@20 is identical.
"""

import argparse
import resource
import time

import torch

from graphkit.metrics import ranking
from graphkit.ops.adjacency import pairs_to_csr


def run(ue, ie, truth, exclude, chunk):
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    m = ranking.dot_product_ranking(ue, ie, truth, exclude, [20], chunk)
    r1, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - t0
    return wall, r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime, r1.ru_minflt - r0.ru_minflt, m['recall@20']


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--users', type=int, default=6144)
    parser.add_argument('--items', type=int, default=35648)
    parser.add_argument('--dim', type=int, default=64)
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    U, Items = args.users, args.items
    ue, ie = torch.randn(U, args.dim, generator=gen), torch.randn(Items, args.dim, generator=gen)

    def pairs(per):
        users = torch.arange(U).repeat_interleave(per)
        return pairs_to_csr(torch.stack([users, torch.randint(0, Items, (U * per,), generator=gen)]), U, Items)

    exclude, truth = pairs(14), pairs(4)
    print(f'{U} users x {Items} items, dim {args.dim}, {args.threads} thread(s), torch {torch.__version__}')
    print(f'{"setting":<34}{"wall s":>8}{"user s":>8}{"sys s":>8}{"faults":>10}  recall@20')
    cap = ranking.CHUNK_ELEMENTS
    rows = []
    try:
        ranking.CHUNK_ELEMENTS = 1 << 62  # no cap: the previous behaviour
        for chunk in (2048, 512, 128, 32):
            rows.append((f'chunk {chunk} users, no cap', run(ue, ie, truth, exclude, chunk)))
    finally:
        ranking.CHUNK_ELEMENTS = cap
    rows.append((f'chunk 2048 users, cap 2^{cap.bit_length() - 1} scores', run(ue, ie, truth, exclude, 2048)))
    for name, (wall, user, sys_, faults, recall) in rows:
        print(f'{name:<34}{wall:>8.2f}{user:>8.2f}{sys_:>8.2f}{faults:>10}  {recall:.6f}')
    print(f'capped / uncapped at chunk 2048: {rows[-1][1][0] / rows[0][1][0]:.2f} (wall)')


if __name__ == '__main__':
    main()
