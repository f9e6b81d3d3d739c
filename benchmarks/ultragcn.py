r"""UltraGCN speed and memory: training-epoch time, full-evaluation time and peak memory on ML-1M and Gowalla,
and the chunked evaluator (:mod:`graphkit.metrics.ranking`) against a dense-mask evaluator (the official code's
float32 :math:`|U| \times |I|` training mask), as time and memory ratios in one run.

.. code-block:: bash

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/ultragcn.py --root ../shared/data --datasets ml-1m gowalla

Each measurement runs in a fresh child process, so the peak resident memory (``ru_maxrss``) it reports belongs
to that measurement alone: ``peak_mb`` is the child's high-water mark, ``extra_mb`` its growth over the state
right before the measured call (data and model loaded). Epoch time is extrapolated from ``--steps`` timed
training steps (after 3 warm-up steps) with each dataset's official configuration; ``cpu_s`` is user + system
CPU time of the same steps. Numbers depend on the machine's load: state it next to them.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import resource
import sys
import time
from typing import Any, Dict

import torch


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _setup(name: str, root: str):
    from graphkit.configs import load_config
    from graphkit.data.recsys import load_recsys_dataset

    ds = load_recsys_dataset(name, root)
    cfg = load_config('ultragcn', name)
    return ds, cfg


def _train_steps(name: str, root: str, steps: int, out: Dict[str, Any]) -> None:
    from graphkit.models import UltraGCN

    ds, cfg = _setup(name, root)
    t = time.perf_counter()
    model = UltraGCN.from_config(dict(cfg['model']), ds.data)
    out['precompute_s'] = time.perf_counter() - t
    opt = torch.optim.Adam(model.parameters(), lr=cfg['train']['lr'])
    pos, bs = ds.data.edge_label_index, cfg['train']['batch_size']
    gen = torch.Generator().manual_seed(0)
    base = _rss_mb()

    def step():
        idx = torch.randint(0, pos.size(1), (bs,), generator=gen)
        batch = pos[:, idx]
        opt.zero_grad()
        loss = model.loss(batch, model.sample_negatives(batch[0], gen))
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    t, c = time.perf_counter(), _cpu()
    for _ in range(steps):
        step()
    wall, cpu = time.perf_counter() - t, _cpu() - c
    per_epoch = math.ceil(pos.size(1) / bs)
    config = {k: cfg['model'][k] for k in ('embedding_dim', 'negative_num')}
    out.update(
        step_s=wall / steps,
        steps_per_epoch=per_epoch,
        epoch_s=wall / steps * per_epoch,
        epoch_cpu_s=cpu / steps * per_epoch,
        train_extra_mb=_rss_mb() - base,
        train_peak_mb=_rss_mb(),
        neg_scoring=model._resolve_mode(model.negative_num),
        config={**config, 'batch_size': bs},
    )


def _dense_mask_eval(user_emb, item_emb, train, test, k=20, batch=2048):
    r"""The official evaluation: a dense float32 |U| x |I| training mask, scores per user batch, top-k."""
    U, I = user_emb.size(0), item_emb.size(0)
    mask = torch.zeros(U, I)
    mask[train[0], train[1]] = -math.inf
    truth = [set() for _ in range(U)]
    for u, i in test.t().tolist():
        truth[u].add(i)
    recall = 0.0
    for s in range(0, U, batch):
        scores = user_emb[s : s + batch] @ item_emb.t() + mask[s : s + batch]
        top = scores.topk(k, dim=1).indices.tolist()
        for r, row in enumerate(top):
            t = truth[s + r]
            if t:
                recall += len(t.intersection(row)) / len(t)
    return recall / U


def _evaluate(name: str, root: str, mode: str, out: Dict[str, Any]) -> None:
    from graphkit.metrics import dot_product_ranking
    from graphkit.ops import pairs_to_csr as _csr

    ds, _ = _setup(name, root)
    gen = torch.Generator().manual_seed(0)
    emb = torch.randn(ds.num_users + ds.num_items, 64, generator=gen) * 0.1
    user_emb, item_emb = emb[: ds.num_users], emb[ds.num_users :]
    exclude = _csr(ds.train, ds.num_users, ds.num_items)
    truth = _csr(ds.test, ds.num_users, ds.num_items)
    base = _rss_mb()
    t = time.perf_counter()
    if mode == 'chunked':
        res = dot_product_ranking(user_emb, item_emb, truth, exclude, [20], chunk_size=2048)
        out['recall@20'] = res['recall@20']
    else:
        out['recall@20'] = _dense_mask_eval(user_emb, item_emb, ds.train, ds.test)
    out.update(eval_s=time.perf_counter() - t, eval_extra_mb=_rss_mb() - base, eval_peak_mb=_rss_mb(), base_mb=base)


def _child(fn, *args) -> Dict[str, Any]:
    ctx = mp.get_context('spawn')
    with ctx.Manager() as manager:
        out = manager.dict()
        p = ctx.Process(target=fn, args=(*args, out))
        p.start()
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f'{fn.__name__}{args} failed with exit code {p.exitcode}')
        return dict(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--root', default='../shared/data')
    parser.add_argument('--datasets', nargs='+', default=['ml-1m', 'gowalla'])
    parser.add_argument('--steps', type=int, default=30, help='timed training steps per dataset')
    parser.add_argument('--no-dense', action='store_true', help='skip the dense-mask evaluator')
    parser.add_argument('--json', default=None, help='write the results to this file')
    args = parser.parse_args()
    results: Dict[str, Any] = {'threads': torch.get_num_threads(), 'load_avg': os.getloadavg()}
    for name in args.datasets:
        row: Dict[str, Any] = {}
        row['train'] = _child(_train_steps, name, args.root, args.steps)
        row['eval_chunked'] = _child(_evaluate, name, args.root, 'chunked')
        if not args.no_dense:
            row['eval_dense_mask'] = _child(_evaluate, name, args.root, 'dense')
            c, d = row['eval_chunked'], row['eval_dense_mask']
            row['dense_over_chunked'] = {
                'time': d['eval_s'] / c['eval_s'],
                'extra_memory': d['eval_extra_mb'] / max(c['eval_extra_mb'], 1e-9),
                'peak_memory': d['eval_peak_mb'] / c['eval_peak_mb'],
            }
        results[name] = row
        tr, ev = row['train'], row['eval_chunked']
        print(
            f'{name}: epoch {tr["epoch_s"]:.1f} s wall / {tr["epoch_cpu_s"]:.1f} s CPU '
            f'({tr["steps_per_epoch"]} steps of {tr["step_s"] * 1000:.0f} ms, {tr["neg_scoring"]}), '
            f'precompute {tr["precompute_s"]:.1f} s; eval {ev["eval_s"]:.2f} s, '
            f'peak {ev["eval_peak_mb"]:.0f} MB (+{ev["eval_extra_mb"]:.0f} MB)',
            flush=True,
        )
        if 'dense_over_chunked' in row:
            r, d = row['dense_over_chunked'], row['eval_dense_mask']
            print(
                f'  dense-mask evaluator: {d["eval_s"]:.2f} s, peak {d["eval_peak_mb"]:.0f} MB '
                f'(+{d["eval_extra_mb"]:.0f} MB): x{r["time"]:.2f} time, x{r["extra_memory"]:.1f} extra memory; '
                f'same recall@20: {abs(d["recall@20"] - ev["recall@20"]) < 1e-4}',
                flush=True,
            )
    results['load_avg_end'] = os.getloadavg()
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=2)
    json.dump(results, sys.stdout, indent=1)
    print()


if __name__ == '__main__':
    main()
