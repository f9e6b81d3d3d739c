"""NCN / NCNC speed and memory on Cora, and the common-neighbour operator against a torch.sparse baseline.

    python benchmarks/ncn.py [--repeats 5] [--threads 2] [--models ncn ncnc] [--ddi-root ../shared/data]
                             [--malloc retain|system]

Per model: wall and process-CPU seconds and peak extra RSS of one training epoch (the official recipe: batch 1152,
target-link removal per batch, one negative per positive, Adam with two learning rates) and of one full evaluation
(encode once, score valid + test pairs in chunks of 8192). Then the CN operator alone (``ops.cn_sum`` on the
training graph for the epoch's 2 x 3,696 pairs) against ``(A[i] * A[j]) @ H`` with torch.sparse row gathers; the
ratio is baseline / graphkit. Wall times on a shared machine are upper bounds; CPU seconds are the steadier number.
``--malloc retain`` (``GRAPHKIT_MALLOC=retain graphkit train``) keeps freed memory in the heap, so the peak column
then shows only growth beyond earlier repeats; measure memory with the default ``--malloc system``.

With ``--ddi-root``: NCN training batches on ogbl-ddi (the preset: 24,576 positives + as many negatives, target-link
removal, hidden 224), exactly ``LinkTask.train_epoch`` stopped after ``--ddi-batches`` batches, once per
common-neighbour backend in the same process (``ops.use_cn_backend``); per batch: the median time between batch
starts, so the epoch's negative sampling is not counted.
"""

import argparse
import statistics
import tempfile
import time

import torch
from torch_geometric.utils import negative_sampling

from graphkit.configs import load_config
from graphkit.ops import cn_sum, extension_flags, use_cn_backend
from graphkit.runtime import MODES, configure_allocator
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


def ddi_batches(root, batches, backends):
    """Seconds per NCN ogbl-ddi training batch for each backend: (wall, cpu) medians over the batches."""
    with tempfile.TemporaryDirectory() as out:
        opts = TrainOptions(model='ncn', dataset='ogbl-ddi', root=root, out=out, quiet=True)
        task = LinkTask(opts, load_config('ncn', 'ogbl-ddi'))
        task.prepare(0)
        model, optimizer = task.build()
        result = {}
        for backend in backends:
            stamps = []

            def out_of_time():  # called before every batch: stop after `batches`
                stamps.append((time.perf_counter(), time.process_time()))
                return len(stamps) > batches

            task.out_of_time = out_of_time
            with use_cn_backend(backend):
                task.train_epoch(model, optimizer, 1)
            walls = [b[0] - a[0] for a, b in zip(stamps, stamps[1:])]
            cpus = [b[1] - a[1] for a, b in zip(stamps, stamps[1:])]
            result[backend] = statistics.median(walls), statistics.median(cpus)
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--models', nargs='+', default=['ncn', 'ncnc'])
    parser.add_argument('--ddi-root', default=None, help='data root with ogbl_ddi: also time ddi training batches')
    parser.add_argument('--ddi-batches', type=int, default=2)
    parser.add_argument('--ddi-backends', nargs='+', default=['auto', 'sparse'])
    parser.add_argument('--skip-cora', action='store_true')
    parser.add_argument(
        '--malloc', choices=MODES, default='system', help='the allocator mode (graphkit.runtime; GRAPHKIT_MALLOC)'
    )
    args = parser.parse_args()
    configure_allocator(args.malloc)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    print(f'torch {torch.__version__}, threads {args.threads}, malloc {args.malloc}, extensions {extension_flags()}')
    print(f'{"what":<28}{"wall s":>10}{"cpu s":>10}{"peak MiB":>10}')
    if not args.skip_cora:
        cora(args)
    if args.ddi_root:
        ddi(args)


def cora(args):
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


def ddi(args):
    res = ddi_batches(args.ddi_root, args.ddi_batches, args.ddi_backends)
    for backend, (w, c) in res.items():
        print(f'{"ddi NCN batch, " + backend:<28}{w:>10.3f}{c:>10.3f}')
    ref = args.ddi_backends[-1]
    for backend, (w, c) in res.items():
        if backend != ref:
            print(f'ddi batch {backend} / {ref}: wall {w / res[ref][0]:.3f}, cpu {c / res[ref][1]:.3f}')
    # The official code's batch, measured side by side in issue 14 (8.9 s): for reference only.
    for backend, (w, _) in res.items():
        print(f'ddi batch {backend} / official 8.9 s (issue 14, another hour): {w / 8.9:.3f}')


if __name__ == '__main__':
    main()
