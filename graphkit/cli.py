r"""The ``graphkit`` command line: thin wrappers that resolve names and configs, then call a task.

.. code-block:: bash

    graphkit train gae --dataset cora --runs 10
    graphkit train gcn --dataset cora --runs 10
    graphkit train cn --dataset ogbl-ddi --root ../shared/data
    graphkit evaluate runs/gae-cora
    graphkit analyze tc --dataset cora --run runs/gae-cora
    graphkit analyze clusters runs/pamc-cora
    graphkit train ncn --dataset edges:my_graph.csv --out runs/mine
    graphkit predict runs/mine --pairs candidates.csv
    graphkit recommend runs/ultragcn-mine --users all --k 20
    graphkit datasets
    graphkit tune ncn --dataset cora --trials 20 --out tunes/ncn-cora --set train.epochs=20
    graphkit compare runs/gae-cora runs/ncn-cora tunes/ncn-cora --out compare/
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

__all__ = ['main', 'build_parser', 'format_table']

#: The exit code of a ``graphkit train --stop-after`` that suspended a run (resumable; EX_TEMPFAIL).
EXIT_SUSPENDED = 75


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='graphkit', description=__doc__.split('\n')[0].strip('r"'))
    sub = parser.add_subparsers(dest='command', required=True)

    train = sub.add_parser('train', help='train and evaluate a model on a dataset')
    train.add_argument('model', help='registered model name (graphkit datasets lists datasets)')
    train.add_argument('--dataset', required=True, help='dataset name, e.g. cora or ogbl-ddi')
    train.add_argument('--root', default=None, help='data root (default: $GRAPHKIT_DATA, then datasets/)')
    train.add_argument('--config', default=None, help='a YAML file overriding the preset')
    train.add_argument(
        '--set',
        dest='overrides',
        action='append',
        default=[],
        metavar='KEY=VALUE',
        help='override one config key, e.g. --set train.lr=0.001 (repeatable)',
    )
    train.add_argument('--runs', type=int, default=None, help='number of runs (seeds seed..seed+runs-1)')
    train.add_argument('--seed', type=int, default=0, help='seed of the first run (default: 0)')
    train.add_argument('--epochs', type=int, default=None, help='shortcut for --set train.epochs=E')
    train.add_argument('--device', default='cpu', help="'cpu' or 'cuda' (default: cpu)")
    train.add_argument(
        '--threads',
        type=int,
        default=None,
        help="CPU threads of torch (default: torch's choice; 1 is fastest on busy or small machines)",
    )
    train.add_argument('--out', default=None, help='run directory (default: runs/<model>-<dataset>-<time>)')
    train.add_argument('--resume', action='store_true', help='continue the run in --out from its checkpoint')
    train.add_argument(
        '--stop-after',
        type=float,
        default=None,
        metavar='SECONDS',
        help='checkpoint and exit (code 75) at the first epoch end after SECONDS of this call; continue with --resume',
    )
    train.add_argument(
        '--force-reload',
        action='store_true',
        help="delete the dataset's cache first, so that its raw files are parsed again",
    )
    train.add_argument(
        '--init-from',
        default=None,
        metavar='RUN_DIR',
        help="initialise each run from RUN_DIR's best model states (non-strict)",
    )
    train.add_argument('--quiet', action='store_true', help='no progress bars or per-epoch lines')
    train.add_argument('--print-config', action='store_true', help='print the resolved config and exit')
    train.add_argument(
        '--log',
        choices=('none', 'tensorboard'),
        default='none',
        help='also log scalars to RUN_DIR/tensorboard (needs the tensorboard extra) (default: none)',
    )

    tune = sub.add_parser('tune', help='hyperparameter search with Optuna (the tune extra), one run directory a trial')
    tune.add_argument('model', help='registered model name')
    tune.add_argument('--dataset', required=True)
    tune.add_argument(
        '--space',
        default=None,
        metavar='FILE.yaml',
        help='search space: a YAML file or a shipped <model>/<dataset> (default: the shipped space of the pair)',
    )
    tune.add_argument('--trials', type=int, required=True, help='complete trials of the whole study (all processes)')
    tune.add_argument('--out', default=None, help='study folder (default: tunes/<model>-<dataset>)')
    tune.add_argument('--storage', default=None, help='Optuna RDB URL (default: sqlite:///OUT/study.db)')
    tune.add_argument('--study', default=None, help='study name in the storage (default: <model>-<dataset>)')
    tune.add_argument('--timeout', type=float, default=None, metavar='S', help='start no trial after S seconds')
    tune.add_argument('--pruner', choices=('median', 'none'), default='median', help='(default: median)')
    tune.add_argument(
        '--set',
        dest='overrides',
        action='append',
        default=[],
        metavar='KEY=VALUE',
        help='fix one config key for every trial, e.g. --set train.epochs=20 (repeatable)',
    )
    tune.add_argument('--config', default=None, help='a YAML file overriding the preset for every trial')
    tune.add_argument('--root', default=None, help='data root (default: $GRAPHKIT_DATA, then datasets/)')
    tune.add_argument('--runs', type=int, default=1, help='runs (seeds) per trial; the objective is their mean')
    tune.add_argument('--seed', type=int, default=0, help="seed of each trial's first run (default: 0)")
    tune.add_argument('--sampler-seed', type=int, default=None, help='seed of the TPE sampler (one process only)')
    tune.add_argument('--device', default='cpu')
    tune.add_argument('--threads', type=int, default=None, help='CPU threads of torch')
    tune.add_argument('--log', choices=('none', 'tensorboard'), default='none', help='per-trial logging')

    compare = sub.add_parser(
        'compare', help='a table (Markdown, CSV) and learning curves (PNG) of run directories and tune studies'
    )
    compare.add_argument('dirs', nargs='+', metavar='DIR', help='run directories and/or graphkit tune study folders')
    compare.add_argument('--out', default=None, help='where compare.csv and the PNGs go (default: compare/)')
    compare.add_argument('--storage', default=None, help="a study's Optuna URL, if not OUT/study.db")

    evaluate = sub.add_parser('evaluate', help="re-evaluate a run directory's best models")
    evaluate.add_argument('run_dir')
    evaluate.add_argument('--root', default=None, help='data root, if not the one used for training')
    evaluate.add_argument('--device', default='cpu')

    analyze = sub.add_parser('analyze', help='analyses of datasets and finished runs (tc, clusters)')
    kinds = analyze.add_subparsers(dest='analysis', required=True)
    clusters = kinds.add_parser(
        'clusters', help="a clustering run's embedding in 2-D by cluster and by class, and its matched confusion matrix"
    )
    clusters.add_argument('run_dir', metavar='RUN_DIR', help='a finished graphkit train run of a clustering model')
    clusters.add_argument('--run', type=int, default=0, help='which run of RUN_DIR (default: 0)')
    clusters.add_argument('--method', choices=('pca', 'tsne'), default='pca', help='2-D projection (default: pca)')
    clusters.add_argument('--out', default=None, help='output directory (default: RUN_DIR/clusters)')
    clusters.add_argument('--root', default=None, help='data root, if not the one used for training')
    clusters.add_argument('--device', default='cpu')
    tc = kinds.add_parser('tc', help='topological concentration vs per-node link-prediction performance')
    tc.add_argument('--dataset', required=True)
    tc.add_argument('--root', default=None, help='data root (default: $GRAPHKIT_DATA, then datasets/)')
    tc.add_argument('--run', default=None, metavar='RUN_DIR', help='a graphkit train run directory to analyse')
    tc.add_argument('--out', default=None, help='output directory (default: RUN_DIR/tc or tc-<dataset>)')
    tc.add_argument(
        '--seed',
        type=int,
        default=0,
        help="split and ATC seed without --run (with --run: the run's own seed) (default: 0)",
    )
    tc.add_argument('--K', type=int, default=1, help='hops of TC / ATC (default: 1)')
    tc.add_argument('--device', default='cpu')

    predict = sub.add_parser('predict', help="score candidate links with a link run's best model")
    predict.add_argument('run_dir', metavar='RUN_DIR', help='a finished graphkit train run of a link model')
    predict.add_argument('--pairs', required=True, metavar='FILE', help='two columns of node ids (original ids)')
    predict.add_argument('--run', type=int, default=0, help='which run of RUN_DIR (default: 0)')
    predict.add_argument('--out', default=None, help='output CSV src,dst,score (default: RUN_DIR/scores.csv)')
    predict.add_argument('--dataset', default=None, help='edges:NEW_PATH / pyg:NEW_PATH if the data file has moved')
    predict.add_argument('--root', default=None, help='data root, if not the one used for training')
    predict.add_argument('--chunk-size', type=int, default=65536, help='pairs scored at once (default: 65536)')
    predict.add_argument('--device', default='cpu')
    predict.add_argument('--quiet', action='store_true', help='no progress bar')
    recommend = sub.add_parser('recommend', help="top-K items per user with a recommendation run's best model")
    recommend.add_argument('run_dir', metavar='RUN_DIR', help='a finished graphkit train run of a recommend model')
    recommend.add_argument('--users', required=True, metavar='FILE|all', help="a file of user ids, or 'all'")
    recommend.add_argument('--k', type=int, default=20, help='items per user (default: 20)')
    recommend.add_argument(
        '--exclude-train',
        action=argparse.BooleanOptionalAction,
        default=True,
        help="mask each user's training items (default: on)",
    )
    recommend.add_argument('--run', type=int, default=0, help='which run of RUN_DIR (default: 0)')
    recommend.add_argument('--out', default=None, help='output CSV user,rank,item,score (default: RUN_DIR/recs.csv)')
    recommend.add_argument('--dataset', default=None, help='interactions:NEW_PATH if the data file has moved')
    recommend.add_argument('--root', default=None, help='data root, if not the one used for training')
    recommend.add_argument('--chunk-size', type=int, default=1024, help='users ranked at once (default: 1024)')
    recommend.add_argument('--device', default='cpu')
    recommend.add_argument('--quiet', action='store_true', help='no progress bar')

    datasets = sub.add_parser('datasets', help='list known datasets, where they are looked for, what is found')
    datasets.add_argument('--root', default=None)
    datasets.add_argument(
        '--clear-cache',
        action='store_true',
        help='delete the caches graphkit wrote under the root (processed/ files only; raw files are kept)',
    )
    return parser


def _fmt(stat: Dict[str, Optional[float]], scale: float = 100.0) -> str:
    if stat['mean'] is None:
        return '-'
    digits = 2 if scale == 100 else 4
    if stat['std'] is None:
        return f'{scale * stat["mean"]:.{digits}f}'
    return f'{scale * stat["mean"]:.{digits}f} ± {scale * stat["std"]:.{digits}f}'


def _check_device(device: str) -> None:
    import torch

    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"--device must be 'cpu', 'cuda' or 'cuda:N' (got '{device}')") from None
    if dev.type == 'cuda' and not torch.cuda.is_available():
        raise ValueError(f"--device '{device}': CUDA is not available in this torch build or on this machine")
    if dev.type not in ('cpu', 'cuda'):
        raise ValueError(f"--device must be 'cpu', 'cuda' or 'cuda:N' (got '{device}')")


def format_table(summary: Dict[str, Any]) -> str:
    """The final table of a run: each metric's mean ± std on each split the task reports (scores in %, errors
    such as MAE / RMSE as they are)."""
    from graphkit.metrics.names import metric_direction

    runs = len(summary['runs'])
    splits = summary['splits']
    lines = [
        f'{summary["model"]} on {summary["dataset"]}: {runs} run{"s" * (runs != 1)}, '
        f'{summary["num_parameters"]:,} parameters, {summary["wall_time_s"]:.1f} s',
        f'{"metric":<12}' + ''.join(f'{s:>18}' for s in splits),
    ]
    keys = list(dict.fromkeys(k for s in splits for k in summary[s]))
    none = {'mean': None, 'std': None}
    for key in keys:
        mark = ' *' if key == summary['metric'] else ''
        scale = 100.0 if metric_direction(key) == 'max' else 1.0
        lines.append(f'{key + mark:<12}' + ''.join(f'{_fmt(summary[s].get(key, none), scale):>18}' for s in splits))
    lines.append(f'* selection metric; reported: {summary["selection"]}')
    best = summary.get('max_over_epochs')
    if best:  # clustering: the official PamC protocol, only when asked for (eval.max_over_epochs)
        shown = ', '.join(f'{k} {_fmt(v)}' for k, v in best['test'].items())
        lines.append(f'max over epochs (official protocol, each metric separately; optimistic): {shown}')
    return '\n'.join(lines)


def _dataset_label(name: str) -> str:
    """A dataset name fit for a folder name: ``edges:/data/my graph.csv`` -> ``edges-my_graph``."""
    prefix, sep, path = name.partition(':')
    if not sep:
        return name
    stem = Path(path).stem or 'data'
    return f'{prefix.lower()}-' + ''.join(c if c.isalnum() or c in '-_.' else '_' for c in stem)


def _train(args: argparse.Namespace) -> int:
    import yaml

    from graphkit.configs import load_config
    from graphkit.configs.schema import validate
    from graphkit.models import MODELS
    from graphkit.tasks import TASKS, Suspended, TrainOptions

    model_cls = MODELS.get(args.model)
    task_cls = TASKS.get(model_cls.task)
    _set_threads(args.threads)
    if args.stop_after is not None and not args.stop_after > 0:
        raise ValueError(f'--stop-after must be > 0 seconds (got {args.stop_after})')
    overrides = list(args.overrides)
    if args.epochs is not None:
        overrides.append(f'train.epochs={args.epochs}')
    cfg = load_config(args.model, args.dataset, args.config, overrides, task=model_cls.task)
    validate(cfg, task_cls.schema)
    _check_device(args.device)
    if args.print_config:
        print(yaml.safe_dump(cfg, sort_keys=False), end='')
        return 0
    if args.force_reload:
        from graphkit.data import clear_dataset_cache

        for path in clear_dataset_cache(args.dataset, args.root):
            print(f'Removed the cache {path}', file=sys.stderr)
    # without --runs: one run, except a graph-level cross-validation, which runs every fold (its task decides)
    runs = args.runs if args.runs is not None else (None if model_cls.task == 'graph' else 1)
    if runs is not None and runs < 1:
        raise ValueError(f'--runs must be >= 1 (got {runs})')
    if args.init_from is not None and not Path(args.init_from).is_dir():
        raise FileNotFoundError(f"--init-from '{args.init_from}' is not a directory")
    from graphkit.tasks.tensorboard import make_loggers

    callbacks = make_loggers(args.log)  # a missing extra fails here, before anything is written
    out = args.out or f'runs/{args.model}-{_dataset_label(args.dataset)}-{time.strftime("%Y%m%d-%H%M%S")}'
    opts = TrainOptions(
        model=args.model,
        dataset=args.dataset,
        root=args.root,
        runs=runs,
        seed=args.seed,
        device=args.device,
        out=out,
        resume=args.resume,
        quiet=args.quiet,
        init_from=args.init_from,
        stop_after=args.stop_after,
        callbacks=callbacks,
    )
    try:
        summary = task_cls(opts, cfg).run()
    except Suspended as e:
        if _main_rank():
            print(f'graphkit train: {e}; continue with: graphkit train ... --out {out} --resume', file=sys.stderr)
        return EXIT_SUSPENDED
    print(format_table(summary))
    print(f'Run directory: {out}')
    return 0


def _set_threads(threads: Optional[int]) -> None:
    if threads is None:
        return
    if threads < 1:
        raise ValueError(f'--threads must be >= 1 (got {threads})')
    import torch

    torch.set_num_threads(threads)


def _tune(args: argparse.Namespace) -> int:
    from graphkit.tasks.tensorboard import make_loggers
    from graphkit.tune import tune

    _set_threads(args.threads)
    _check_device(args.device)
    make_loggers(args.log)  # a missing extra fails before the study starts
    out = args.out or f'tunes/{args.model.lower()}-{_dataset_label(args.dataset)}'
    result = tune(
        args.model,
        args.dataset,
        args.trials,
        out,
        space=args.space,
        storage=args.storage,
        study_name=args.study,
        timeout=args.timeout,
        pruner=args.pruner,
        overrides=args.overrides,
        config_file=args.config,
        root=args.root,
        runs=args.runs,
        seed=args.seed,
        sampler_seed=args.sampler_seed,
        device=args.device,
        callbacks=lambda: make_loggers(args.log),
    )
    print(f'Study folder: {out}')
    return 0 if result['best'] is not None else 1


def _compare(args: argparse.Namespace) -> int:
    from graphkit.compare import compare

    result = compare(args.dirs, args.out or 'compare', storage=args.storage)
    print(result['markdown'])
    print(f'\nWrote {", ".join(result["files"])}')
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from graphkit.tasks.run import load_run

    _check_device(args.device)
    summary, task, _ = load_run(args.run_dir, args.root, 0, args.device)
    print(f'{"run":<5}{"valid":>10}{"test":>10}  ({task.metric}, recomputed from best_run*.pt)')
    for record in summary['runs']:
        _, task, model = load_run(args.run_dir, args.root, record['run'], args.device)
        res = task.evaluate(model)
        valid = f'{100 * res["valid"][task.metric]:.2f}' if 'valid' in res else '-'
        print(f'{record["run"]:<5}{valid:>10}{100 * res["test"][task.metric]:>10.2f}')
    return 0


def _analyze(args: argparse.Namespace) -> int:
    from graphkit.analysis import format_report
    from graphkit.tasks.analyze import analyze_tc_run

    _check_device(args.device)
    if args.analysis == 'clusters':
        from graphkit.tasks.cluster import analyze_cluster_run

        out = args.out or str(Path(args.run_dir) / 'clusters')
        report = analyze_cluster_run(args.run_dir, out, args.run, args.method, args.root, args.device)
        scores = ', '.join(f'{k} {v:.4f}' for k, v in report.get('metrics', {}).items())
        print(f'{report["model"]} on {report["dataset"]}, run {report["run"]}: {scores or "no labels"}')
        print(f'Plots and report: {out} ({", ".join(report["files"].values())}, report.json)')
        return 0
    out = args.out or (str(Path(args.run) / 'tc') if args.run else f'tc-{args.dataset}')
    report = analyze_tc_run(args.dataset, args.root, args.run, out, seed=args.seed, K=args.K, device=args.device)
    print(format_report(report))
    print(f'Report and plots: {out}')
    return 0


def _predict(args: argparse.Namespace) -> int:
    from graphkit.tasks.predict import predict_file

    _check_device(args.device)
    out = predict_file(
        args.run_dir, args.pairs, args.out, args.run, args.dataset, args.root, args.device, args.chunk_size, args.quiet
    )
    print(f'Scores: {out}')
    return 0


def _recommend(args: argparse.Namespace) -> int:
    from graphkit.tasks.predict import recommend_file

    _check_device(args.device)
    out = recommend_file(
        args.run_dir,
        args.users,
        args.k,
        args.out,
        args.exclude_train,
        args.run,
        args.dataset,
        args.root,
        args.device,
        args.chunk_size,
        args.quiet,
    )
    print(f'Recommendations: {out}')
    return 0


def _datasets(args: argparse.Namespace) -> int:
    from graphkit.data import DATASETS, KINDS, dataset_info, resolve_root

    if args.clear_cache:
        from graphkit.data.io import clear_caches

        removed = clear_caches(resolve_root(args.root))
        for path in removed:
            print(f'removed {path}')
        print(f'{len(removed)} cache file{"s" * (len(removed) != 1)} removed under {resolve_root(args.root)}')
        return 0
    rows = dataset_info(args.root)
    print(f'root: {resolve_root(args.root)}  (--root, else $GRAPHKIT_DATA, else the shipped datasets/)')
    for kind in KINDS:
        print(f'\n{kind} datasets ({DATASETS.describe(kind)})')
        group = [row for row in rows if row['kind'] == kind]
        if group:
            print(f'  {"dataset":<18}{"metric":<10}{"found":<7}where')
        for row in group:
            where = row['path'] if row['found'] else 'looked in ' + ', '.join(row['looks_in'])
            print(f'  {row["name"]:<18}{row["metric"]:<10}{"yes" if row["found"] else "no":<7}{where}')
    return 0


def _main_rank() -> bool:
    """Whether this process prints (a plain process, or rank 0 under ``torchrun`` / ``srun``)."""
    from graphkit.distributed import launch_env

    try:
        env = launch_env()
    except ValueError:
        return True
    return env is None or env[0] == 0


#: Commands that train or score models: GRAPHKIT_MALLOC=retain keeps freed memory for reuse (:mod:`graphkit.runtime`).
_COMPUTE = ('train', 'evaluate', 'analyze', 'predict', 'recommend', 'tune')


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {
        'train': _train,
        'evaluate': _evaluate,
        'analyze': _analyze,
        'predict': _predict,
        'recommend': _recommend,
        'datasets': _datasets,
        'tune': _tune,
        'compare': _compare,
    }[args.command]
    try:
        if args.command in _COMPUTE:
            from graphkit.runtime import configure_allocator

            configure_allocator()
        return handler(args)
    except (ValueError, FileNotFoundError, FileExistsError, KeyError) as e:
        from graphkit.distributed import RankFailure

        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        if _main_rank() or isinstance(e, RankFailure):  # under torchrun every rank fails alike: say it once
            print(f'graphkit {args.command}: error: {msg}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f'graphkit {args.command}: interrupted; continue with --resume', file=sys.stderr)
        return 130
    except (MemoryError, RuntimeError) as e:
        from graphkit.tasks.run import is_out_of_memory

        if not is_out_of_memory(e):
            raise
        print(
            f'graphkit {args.command}: error: out of memory ({str(e).splitlines()[0][:200]}); reduce the model or '
            'batch sizes (the last checkpoint is intact: continue with --resume)',
            file=sys.stderr,
        )
        return 2


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
