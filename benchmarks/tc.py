r"""Exact Topological Concentration: graphkit's vectorised sparse implementation against a straightforward
pure-Python BFS over walk lists (the algorithm of the official ``cal_tc``), on Cora and ogbl-ddi, plus the
time of ATC on ogbl-ddi.

    python benchmarks/tc.py                     # Cora K=1,2 and ogbl-ddi K=1 (+ vectorised K=2, ATC)
    python benchmarks/tc.py --ddi-root DIR      # where ogbl-ddi lives (default: ../shared/data)
    python benchmarks/tc.py --skip-ddi

Both implementations compute TC^Train and TC^Test of the same split; values must agree to 1e-5.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from graphkit.data import load_link_dataset
from graphkit.metrics.topology import approximate_tc, default_beta, topological_concentration

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for the tests' reference
from tests.metrics.test_topology import reference_tc  # noqa: E402  (the tests' plain-Python BFS)


def timed(fn, repeat: int = 1):
    best, out = float('inf'), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def compare(name: str, train, test, n: int, K: int, rows: list, sample: int = 0) -> None:
    """Time both on all nodes; with :obj:`sample` > 0 the BFS runs on that many random nodes only and its
    full time is extrapolated linearly (marked ~), values compared on the sampled nodes."""
    beta = default_beta(train, n)
    nodes = None
    if sample:
        nodes = torch.randperm(n, generator=torch.Generator().manual_seed(0))[:sample].tolist()
    for label, t in (('Train', None), ('Test', test)):
        fast, t_fast = timed(lambda: topological_concentration(train, t, n, K=K), repeat=3)
        slow, t_slow = timed(lambda: reference_tc(train, t, n, K, beta, nodes=nodes))
        idx = torch.arange(n) if nodes is None else torch.tensor(nodes)
        err = float((fast.double()[idx] - torch.tensor(slow, dtype=torch.float64)[idx]).abs().max())
        if nodes is not None:
            t_slow *= n / len(nodes)
        est = '~' if nodes is not None else ''
        rows.append(
            (
                name,
                f'TC^{label}',
                K,
                f'{est}{t_slow:.2f}',
                t_fast,
                f'{est}{t_slow / t_fast:.0f}x',
                err,
                'all' if nodes is None else f'{len(nodes)} sampled',
            )
        )
        print(
            f'{name:<9} TC^{label:<5} K={K}: BFS {est}{t_slow:8.2f} s, vectorised {t_fast:7.3f} s, '
            f'{est}x{t_slow / t_fast:7.1f}, max |diff| {err:.1e} (BFS nodes: {rows[-1][-1]})',
            flush=True,
        )
        assert err < 1e-5, f'values differ: {err}'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--ddi-root', default='../shared/data')
    parser.add_argument('--skip-ddi', action='store_true')
    parser.add_argument(
        '--ddi-sample',
        type=int,
        default=200,
        help='BFS on this many random ogbl-ddi nodes, time extrapolated (0 = all nodes: slow)',
    )
    args = parser.parse_args()
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads')
    rows: list = []

    cora = load_link_dataset('cora')
    n = int(cora.data.num_nodes)
    tr, te = cora.split_edge['train']['edge'].t(), cora.split_edge['test']['edge'].t()
    for K in (1, 2):
        compare('cora', tr, te, n, K, rows)

    if not args.skip_ddi:
        ddi = load_link_dataset('ogbl-ddi', args.ddi_root)
        n = int(ddi.data.num_nodes)
        tr, te = ddi.split_edge['train']['edge'].t(), ddi.split_edge['test']['edge'].t()
        compare('ogbl-ddi', tr, te, n, 1, rows, args.ddi_sample)
        _, t2 = timed(lambda: topological_concentration(tr, te, n, K=2))
        print(f'ogbl-ddi TC^Test K=2 vectorised only: {t2:.2f} s (BFS: ~d^4 = 10^10 set operations, not run)')
        for d in (64, 256):
            _, ta = timed(lambda: approximate_tc(tr, te, n, K=1, d=d, seed=0), repeat=3)
            _, ta2 = timed(lambda: approximate_tc(tr, te, n, K=2, d=d, seed=0), repeat=3)
            exact = topological_concentration(tr, te, n, K=1)
            approx = approximate_tc(tr, te, n, K=1, d=d, seed=0)
            mask = exact > 0
            r = float(torch.corrcoef(torch.stack([exact[mask], approx[mask]]))[0, 1])
            print(
                f'ogbl-ddi ATC^Test d={d} (4 draws): K=1 {ta:.2f} s, K=2 {ta2:.2f} s; '
                f'Pearson r with exact K=1 TC^Test {r:.3f}'
            )

    print('\n| dataset | quantity | K | BFS (s) | vectorised (s) | speed-up | max abs diff | BFS nodes |')
    print('|---|---|---|---|---|---|---|---|')
    for name, q, K, ts, tf, ratio, err, where in rows:
        print(f'| {name} | {q} | {K} | {ts} | {tf:.3f} | {ratio} | {err:.1e} | {where} |')


if __name__ == '__main__':
    main()
