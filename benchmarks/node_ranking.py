"""Per-node full-ranking cost of an NCN / NCNC model (what ``graphkit analyze tc --run RUN`` spends its time on).

    python benchmarks/node_ranking.py [--datasets cora ogbl-ddi] [--root ../shared/data] [--queries 128]
                                      [--models ncn ncnc] [--threads 2] [--run RUN_DIR]

For each dataset and model: the preset's model (freshly initialised, or the best model of ``--run``) encodes the
graph once, then :func:`graphkit.metrics.node_link.split_node_link_metrics` ranks every node against the first
``--queries`` test query nodes (64 per chunk). Reported: wall and process-CPU seconds, minor page faults, seconds
per query, and the full-ranking time extrapolated to every test query node (linear in the queries). The same script
runs on an older checkout (``PYTHONPATH=OLD_CHECKOUT python benchmarks/node_ranking.py ...``) for a same-machine
A/B: arguments the older API lacks are left out.
"""

import argparse
import inspect
import resource
import tempfile
import time

import torch

from graphkit.configs import load_config
from graphkit.metrics import node_link
from graphkit.tasks import TrainOptions
from graphkit.tasks.link import LinkTask
from graphkit.tasks.run import load_run


def _usage():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), r.ru_utime + r.ru_stime, r.ru_minflt


def measure(model_name, dataset, root, queries, run_dir=None):
    if run_dir is not None:
        _, task, model = load_run(run_dir, root, 0, 'cpu')
    else:
        with tempfile.TemporaryDirectory() as out:
            opts = TrainOptions(model=model_name, dataset=dataset, root=root, out=out, quiet=True)
            task = LinkTask(opts, load_config(model_name, dataset))
            task.prepare(0)
            model, _ = task.build()
    model.eval()
    split, n, adj = task.split, task.num_nodes, task.test_adj
    truth = torch.cat([split['test']['edge'].t(), split['test']['edge'].t().flip(0)], 1)
    all_queries = torch.unique(truth[0])
    q = all_queries[:queries]
    kwargs = {}
    if 'pair_chunk_size' in inspect.signature(node_link.node_link_metrics).parameters:
        kwargs['pair_chunk_size'] = 2048
    known = torch.cat([split['train']['edge'].t(), split['valid']['edge'].t()], 1)
    t0, c0, f0 = _usage()  # what analyze tc runs: encode on the test-time graph, then rank chunk by chunk
    node_link.node_link_metrics(
        model, task.x, adj, split['test']['edge'].t(), n, exclude_edges=known, queries=q, chunk_size=64, **kwargs
    )
    t1, c1, f1 = _usage()
    wall, cpu = t1 - t0, c1 - c0
    return {
        'queries': q.numel(),
        'all_queries': all_queries.numel(),
        'wall': wall,
        'cpu': cpu,
        'faults': f1 - f0,
        'per_query': wall / q.numel(),
        'extrapolated': wall / q.numel() * all_queries.numel(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--datasets', nargs='+', default=['cora'])
    parser.add_argument('--models', nargs='+', default=['ncn'])
    parser.add_argument('--root', default=None, help='data root (Cora ships in datasets/)')
    parser.add_argument('--queries', type=int, default=128)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--run', default=None, help='score with the best model of this run directory instead')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f'torch {torch.__version__}, {args.threads} threads')
    print(
        f'{"model / dataset":<22}{"queries":>9}{"wall s":>9}{"cpu s":>9}{"faults":>10}{"s/query":>9}'
        f'{"all queries":>13}{"full s (est.)":>15}'
    )
    jobs = [(None, None)] if args.run else [(m, d) for d in args.datasets for m in args.models]
    for name, dataset in jobs:  # with --run: its model and dataset, once
        r = measure(name, dataset, args.root, args.queries, args.run)
        label = f'{args.run}' if args.run else f'{name} / {dataset}'
        print(
            f'{label:<22}{r["queries"]:>9}{r["wall"]:>9.2f}{r["cpu"]:>9.2f}{r["faults"]:>10}'
            f'{r["per_query"]:>9.4f}{r["all_queries"]:>13}{r["extrapolated"]:>15.1f}'
        )


if __name__ == '__main__':
    main()
