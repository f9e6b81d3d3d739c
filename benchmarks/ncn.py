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
import time

import torch
import torch.nn.functional as F
from torch_geometric.utils import negative_sampling

from graphkit.configs import load_config
from graphkit.data import load_link_dataset
from graphkit.models import MODELS
from graphkit.ops import cn_sum, extension_flags, remove_edges, to_csr


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

    ds = load_link_dataset('cora', seed=0)
    data, split = ds.data, ds.split_edge
    n = int(data.num_nodes)
    pos = split['train']['edge'].t()
    adj = to_csr(pos, n)
    x = data.x.float()
    full = torch.cat([pos, pos.flip(0)], 1)
    print(f'torch {torch.__version__}, threads {args.threads}, extensions {extension_flags()}')
    print(f'{"what":<28}{"wall s":>10}{"cpu s":>10}{"peak MiB":>10}')

    for name in args.models:
        cfg = load_config(name, 'cora')
        model = MODELS.get(name).from_config(cfg['model'], data)
        tr = cfg['train']
        opt = torch.optim.Adam([
            {'params': model.encoder.parameters(), 'lr': tr['encoder_lr']},
            {'params': model.predictor.parameters(), 'lr': tr['predictor_lr']},
        ])
        bs, ebs = tr['batch_size'], tr['eval_batch_size']

        def train_epoch():
            model.train()
            neg = negative_sampling(full, n, full.size(1))
            perm = torch.randperm(pos.size(1))
            for k in range(0, perm.numel() - bs + 1, bs):
                idx = perm[k:k + bs]
                p = pos[:, idx]
                a = remove_edges(adj, p)
                h = model.encode(x, a)
                lp, ln = model.predict(h, a, p), model.predict(h, a, neg[:, idx])
                loss = (F.binary_cross_entropy_with_logits(lp, torch.ones_like(lp))
                        + F.binary_cross_entropy_with_logits(ln, torch.zeros_like(ln)))
                opt.zero_grad()
                loss.backward()
                opt.step()

        @torch.no_grad()
        def evaluate():
            model.eval()
            h = model.encode(x, adj)
            for key in ('valid', 'test'):
                for pairs in (split[key]['edge'].t(), split[key]['edge_neg'].t()):
                    torch.cat([model.predict(h, adj, c) for c in pairs.split(ebs, dim=1)])

        for what, fn in (('train epoch', train_epoch), ('full evaluation', evaluate)):
            w, c, m = measure(fn, args.repeats)
            print(f'{name + " " + what:<28}{w:>10.3f}{c:>10.3f}{m:>10.1f}')

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
