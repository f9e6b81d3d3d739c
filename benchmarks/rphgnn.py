r"""RpHGNN on HGB ACM: pre-computation cost against naive metapath enumeration, its growth with K, and the time to
a validation Micro-F1 against PyG baselines trained end to end, as ratios in one run.

.. code-block:: bash

    flock /tmp/gk-heavy.lock python benchmarks/rphgnn.py --root ../shared/data --threads 1

Three measurements, each method in a fresh child process (its peak memory is the growth of the process's
resident high-water mark ``VmHWM``, reset through ``/proc/self/clear_refs`` right before the measured call, over
the resident memory at that point, with the graph already loaded):

1. **Pre-computation against naive metapaths.** :class:`~graphkit.nn.rphgnn.RpHGNNPrecompute` with the ACM preset
   (sparse projection, ``use_input``, float16 groups) against a naive metapath pre-computation in the style of
   NARS / SeHGNN without any squashing: every relation sequence of length :math:`L` that ends at the target type
   gives one explicit mean-propagated feature matrix :math:`\mathbf{M}_{r_L} \cdots \mathbf{M}_{r_1}
   \mathbf{X}_{\text{src}}` (float16 on the target, like RpHGNN's groups; the working frontier on every node type
   in float32). It grows depth by depth, :math:`L = 1, 2, \dots`; before allocating a depth it estimates the bytes
   that depth needs from the metapath counts and shapes (times the measured / estimated peak of the depth before,
   the allocator's overhead), and stops where they exceed ``--memory-budget-gib``. Time and memory of a "max
   depth :math:`L`" naive run are read off at the point where that run would end (the target features of depth
   :math:`L` are done; the non-target frontier is only built to go deeper). Equal receptive field: RpHGNN's
   :math:`K` iterations reach :math:`2K` hops, so :math:`K` is set against all metapaths of length
   :math:`\le 2K`. For :math:`K = 1` the run also checks that every RpHGNN group slice is one of those features.
2. **Growth with K** of RpHGNN's pre-computation time and peak memory (``--ks``), with a least-squares line
   (seconds per iteration, wall and CPU) and the log-log exponent (1 = linear); the minimum of ``--repeats`` runs.
3. **Time to ``--threshold`` validation Micro-F1**: RpHGNN (pre-computation + mini-batch training with the ACM
   preset's hyperparameters) against PyG models trained end to end, full batch, on the same graph and split: an
   R-GCN built from :class:`~torch_geometric.nn.HeteroConv` with one mean :class:`~torch_geometric.nn.SAGEConv`
   per relation, and :class:`~torch_geometric.nn.HGTConv`. The clock covers everything a training run does
   (pre-computation, training, validation each epoch) except the test evaluation, which is timed apart; training
   goes on after the threshold until ``--max-epochs`` or ``--patience`` epochs without a better mean of valid
   Micro / Macro-F1 (the official ACM criterion), and reports valid / test Micro-F1 at the best epoch.

Numbers depend on the machine's load: the load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F

TARGET = 'paper'
GIB = 2**30


# ----------------------------------------------------------------------------------------------------------
# measuring
# ----------------------------------------------------------------------------------------------------------
def _status_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


class PeakMemory:
    """Growth of the resident high-water mark (MiB) over the resident memory when :meth:`reset` was called."""

    def reset(self) -> None:
        gc.collect()
        try:  # reset VmHWM to the current RSS (Linux >= 4.0)
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
        except OSError:
            pass
        self.base = _status_kib('VmRSS')

    def mib(self) -> float:
        return max(0, _status_kib('VmHWM') - self.base) / 1024


def _load_avg() -> str:
    with open('/proc/loadavg') as f:
        return ' '.join(f.read().split()[:3])


def _cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown CPU'


# ----------------------------------------------------------------------------------------------------------
# the graph, shared with the children through a temporary file (parsed once)
# ----------------------------------------------------------------------------------------------------------
def _save_dataset(root: str, seed: int, path: str) -> Dict[str, Any]:
    from graphkit.data import load_dataset

    ds = load_dataset('hgb-acm', 'hetero-node', root=root, seed=seed)
    data = ds.data
    blob = {
        'x': {t: data[t].x.float().contiguous() for t in data.node_types},
        'edge_index': {'__'.join(et): data[et].edge_index.contiguous() for et in data.edge_types},
        'y': ds.y,
        'split': {k: v for k, v in ds.split.items()},
        'num_classes': torch.tensor(ds.num_classes),
    }
    assert ds.target == TARGET, ds.target
    torch.save(blob, path)
    return {
        'nodes': {t: int(data[t].num_nodes) for t in data.node_types},
        'widths': {t: int(data[t].x.size(1)) for t in data.node_types},
        'edges': {'__'.join(et): int(data[et].edge_index.size(1)) for et in data.edge_types},
        'split': {k: int(v.numel()) for k, v in ds.split.items()},
        'test_file': ds.info.get('test_file'),
    }


def _load(path: str):
    from torch_geometric.data import HeteroData

    blob = torch.load(path, weights_only=True)
    data = HeteroData()
    for t, x in blob['x'].items():
        data[t].x = x
        data[t].num_nodes = x.size(0)
    for key, ei in blob['edge_index'].items():
        data[tuple(key.split('__'))].edge_index = ei
    return data, blob['y'], blob['split'], int(blob['num_classes'])


# ----------------------------------------------------------------------------------------------------------
# 1. naive metapath enumeration (no squashing)
# ----------------------------------------------------------------------------------------------------------
def _mean_adj(edge_index: torch.Tensor, num_src: int, num_dst: int) -> torch.Tensor:
    # (num_dst, num_src) CSR: row b averages over the distinct in-neighbours of b; isolated rows are zero.
    idx = torch.stack([edge_index[1], edge_index[0]])
    a = torch.sparse_coo_tensor(idx, torch.ones(idx.size(1)), (num_dst, num_src)).coalesce()
    rows = a.indices()[0]
    deg = torch.zeros(num_dst).index_add_(0, rows, torch.ones(rows.numel()))
    return torch.sparse_coo_tensor(a.indices(), deg[rows].reciprocal(), (num_dst, num_src)).to_sparse_csr()


def _warm_up(data) -> None:
    # One small sparse and one dense product, so that neither method pays the libraries' first-call costs.
    et = data.edge_types[0]
    n = int(data[et[0]].num_nodes)
    adj = _mean_adj(data[et].edge_index, n, int(data[et[2]].num_nodes))
    x = data[et[0]].x[:, :64]
    torch.sparse.mm(adj, x) @ torch.ones(x.size(1), 64)


def _metapath_plan(edge_types, nodes: Dict[str, int], widths: Dict[str, int], depth: int):
    """Per depth l = 0..depth: {type: [(source type of the walk, count)]} of the walks of length l ending at a type,
    from the schema alone, and the bytes of the depth's float32 frontier and float16 target features."""
    walks: Dict[str, Dict[str, int]] = {t: {t: 1} for t in nodes}  # type -> {source type: number of walks}
    plan = []
    for level in range(depth + 1):
        if level > 0:
            new: Dict[str, Dict[str, int]] = {t: {} for t in nodes}
            for src, _, dst in edge_types:
                for s, c in walks[src].items():
                    new[dst][s] = new[dst].get(s, 0) + c
            walks = new
        frontier = sum(nodes[t] * widths[s] * c * 4 for t in nodes for s, c in walks[t].items()) if level else 0
        target = sum(nodes[TARGET] * widths[s] * c * 2 for s, c in walks[TARGET].items())
        plan.append(
            {
                'depth': level,
                'target_metapaths': sum(walks[TARGET].values()),
                'frontier_tensors': sum(c for t in nodes for c in walks[t].values()),
                'frontier_bytes': frontier,  # all types, float32
                'target_bytes': target,  # the depth's target features, float16
            }
        )
    return plan


def _naive_peak(plan, depth: int, overhead: int = 0) -> int:
    """Estimated peak growth of the resident bytes of a max-depth run: the float16 target features of depths
    1..depth, plus the larger of (a) the frontier of depth - 1 they are computed from and (b) the frontiers of
    depth - 2 and depth - 1 side by side while the latter was built (the depth-0 frontier, the input features, is
    resident before the measurement starts), plus :obj:`overhead` (the mean adjacencies and one float32 product)."""

    def stored(d: int) -> int:
        return sum(p['target_bytes'] for p in plan[1 : d + 1])

    run = stored(depth) + plan[depth - 1]['frontier_bytes']
    grow = stored(depth - 1) + plan[depth - 2]['frontier_bytes'] + plan[depth - 1]['frontier_bytes'] if depth > 1 else 0
    return max(run, grow) + overhead


def child_naive(cache: str, budget_gib: float, max_depth: int) -> Dict[str, Any]:
    data, *_ = _load(cache)
    nodes = {t: int(data[t].num_nodes) for t in data.node_types}
    widths = {t: int(data[t].x.size(1)) for t in data.node_types}
    plan = _metapath_plan(data.edge_types, nodes, widths, max_depth + 1)
    budget = budget_gib * GIB
    _warm_up(data)
    mem = PeakMemory()
    mem.reset()
    t_all, c_all = time.perf_counter(), time.process_time()
    adjs = {}
    for et in data.edge_types:
        src, _, dst = et
        adjs[et] = _mean_adj(data[et].edge_index, nodes[src], nodes[dst])
    overhead = sum(
        sum(t.numel() * t.element_size() for t in (a.crow_indices(), a.col_indices(), a.values()))
        for a in adjs.values()
    )
    overhead += max(nodes.values()) * max(widths.values()) * 4
    frontier: Dict[str, List[torch.Tensor]] = {t: [data[t].x] for t in data.node_types}  # depth 0: the features
    stored: List[torch.Tensor] = []  # the target features of every metapath, float16
    rows, stop, factor = [], None, 1.0  # factor: measured / estimated peak of the last depth (allocator overhead)
    elapsed = time.perf_counter() - t_all  # time of every finished step (a max-depth-L run = this + its target step)
    elapsed_cpu = time.process_time() - c_all
    for depth in range(1, max_depth + 1):
        need = _naive_peak(plan, depth, overhead)
        if need * factor > budget:
            stop = (
                f'stopped before depth {depth}: it needs an estimated {need * factor / GIB:.2f} GiB '
                f'({plan[depth]["target_metapaths"]} new target metapaths) > budget {budget_gib:g} GiB'
            )
            break
        t0, c0 = time.perf_counter(), time.process_time()
        # the target step: the walks of length `depth` that end at the target, into one float16 block per width
        # (a float32 product is converted in place into its slot, so freed temporaries are reused at once)
        jobs = [(et, h) for et in data.edge_types if et[2] == TARGET for h in frontier[et[0]]]
        counts = Counter(h.size(1) for _, h in jobs)
        blocks = {w: torch.empty((c, nodes[TARGET], w), dtype=torch.float16) for w, c in counts.items()}
        used = dict.fromkeys(blocks, 0)
        new_target = []
        for et, h in jobs:
            slot = blocks[h.size(1)][used[h.size(1)]]
            used[h.size(1)] += 1
            slot.copy_(torch.sparse.mm(adjs[et], h))
            new_target.append(slot)
        del jobs, blocks, h
        stored.extend(new_target)
        t_target, c_target = time.perf_counter() - t0, time.process_time() - c0
        row = {
            'depth': depth,
            'target_metapaths': len(new_target),
            'stored_metapaths': len(stored),
            'stored_gib': sum(s.numel() * s.element_size() for s in stored) / GIB,
            'estimate_gib': need / GIB,
            'time_s': elapsed + t_target,
            'cpu_s': elapsed_cpu + c_target,
            'peak_mib': mem.mib(),
        }
        factor = max(1.0, row['peak_mib'] * 2**20 / need)
        rows.append(row)
        print(f'  naive depth {depth}: {json.dumps(row)}', file=sys.stderr, flush=True)
        assert len(new_target) == plan[depth]['target_metapaths']
        if depth == max_depth:
            stop = f'stopped after depth {depth} (--max-depth)'
            break
        need = _naive_peak(plan, depth + 1, overhead)
        if need * factor > budget:
            stop = (
                f'stopped after depth {depth}: depth {depth + 1} needs an estimated {need * factor / GIB:.2f} GiB '
                f'({need / GIB:.2f} GiB of tensors x {factor:.2f}, the measured / estimated peak of depth {depth}; '
                f'{plan[depth + 1]["target_metapaths"]} new target metapaths, a float32 frontier of '
                f'{plan[depth]["frontier_bytes"] / GIB:.2f} GiB on all node types) > budget {budget_gib:g} GiB'
            )
            break
        t1, c1 = time.perf_counter(), time.process_time()
        nxt: Dict[str, List[torch.Tensor]] = {t: [] for t in data.node_types}
        nxt[TARGET] = [h.float() for h in new_target]  # the target's frontier, re-read from its float16 copy
        for et in data.edge_types:  # the rest of the frontier, only needed to go one hop deeper
            src, _, dst = et
            if dst != TARGET:
                nxt[dst].extend(torch.sparse.mm(adjs[et], h) for h in frontier[src])
        frontier = nxt
        del nxt, new_target
        elapsed += t_target + time.perf_counter() - t1
        elapsed_cpu += c_target + time.process_time() - c1
    predicted = []
    for p in plan[1:]:
        need = _naive_peak(plan, p['depth'], overhead)
        predicted.append({'depth': p['depth'], 'target_metapaths': p['target_metapaths'], 'estimate_gib': need / GIB})
    return {'rows': rows, 'stop': stop, 'plan': predicted, 'factor': factor}


def _naive_features(data, depth: int) -> List[torch.Tensor]:
    """The target features (float32) of every metapath of length 1..depth (small depths only: a check)."""
    nodes = {t: int(data[t].num_nodes) for t in data.node_types}
    adjs = {et: _mean_adj(data[et].edge_index, nodes[et[0]], nodes[et[2]]) for et in data.edge_types}
    frontier = {t: [data[t].x] for t in data.node_types}
    out = []
    for _ in range(depth):
        nxt = {t: [] for t in data.node_types}
        for et in data.edge_types:
            nxt[et[2]].extend(torch.sparse.mm(adjs[et], h) for h in frontier[et[0]])
        frontier = nxt
        out.extend(frontier[TARGET])
    return out


# ----------------------------------------------------------------------------------------------------------
# 2. RpHGNN's pre-computation
# ----------------------------------------------------------------------------------------------------------
def _preset() -> Dict[str, Any]:
    from graphkit.configs import load_config

    return load_config('rphgnn', 'hgb-acm')


def child_precompute(cache: str, k: int, repeats: int, check: bool) -> Dict[str, Any]:
    from graphkit.nn.rphgnn import RpHGNNPrecompute

    data, *_ = _load(cache)
    cfg = _preset()['model']
    dtype = {'float16': torch.float16, 'bfloat16': torch.bfloat16, 'float32': torch.float32}[cfg['precompute_dtype']]
    module = RpHGNNPrecompute(k, TARGET, projection=cfg['projection'], use_input=cfg['use_input'], dtype=dtype)
    _warm_up(data)
    mem = PeakMemory()
    times, cpus, peaks = [], [], []
    groups = None
    for _ in range(repeats):
        groups = None
        mem.reset()
        w, c = time.perf_counter(), time.process_time()
        groups = module(data, torch.Generator().manual_seed(cfg['precompute_seed']))
        times.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
        peaks.append(mem.mib())
    out = {
        'k': k,
        'time_s': min(times),
        'cpu_s': min(cpus),
        'times': times,
        'peak_mib': max(peaks),
        'output_gib': sum(g.numel() * g.element_size() for g in groups) / GIB,
        'groups': len(groups),
        'shapes': [list(g.shape) for g in groups],
        'values_per_node': sum(g[0].numel() for g in groups),
    }
    if check:  # every slice of every group must be one of the naive metapath features of length <= 2k
        naive = _naive_features(data, 2 * k)
        worst = 0.0
        for g in groups:
            for s in range(g.size(1)):
                h = g[:, s].float()
                diffs = [float((h - n).abs().max()) for n in naive if n.shape == h.shape]
                diffs.append(float((h - data[TARGET].x).abs().max()) if h.shape == data[TARGET].x.shape else math.inf)
                worst = max(worst, min(diffs))
        out['check_max_abs_diff'] = worst
        out['check_naive_metapaths'] = len(naive)
    return out


# ----------------------------------------------------------------------------------------------------------
# 3. time to a validation Micro-F1
# ----------------------------------------------------------------------------------------------------------
class _Clock:
    """Wall time of a training run, with the test evaluation left out."""

    def __init__(self) -> None:
        self.start, self.paused = time.perf_counter(), 0.0

    def now(self) -> float:
        return time.perf_counter() - self.start - self.paused


def _fit_loop(clock, epoch_fn, eval_fn, max_epochs: int, patience: int, threshold: float) -> Dict[str, Any]:
    """Runs epochs; after each, validation (on the clock) and, at a new best mean(valid Micro, Macro-F1), the test
    (off the clock)."""
    best, best_row, reached, history, since = -1.0, None, None, [], 0
    for epoch in range(1, max_epochs + 1):
        loss = epoch_fn()
        valid = eval_fn('valid')
        t = clock.now()
        row = {'epoch': epoch, 'time_s': t, 'loss': loss, 'valid_micro': valid['micro_f1']}
        history.append(row)
        if reached is None and valid['micro_f1'] >= threshold:
            reached = {'epoch': epoch, 'time_s': t, 'valid_micro': valid['micro_f1']}
        score = (valid['micro_f1'] + valid['macro_f1']) / 2
        if score > best:
            best, since = score, 0
            p = time.perf_counter()
            test = eval_fn('test')
            clock.paused += time.perf_counter() - p
            best_row = {
                'epoch': epoch,
                'valid_micro': valid['micro_f1'],
                'valid_macro': valid['macro_f1'],
                'test_micro': test['micro_f1'],
                'test_macro': test['macro_f1'],
            }
        else:
            since += 1
        if epoch % 10 == 0:
            print(f'    epoch {epoch}: {t:.1f} s, valid micro {valid["micro_f1"]:.4f}', file=sys.stderr, flush=True)
        if since >= patience:
            break
    return {'reached': reached, 'best': best_row, 'epochs': len(history), 'total_s': clock.now(), 'history': history}


def child_train_rphgnn(cache: str, seed: int, max_epochs: int, patience: int, threshold: float) -> Dict[str, Any]:
    from types import SimpleNamespace

    from graphkit.metrics.classification import classification_metrics
    from graphkit.models import RpHGNN

    data, y, split, num_classes = _load(cache)
    preset = _preset()
    cfg, tr = preset['model'], preset['train']
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    mem = PeakMemory()
    mem.reset()
    clock = _Clock()
    model = RpHGNN.from_config(dict(cfg), SimpleNamespace(data=data, target=TARGET, num_classes=num_classes))
    groups = model.precompute(data, torch.Generator().manual_seed(cfg['precompute_seed']))
    precompute_s = clock.now()
    opt = torch.optim.Adam(model.parameters(), lr=tr['lr'], weight_decay=tr['weight_decay'])
    bs = tr['batch_size']

    def epoch_fn() -> float:
        model.train()
        idx = split['train'][torch.randperm(split['train'].numel(), generator=gen)]
        total = 0.0
        for b in idx.split(bs):
            opt.zero_grad()
            loss = F.cross_entropy(model([g[b] for g in groups]), y[b])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * b.numel()
        return total / idx.numel()

    @torch.no_grad()
    def eval_fn(name: str) -> Dict[str, float]:
        model.eval()
        idx = split[name]
        logits = torch.cat([model([g[b] for g in groups]) for b in idx.split(bs)])
        return classification_metrics(logits, y[idx])

    out = _fit_loop(clock, epoch_fn, eval_fn, max_epochs, patience, threshold)
    out.update(
        precompute_s=precompute_s,
        peak_mib=mem.mib(),
        params=sum(p.numel() for p in model.parameters()),
        config=f'K={cfg["num_iterations"]}, hidden {cfg["hidden_channels"]}, input drop {cfg["input_dropout"]}, '
        f'drop {cfg["dropout"]}, {cfg["merge"]} merge, batch {bs}, Adam lr {tr["lr"]}',
    )
    return out


def _baseline_model(name: str, data, num_classes: int, hidden: int, heads: int, dropout: float):
    from torch.nn import Linear, ModuleDict
    from torch_geometric.nn import HeteroConv, HGTConv, SAGEConv

    class Baseline(torch.nn.Module):
        # Per-type input Linear to `hidden`, two message-passing layers over all relations (ReLU + dropout),
        # a Linear classifier on the target type.
        def __init__(self) -> None:
            super().__init__()
            self.lins = ModuleDict({t: Linear(data[t].x.size(1), hidden) for t in data.node_types})
            self.convs = torch.nn.ModuleList()
            for _ in range(2):
                if name == 'rgcn':
                    conv = HeteroConv({et: SAGEConv(hidden, hidden, aggr='mean') for et in data.edge_types}, aggr='sum')
                else:
                    conv = HGTConv(hidden, hidden, data.metadata(), heads=heads)
                self.convs.append(conv)
            self.out = Linear(hidden, num_classes)

        def forward(self, x_dict, edge_index_dict):
            h = {t: F.dropout(self.lins[t](x), dropout, self.training) for t, x in x_dict.items()}
            for conv in self.convs:
                h = conv(h, edge_index_dict)
                h = {t: F.dropout(F.relu(v), dropout, self.training) for t, v in h.items()}
            return self.out(h[TARGET])

    return Baseline()


def child_train_baseline(
    cache: str, name: str, seed: int, max_epochs: int, patience: int, threshold: float, hp: Dict[str, Any]
) -> Dict[str, Any]:
    from graphkit.metrics.classification import classification_metrics

    data, y, split, num_classes = _load(cache)
    torch.manual_seed(seed)
    mem = PeakMemory()
    mem.reset()
    clock = _Clock()
    model = _baseline_model(name, data, num_classes, hp['hidden'], hp['heads'], hp['dropout'])
    opt = torch.optim.Adam(model.parameters(), lr=hp['lr'], weight_decay=hp['weight_decay'])
    x_dict, ei_dict = data.x_dict, data.edge_index_dict
    state = {}

    def epoch_fn() -> float:
        model.train()
        opt.zero_grad()
        loss = F.cross_entropy(model(x_dict, ei_dict)[split['train']], y[split['train']])
        loss.backward()
        opt.step()
        state.clear()
        return float(loss.detach())

    @torch.no_grad()
    def eval_fn(split_name: str) -> Dict[str, float]:
        if 'logits' not in state:  # one full-batch forward gives valid and test
            model.eval()
            state['logits'] = model(x_dict, ei_dict)
        idx = split[split_name]
        return classification_metrics(state['logits'][idx], y[idx])

    out = _fit_loop(clock, epoch_fn, eval_fn, max_epochs, patience, threshold)
    out.update(
        precompute_s=0.0,
        peak_mib=mem.mib(),
        params=sum(p.numel() for p in model.parameters()),
        config=(
            f'2 x HeteroConv(SAGEConv mean per relation, sum), hidden {hp["hidden"]}'
            if name == 'rgcn'
            else f'2 x HGTConv, hidden {hp["hidden"]}, {hp["heads"]} heads'
        )
        + f', dropout {hp["dropout"]}, full batch, Adam lr {hp["lr"]}, wd {hp["weight_decay"]}',
    )
    return out


# ----------------------------------------------------------------------------------------------------------
# the parent
# ----------------------------------------------------------------------------------------------------------
def _child(args, kind: str, **kwargs) -> Dict[str, Any]:
    cmd = [sys.executable, os.path.abspath(__file__), '--child', kind, '--threads', str(args.threads)]
    cmd += ['--child-args', json.dumps(kwargs)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f'child {kind} {kwargs} failed with exit code {proc.returncode}')
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f'[{kind} {kwargs.get("k", kwargs.get("name", ""))}] done in {time.perf_counter() - t:.0f} s', flush=True)
    return out


def _fit(xs: List[float], ys: List[float]) -> Tuple[float, float, float]:
    """Least-squares y = a + b x: (a, b, R^2)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    b = sxy / sxx if sxx else 0.0
    a = my - b * mx
    ss = sum((y - my) ** 2 for y in ys)
    r2 = 1 - sum((y - a - b * x) ** 2 for x, y in zip(xs, ys)) / ss if ss else 1.0
    return a, b, r2


def _ratio(a: Optional[float], b: Optional[float]) -> str:
    return f'{a / b:.1f}x' if a is not None and b else 'n/a'


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--root', default='../shared/data', help='folder holding hgb/ACM.zip')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--seed', type=int, default=0, help='split seed (stratified 80/20 of label.dat) and training seed')
    p.add_argument('--ks', type=int, nargs='+', default=[1, 2, 3, 4, 5, 6], help='K values of the growth sweep')
    p.add_argument('--repeats', type=int, default=2, help='timed pre-computations per K (the minimum is reported)')
    p.add_argument('--memory-budget-gib', type=float, default=10.0, help='memory budget of the naive metapaths')
    p.add_argument('--max-depth', type=int, default=12, help='deepest naive metapath length tried')
    p.add_argument('--threshold', type=float, default=0.90, help='validation Micro-F1 to reach')
    p.add_argument('--max-epochs', type=int, default=120, help='RpHGNN epochs at most (the preset allows 500)')
    p.add_argument('--baseline-max-epochs', type=int, default=200, help='R-GCN epochs at most')
    p.add_argument('--hgt-max-epochs', type=int, default=40, help='HGT epochs at most (about 7 s each here)')
    p.add_argument('--patience', type=int, default=30, help='epochs without a better mean(valid Micro, Macro-F1)')
    p.add_argument('--baselines', nargs='*', default=['rgcn', 'hgt'], choices=['rgcn', 'hgt'])
    p.add_argument('--hidden', type=int, default=64, help='baseline hidden width')
    p.add_argument('--heads', type=int, default=4, help='HGT attention heads')
    p.add_argument('--rgcn-lr', type=float, default=1e-3, help='R-GCN Adam lr (5e-3 and 1e-2 diverge early here)')
    p.add_argument('--hgt-lr', type=float, default=5e-3, help='HGT Adam lr')
    p.add_argument('--baseline-dropout', type=float, default=0.5)
    p.add_argument('--baseline-weight-decay', type=float, default=5e-4)
    p.add_argument(
        '--skip',
        nargs='*',
        default=[],
        choices=['naive', 'growth', 'train', 'rphgnn'],
        help='parts to skip ("rphgnn": its training run)',
    )
    p.add_argument('--json', default=None, help='write every result to this file')
    p.add_argument('--from-json', default=None, help='print the tables of an earlier --json file, run nothing')
    p.add_argument('--child', help=argparse.SUPPRESS)
    p.add_argument('--child-args', help=argparse.SUPPRESS)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        fn = {
            'naive': child_naive,
            'precompute': child_precompute,
            'rphgnn': child_train_rphgnn,
            'baseline': child_train_baseline,
        }[args.child]
        print(json.dumps(fn(**json.loads(args.child_args))))
        return
    if args.from_json:
        with open(args.from_json) as f:
            res = json.load(f)
        res['precompute'] = {int(k): v for k, v in res.get('precompute', {}).items()}
        return report(argparse.Namespace(**res['args']), res, res['machine'])

    import torch_geometric

    res: Dict[str, Any] = {'load_start': _load_avg(), 'args': vars(args)}
    machine = (
        f'{_cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__}, PyG {torch_geometric.__version__}, '
        f'{args.threads} thread(s) per process'
    )
    res['machine'] = machine
    print(f'Machine: {machine}; load average at start: {res["load_start"]}', flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        cache = os.path.join(tmp, 'acm.pt')
        t = time.perf_counter()
        res['graph'] = info = _save_dataset(args.root, args.seed, cache)
        print(f'HGB ACM loaded in {time.perf_counter() - t:.1f} s: {json.dumps(info)}', flush=True)
        ks = sorted(set(args.ks))
        naive_k = sorted({k for k in ks if 2 * k <= args.max_depth} | ({1} if 'naive' not in args.skip else set()))
        if 'growth' not in args.skip or 'naive' not in args.skip:
            todo = ks if 'growth' not in args.skip else naive_k
            res['precompute'] = {
                k: _child(args, 'precompute', cache=cache, k=k, repeats=args.repeats, check=k == 1) for k in todo
            }
        if 'naive' not in args.skip:
            res['naive'] = _child(
                args, 'naive', cache=cache, budget_gib=args.memory_budget_gib, max_depth=args.max_depth
            )
        if 'train' not in args.skip:
            common = dict(cache=cache, seed=args.seed, patience=args.patience, threshold=args.threshold)
            res['train'] = {}
            if 'rphgnn' not in args.skip:
                res['train']['rphgnn'] = _child(args, 'rphgnn', max_epochs=args.max_epochs, **common)
            hp = dict(
                hidden=args.hidden,
                heads=args.heads,
                dropout=args.baseline_dropout,
                weight_decay=args.baseline_weight_decay,
            )
            for name in args.baselines:
                epochs = args.hgt_max_epochs if name == 'hgt' else args.baseline_max_epochs
                lr = args.hgt_lr if name == 'hgt' else args.rgcn_lr
                res['train'][name] = _child(
                    args, 'baseline', name=name, max_epochs=epochs, hp=dict(hp, lr=lr), **common
                )
    res['load_end'] = _load_avg()
    report(args, res, machine)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=1, default=str)


def report(args, res: Dict[str, Any], machine: str) -> None:
    print(f'\nMachine: {machine}. Load average (1/5/15 min): {res["load_start"]} at start, {res["load_end"]} at end.')
    g = res['graph']
    print(
        f'HGB ACM: nodes {g["nodes"]}, widths {g["widths"]}, split {g["split"]} (test = {g["test_file"]}); '
        f'peak memory = growth of VmHWM over the RSS before the measured call, each method in its own process.'
    )
    pre = res.get('precompute', {})
    if 1 in pre and 'check_max_abs_diff' in pre[1]:
        c = pre[1]
        print(
            f'Check: every slice of RpHGNN K=1 groups equals one of the {c["check_naive_metapaths"]} naive metapath '
            f'features of length <= 2 (or the raw input) up to {c["check_max_abs_diff"]:.2e} (float16 storage).'
        )
    if 'naive' in res:
        nv = res['naive']
        by_depth = {r['depth']: r for r in nv['rows']}
        plan = {r['depth']: r for r in nv['plan']}
        print(f'\n### Pre-computation: RpHGNN vs naive metapaths (budget {args.memory_budget_gib:g} GiB)\n')
        print(f'Naive variant: {nv["stop"]}.\n')
        print(
            '| depth L | new target metapaths | stored metapaths | stored GiB (float16) | estimated peak GiB '
            '(tensors) | measured peak GiB | wall s | CPU s |'
        )
        print('|---:|---:|---:|---:|---:|---:|---:|---:|')
        for r in nv['rows']:
            print(
                f'| {r["depth"]} | {r["target_metapaths"]} | {r["stored_metapaths"]} | {r["stored_gib"]:.2f} | '
                f'{r["estimate_gib"]:.2f} | {r["peak_mib"] / 1024:.2f} | {r["time_s"]:.1f} | {r["cpu_s"]:.1f} |'
            )
        for d in sorted(plan):
            if d not in by_depth and d <= args.max_depth:
                q = plan[d]
                print(f'| {d} | {q["target_metapaths"]} | – | – | {q["estimate_gib"]:.1f} | does not fit | – | – |')
        print(
            '\nEqual receptive field (RpHGNN K iterations = 2K hops, against naive metapaths of every length <= 2K); '
            'ratio = naive / RpHGNN:\n'
        )
        print(
            '| K | hops | RpHGNN wall s | naive wall s | wall ratio | RpHGNN CPU s | naive CPU s | CPU ratio | '
            'RpHGNN peak MiB | naive peak MiB | memory ratio |'
        )
        print('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
        for k in sorted(pre):
            r, n = pre[k], by_depth.get(2 * k)
            if 2 * k > args.max_depth:
                continue
            head = f'| {k} | {2 * k} | {r["time_s"]:.2f} |'
            if n is None:
                est = plan.get(2 * k, {}).get('estimate_gib')
                miss = f'does not fit (est. {est:,.1f} GiB)' if est is not None else 'not run'
                print(f'{head} {miss} | – | {r["cpu_s"]:.2f} | – | – | {r["peak_mib"]:.0f} | – | – |')
                continue
            print(
                f'{head} {n["time_s"]:.2f} | {_ratio(n["time_s"], r["time_s"])} | {r["cpu_s"]:.2f} | '
                f'{n["cpu_s"]:.2f} | {_ratio(n["cpu_s"], r["cpu_s"])} | {r["peak_mib"]:.0f} | '
                f'{n["peak_mib"]:.0f} | {_ratio(n["peak_mib"], r["peak_mib"])} |'
            )
    if 'growth' not in args.skip and pre:
        ks = sorted(pre)
        print('\n### RpHGNN pre-computation against K\n')
        print('| K | wall s (min of runs) | CPU s (min) | peak MiB | groups GiB (float16) | values per target node |')
        print('|---:|---:|---:|---:|---:|---:|')
        for k in ks:
            r = pre[k]
            print(
                f'| {k} | {r["time_s"]:.2f} | {r["cpu_s"]:.2f} | {r["peak_mib"]:.0f} | {r["output_gib"]:.3f} | '
                f'{r["values_per_node"]:,} |'
            )
        if len(ks) >= 2:
            print()
            for label, key, unit in (
                ('wall time', 'time_s', 's'),
                ('CPU time', 'cpu_s', 's'),
                ('peak memory', 'peak_mib', 'MiB'),
                ('groups', 'output_gib', 'GiB'),
            ):
                ys = [pre[k][key] for k in ks]
                a, b, r2 = _fit(ks, ys)
                exps = []
                for sub in (ks, [k for k in ks if k >= 2]):
                    ok = len(sub) >= 2 and all(pre[k][key] > 0 for k in sub)
                    logs = [math.log(pre[k][key]) for k in sub] if ok else []
                    exps.append(_fit([math.log(k) for k in sub], logs)[1] if ok else float('nan'))
                print(
                    f'- {label}: {a:.3g} + {b:.3g} {unit} x K (least squares over K = {ks[0]}..{ks[-1]}, '
                    f'R^2 = {r2:.3f}); log-log exponent {exps[0]:.2f} over all K, {exps[1]:.2f} over K >= 2 '
                    f'(1 = linear; K = 1 has no squashing step)'
                )
    if 'train' in res:
        tr = res['train']
        rp = tr.get('rphgnn', {'reached': None})
        print(f'\n### Time to validation Micro-F1 >= {args.threshold:g} (seed {args.seed})\n')
        print(
            '| method | parameters | pre-compute s | time to threshold s | epochs to threshold | epochs run | '
            's / epoch | best epoch | valid Micro-F1 | test Micro-F1 | test Macro-F1 | peak MiB |'
        )
        print('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
        for name, r in tr.items():
            reached, best = r['reached'], r['best']
            per_epoch = (r['total_s'] - r['precompute_s']) / max(r['epochs'], 1)
            t = f'{reached["time_s"]:.1f}' if reached else f'not reached ({r["total_s"]:.0f})'
            e = str(reached['epoch']) if reached else '–'
            print(
                f'| {name} | {r["params"]:,} | {r["precompute_s"]:.1f} | {t} | {e} | {r["epochs"]} | {per_epoch:.2f} | '
                f'{best["epoch"]} | {100 * best["valid_micro"]:.2f} | {100 * best["test_micro"]:.2f} | '
                f'{100 * best["test_macro"]:.2f} | {r["peak_mib"]:.0f} |'
            )
        print()
        for name, r in tr.items():
            print(f'- {name}: {r["config"]}')
        for name, r in tr.items():
            if name == 'rphgnn':
                continue
            a = r['reached']['time_s'] if r['reached'] else None
            b = rp['reached']['time_s'] if rp['reached'] else None
            print(
                f'- time to threshold, {name} / RpHGNN: {_ratio(a, b)} (the paper claims RpHGNN is "230% faster" than '
                f'its most effective baseline, i.e. a ratio of about 3.3x)'
            )


if __name__ == '__main__':
    main()
