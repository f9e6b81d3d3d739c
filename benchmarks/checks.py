"""The cost of the argument checks (graphkit.checks) in an NCN training epoch on Cora.

    python benchmarks/checks.py [--repeats 7] [--threads 1]

Exactly what `graphkit train ncn --dataset cora` runs for one epoch (its task, preset and ``train_epoch``), timed
with the checks on and off, alternating so that both see the same machine load; the overhead is
median(on) / median(off) - 1, on process-CPU seconds (steadier than wall time on a shared machine) and wall time.
The checks themselves, counted separately, are one min / max per pair batch and a few shape comparisons.
"""

import argparse
import statistics
import tempfile
import time

import torch

from graphkit import checks
from graphkit.configs import load_config
from graphkit.tasks import TrainOptions
from graphkit.tasks.link import LinkTask


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as out:
        task = LinkTask(TrainOptions(model='ncn', dataset='cora', out=out, quiet=True), load_config('ncn', 'cora'))
        task.prepare(0)
        model, optimizer = task.build()
        task.train_epoch(model, optimizer, 1)  # warm-up
        times = {True: [], False: []}
        for _ in range(args.repeats):
            for enabled in (True, False):
                checks.set_checks(enabled)
                w, c = time.perf_counter(), time.process_time()
                task.train_epoch(model, optimizer, 1)
                times[enabled].append((time.perf_counter() - w, time.process_time() - c))
        checks.set_checks(True)
    print(f'torch {torch.__version__}, threads {args.threads}, NCN Cora training epoch, {args.repeats} repeats each')
    print(f'{"checks":<8}{"wall s (median)":>18}{"cpu s (median)":>18}')
    med = {}
    for enabled in (True, False):
        wall = statistics.median(t[0] for t in times[enabled])
        cpu = statistics.median(t[1] for t in times[enabled])
        med[enabled] = (wall, cpu)
        print(f'{"on" if enabled else "off":<8}{wall:>18.3f}{cpu:>18.3f}')
    print(
        f'overhead of the checks: cpu {100 * (med[True][1] / med[False][1] - 1):+.2f} %, '
        f'wall {100 * (med[True][0] / med[False][0] - 1):+.2f} %'
    )


if __name__ == '__main__':
    main()
