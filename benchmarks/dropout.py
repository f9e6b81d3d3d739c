"""graphkit's packed-mask dropout against torch's Bernoulli dropout, alone and inside NCN / NCNC training.

    python benchmarks/dropout.py [--repeats 5] [--threads 2] [--ddi-root ../shared/data] [--ddi-batches 2]

1. The op: ``ops.packed_dropout`` against ``torch.nn.functional.dropout``, forward + backward, at the shapes of an
   NCN predictor layer on Cora (2,304 x 256) and on ogbl-ddi (49,152 x 224); p = 0.4.
2. Whole training steps, alternating in one process: a Cora NCN / NCNC training epoch (``benchmarks/ncn.py``'s
   measurement) and, with ``--ddi-root``, ogbl-ddi NCN training batches, each once with graphkit's dropout and once
   with torch's (the NCN layers' dropout calls patched to ``F.dropout``). Ratios are graphkit / torch.
"""

import argparse
import contextlib
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F
from ncn import ddi_batches, measure

import graphkit.nn.dropout
import graphkit.ops
from graphkit.configs import load_config
from graphkit.tasks import TrainOptions
from graphkit.tasks.link import LinkTask


@contextlib.contextmanager
def torch_dropout():
    """The NCN layers' dropout (the module and the sparse input stage) computed by F.dropout instead."""
    saved = graphkit.nn.dropout.packed_dropout, graphkit.ops.packed_dropout
    graphkit.nn.dropout.packed_dropout = graphkit.ops.packed_dropout = F.dropout
    try:
        yield
    finally:
        graphkit.nn.dropout.packed_dropout, graphkit.ops.packed_dropout = saved


def op(args):
    for rows, cols in ((2304, 256), (49152, 224)):
        x = torch.randn(rows, cols, requires_grad=True)
        g = torch.randn(rows, cols)
        res = {}
        for name, fn in (('torch', F.dropout), ('graphkit', graphkit.ops.packed_dropout)):

            def step():
                x.grad = None
                fn(x, 0.4, True).backward(g)

            res[name] = measure(step, args.repeats)[:2]
        w, c = (res['graphkit'][k] / res['torch'][k] for k in (0, 1))
        print(
            f'dropout fwd+bwd {rows} x {cols}: torch {res["torch"][0] * 1e3:.2f} ms, graphkit '
            f'{res["graphkit"][0] * 1e3:.2f} ms; graphkit / torch wall {w:.3f}, cpu {c:.3f}'
        )


def cora(args):
    with tempfile.TemporaryDirectory() as out:
        for name in ('ncn', 'ncnc'):
            task = LinkTask(TrainOptions(model=name, dataset='cora', out=out, quiet=True), load_config(name, 'cora'))
            task.prepare(0)
            model, optimizer = task.build()
            times = {'graphkit': [], 'torch': []}
            for _ in range(args.repeats):  # alternate, so that load drift hits both alike
                for which in ('graphkit', 'torch'):
                    with torch_dropout() if which == 'torch' else contextlib.nullcontext():
                        times[which].append(measure(lambda: task.train_epoch(model, optimizer, 1), 1)[:2])
            med = {k: [statistics.median(t[i] for t in v) for i in (0, 1)] for k, v in times.items()}
            print(
                f'{name} Cora training epoch: torch dropout {med["torch"][0]:.3f} s,'
                f' graphkit {med["graphkit"][0]:.3f} s;'
                f' graphkit / torch wall {med["graphkit"][0] / med["torch"][0]:.3f},'
                f' cpu {med["graphkit"][1] / med["torch"][1]:.3f}'
            )


def ddi(args):
    res = {'graphkit': [], 'torch': []}
    for _ in range(args.ddi_rounds):
        for which in ('graphkit', 'torch'):
            with torch_dropout() if which == 'torch' else contextlib.nullcontext():
                res[which].append(ddi_batches(args.ddi_root, args.ddi_batches, ['auto'])['auto'])
    for which, v in res.items():
        print(f'ddi NCN batch, {which} dropout: ' + ', '.join(f'{w:.3f} s (cpu {c:.3f})' for w, c in v))
    w = statistics.median(a[0] / b[0] for a, b in zip(res['graphkit'], res['torch']))
    print(f'ddi batch graphkit / torch dropout: wall {w:.3f}')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--ddi-root', default=None)
    parser.add_argument('--ddi-batches', type=int, default=2)
    parser.add_argument('--ddi-rounds', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f'torch {torch.__version__}, threads {args.threads}')
    op(args)
    cora(args)
    if args.ddi_root:
        ddi(args)


if __name__ == '__main__':
    start = time.perf_counter()
    main()
    print(f'total {time.perf_counter() - start:.0f} s')
