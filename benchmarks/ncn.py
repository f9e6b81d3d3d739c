"""NCN / NCNC speed and memory on Cora, and the common-neighbour operator against a torch.sparse baseline.

    python benchmarks/ncn.py [--repeats 5] [--threads 2] [--models ncn ncnc]

Per model: wall and process-CPU seconds and peak extra RSS of one training epoch (the official recipe: batch 1152,
target-link removal per batch, one negative per positive, Adam with two learning rates) and of one full evaluation
(encode once, score valid + test pairs in chunks of 8192). Then the CN operator alone (``ops.cn_sum`` on the
training graph for the epoch's 2 x 3,696 pairs) against ``(A[i] * A[j]) @ H`` with torch.sparse row gathers; the
ratio is baseline / graphkit. Wall times on a shared machine are upper bounds; CPU seconds are the steadier number.
"""

import argparse
import statistics
import tempfile
import time

import torch
from torch_geometric.utils import negative_sampling

from graphkit.configs import load_config
from graphkit.ops import cn_sum, extension_flags
from graphkit.tasks import TrainOptions
from graphkit.tasks.link import LinkTask


def _rss_kib(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def measure(fn, repeats):
    fn()  # warm-up
    walls, cpus, peaks = [], [], []
    for _ in range(repeats):
        try:  # reset the peak-RSS watermark (Linux)
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
        except OSError:
            pass
        base = _rss_kib('VmRSS')
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
        peaks.append(max(0, _rss_kib('VmHWM') - base) / 1024)
    return statistics.median(walls), statistics.median(cpus), max(peaks)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--models', nargs='+', default=['ncn', 'ncnc'])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    print(f'torch {torch.__version__}, threads {args.threads}, extensions {extension_flags()}')
    print(f'{"what":<28}{"wall s":>10}{"cpu s":>10}{"peak MiB":>10}')
    with tempfile.TemporaryDirectory() as out:
        for name in args.models:
            # Exactly what `graphkit train NAME --dataset cora` runs: its task, preset, epoch and evaluation.
            task = LinkTask(TrainOptions(model=name, dataset='cora', out=out, quiet=True), load_config(name, 'cora'))
            task.prepare(0)
            model, optimizer = task.build()
            epoch = lambda: task.train_epoch(model, optimizer, 1)  # noqa: E731
            evaluate = lambda: task.evaluate(model)  # noqa: E731
            for what, fn in (('train epoch', epoch), ('full evaluation', evaluate)):
                w, c, m = measure(fn, args.repeats)
                print(f'{name + " " + what:<28}{w:>10.3f}{c:>10.3f}{m:>10.1f}')

    n, pos, adj = task.num_nodes, task.train_pos, task.adj
    full = torch.cat([pos, pos.flip(0)], 1)

    # The CN operator alone: graphkit vs torch.sparse A[i] * A[j].
    h = torch.randn(n, 256)
    pairs = torch.cat([pos, negative_sampling(full, n, pos.size(1))], 1)
    coo = adj.to_sparse_coo()

    def ours():
        return cn_sum(adj, pairs, h)

    def baseline():
        ai = coo.index_select(0, pairs[0])
        aj = coo.index_select(0, pairs[1])
        return torch.sparse.mm((ai * aj).coalesce(), h)

    assert torch.allclose(ours(), baseline(), atol=1e-4)
    w1, c1, m1 = measure(ours, args.repeats)
    w2, c2, m2 = measure(baseline, args.repeats)
    print(f'{"CN op graphkit":<28}{w1:>10.4f}{c1:>10.4f}{m1:>10.1f}')
    print(f'{"CN op torch.sparse A[i]*A[j]":<28}{w2:>10.4f}{c2:>10.4f}{m2:>10.1f}')
    print(f'CN operator speed-up (baseline / graphkit): wall {w2 / w1:.1f}x, cpu {c2 / c1:.1f}x')


if __name__ == '__main__':
    main()
