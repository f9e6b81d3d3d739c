r"""The node-clustering task (``graphkit train pamc``): pretrain a node-feature autoencoder, initialise the cluster
centres by k-means, train the clustering objective full batch, score the clusters against the labels.

Any node-attributed graph of the ``node`` kind clusters: a Planetoid folder (``cora``, ``citeseer``, ``pubmed``), an
``ogbn-*`` folder, or a :class:`~torch_geometric.data.Data` given from Python (:func:`cluster`). :math:`K` is
``model.num_clusters``, or the number of classes of the labels. Labels are read only to score (``eval.score``);
nodes labelled :math:`< 0` are left out of the scores.

Per run (seed :math:`s`):

1. **Pretraining** (``train.pretrain_epochs`` of Adam on the reconstruction loss, mini-batches of
   ``train.pretrain_batch_size`` shuffled nodes from a generator seeded by :math:`s`), cached in
   ``RUN_DIR/pretrain/seed<s>.pt``: a resumed or repeated run with the same settings loads it instead of pretraining
   again. It runs before the first epoch; its time is in the summary's ``pretrain`` list, not in the run's
   ``wall_time_s``.
2. **k-means** (scikit-learn, ``train.kmeans_n_init`` restarts, ``random_state`` :math:`s`) on the embeddings
   sets the centres; its own scores are logged (the k-means baseline of every run).
3. **Training**: ``train.epochs`` full-batch steps of the model's loss (PamC: :math:`\beta\, \mathrm{KL}(P \| Q) +
   \alpha (\mathcal{L}_{pos} + \mathcal{L}_{neg})`, the target :math:`P` recomputed every step), evaluated every
   ``train.eval_every`` epochs on :math:`\arg\max Q`.

Reporting: the **final epoch** (``train.select_on: last``). ``train.select_on: test`` reports the epoch with the
best ``eval.metric`` and every metric of that same epoch (optimistic: selected on the scores themselves).
``eval.max_over_epochs: true`` adds the official PamC protocol, each metric's maximum over the evaluated epochs
taken independently, to the summary as a separate, labelled section. There is no validation split.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.transforms import NormalizeFeatures
from torch_geometric.utils import to_undirected

from graphkit.configs.schema import Field, model_schema, validate
from graphkit.data import NodeDataset, load_dataset
from graphkit.io import atomic_torch_save, safe_torch_load
from graphkit.metrics.clustering import clustering_metrics
from graphkit.metrics.names import TASK_METRICS
from graphkit.models.protocols import ClusterModel
from graphkit.tasks.optim import Optimizers
from graphkit.tasks.options import TrainOptions
from graphkit.tasks.progress import format_seconds, progress
from graphkit.tasks.registry import TASKS
from graphkit.tasks.run import SHARED_SCHEMA, Task, mean_std

__all__ = ['ClusterTask', 'cluster', 'analyze_cluster_run']

#: What ``eval.max_over_epochs`` reports, in words (written next to the numbers).
MAX_OVER_EPOCHS = (
    "official PamC protocol: each metric's maximum over the evaluated epochs of a run, taken independently (ACC "
    'and NMI may come from different epochs); optimistic, not a final-epoch result'
)


class ClusterTask(Task):
    r"""One ``graphkit train`` call of a node-clustering model (the run loop, resume and summary come from
    :class:`~graphkit.tasks.run.Task`).

    Args:
        opts (TrainOptions): Run options (``opts.dataset`` names the data, or labels :obj:`data`).
        cfg (dict): The resolved config.
        data (Data or NodeDataset, optional): A graph given from Python instead of a dataset name: features
            ``x``, edges ``edge_index``, labels ``y`` if it is to be scored. (default: :obj:`None`)
    """

    task = 'cluster'
    kinds = ('node',)
    model_protocol = ClusterModel
    schema = {
        **SHARED_SCHEMA,
        'train.pretrain_epochs': Field('int', min=0),
        'train.pretrain_lr': Field('float', min=0),
        'train.pretrain_batch_size': Field('int', min=1),
        'train.kmeans_n_init': Field('int', min=1),
        'data.normalize_features': Field('bool'),
        'eval.score': Field('bool'),
        'eval.max_over_epochs': Field('bool'),
    }

    def __init__(self, opts: TrainOptions, cfg: Dict[str, Any], data: Optional[Any] = None) -> None:
        super().__init__(opts, cfg)
        if data is None:
            _, kind = self.resolve_model()
            with self.dist.rank_zero_first():  # torchrun: rank 0 parses and caches, the others then read the cache
                self.ds: NodeDataset = load_dataset(opts.dataset, kind, opts.root, seed=opts.seed)
        else:
            self._resolve_model_only()
            self.ds = _as_node_dataset(data, opts.dataset)
        self.name = self.ds.name
        if self.ds.is_hetero:
            raise ValueError(f"Dataset '{self.name}' is heterogeneous; the cluster task needs a homogeneous graph")
        graph = self.ds.data
        x = getattr(graph, 'x', None)
        if x is None:
            raise ValueError(
                f"Dataset '{self.name}' has no node features 'x': model '{opts.model}' clusters nodes by their features"
            )
        if x.dim() != 2 or x.size(0) != graph.num_nodes:
            raise ValueError(f"Dataset '{self.name}': 'x' must have shape [num_nodes, F] (got {tuple(x.shape)})")
        if not torch.isfinite(x).all():
            raise ValueError(f"Dataset '{self.name}': node features 'x' contain NaN or infinite values")
        graph.x = x.float()
        if cfg['data']['normalize_features']:
            graph = NormalizeFeatures()(graph)
        self.score = cfg['eval']['score']
        self.metric = (cfg['eval']['metric'] or 'acc').lower()
        if self.metric not in TASK_METRICS['cluster']:
            raise ValueError(
                f"Config key 'eval.metric' must be one of {', '.join(TASK_METRICS['cluster'])} for the cluster "
                f'task (got {self.metric!r})'
            )
        if self.select_on == 'valid':
            raise ValueError(
                "Config key 'train.select_on' is 'valid', but the cluster task has no validation split: use last "
                '(the final epoch, the default) or test (the epoch with the best eval.metric, optimistic)'
            )
        y = getattr(graph, 'y', None)
        if self.score:
            if y is None:
                raise ValueError(
                    f"Dataset '{self.name}' has no labels 'y', which the clustering metrics need (eval.score=true); "
                    f'set eval.score=false to cluster without scoring (and model.num_clusters to give K)'
                )
            if y.dim() != 1 and not (y.dim() == 2 and y.size(1) == 1):
                raise ValueError(
                    f"Dataset '{self.name}': clustering metrics need one class per node, but 'y' has shape "
                    f'{tuple(y.shape)} (multi-label)'
                )
            y = y.view(-1).long()
            if y.numel() != graph.num_nodes:
                raise ValueError(f"Dataset '{self.name}': 'y' has {y.numel()} labels for {graph.num_nodes} nodes")
            self.labelled = (y >= 0).nonzero().view(-1).to(self.device)
            if self.labelled.numel() == 0:
                raise ValueError(f"Dataset '{self.name}': no node has a label >= 0 to score against")
            self.y = y.to(self.device)
        elif self.select_on == 'test' or cfg['eval']['max_over_epochs']:
            raise ValueError(
                'train.select_on=test and eval.max_over_epochs=true read the scores, which eval.score=false turns off'
            )
        self.num_nodes = int(graph.num_nodes)
        self.x = graph.x.to(self.device)
        self.edge_index = to_undirected(graph.edge_index, num_nodes=self.num_nodes).to(self.device)
        self.ds.data = graph
        self.positive: Optional[Tuple[Tensor, Tensor]] = None
        self.seed, self.run_index = opts.seed, 0
        self._initialised = False
        self._init_record: Optional[Dict[str, Any]] = None  # pretraining / k-means facts, logged once per run
        self._parts: Dict[str, float] = {}
        self._bar: Optional[Any] = None
        self._bar_iter: Optional[Iterator] = None
        self._running = False  # set once the run directory exists (before_runs)

    def _resolve_model_only(self) -> None:
        from graphkit.models import MODELS

        model_cls = MODELS.get(self.opts.model)
        if model_cls.task != self.task or 'node' not in model_cls.kinds:
            raise ValueError(f"Model '{self.opts.model}' (task {model_cls.task}) does not fit the cluster task")
        self.model_cls = model_cls
        validate(self.cfg, model_schema(model_cls))

    # Runs -------------------------------------------------------------------------------------------------
    def prepare(self, seed: int, run: int = 0) -> None:
        """A new run: its seed and index; :meth:`init_model` then pretrains (or loads the cache) and runs k-means."""
        self._close_bar()
        self.seed, self.run_index = seed, run
        self._initialised, self._init_record, self._parts = False, None, {}

    def build(self) -> Tuple[torch.nn.Module, Optimizers]:
        """The model and Adam over all its parameters; :math:`\\Gamma` is built once for the task."""
        tr = self.cfg['train']
        model = self.build_model(self.ds)
        if self.positive is None and isinstance(model, ClusterModel):
            index, weight = model.positive_pairs(self.edge_index, self.num_nodes)
            self.positive = (index.to(self.device), weight.to(self.device))
        opt = torch.optim.Adam(model.parameters(), lr=tr['lr'], weight_decay=tr['weight_decay'])
        return model, Optimizers(opt)

    def before_runs(self) -> None:
        """From here on (the run directory exists) :meth:`init_model` pretrains and runs k-means."""
        super().before_runs()
        self._running = True

    def init_model(self, model: torch.nn.Module, run: int) -> None:
        """Pretraining (or its cache) and k-means, before the run's first epoch (not for the dry build that checks the
        config before the run directory is made). A resumed run repeats them, then loads its checkpoint."""
        if self._running:
            self._initialise(model)

    def state_dict(self) -> Dict[str, Any]:
        return {'initialised': self._initialised, 'init_record': self._init_record}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self._initialised = bool(state.get('initialised', False))
        self._init_record = state.get('init_record')

    # Pretraining and k-means ------------------------------------------------------------------------------
    def pretrain_cache(self, seed: int) -> Path:
        """Where the pretrained model of seed :obj:`seed` is cached."""
        return Path(self.opts.out) / 'pretrain' / f'seed{seed}.pt'

    def _cache_key(self) -> Dict[str, Any]:
        tr = self.cfg['train']
        model = {k: v for k, v in self.cfg['model'].items()}
        return {
            'dataset': self.name,
            'num_nodes': self.num_nodes,
            'num_features': int(self.x.size(1)),
            'normalize_features': self.cfg['data']['normalize_features'],
            'model': json.dumps(model, sort_keys=True),
            'epochs': tr['pretrain_epochs'],
            'lr': tr['pretrain_lr'],
            'batch_size': tr['pretrain_batch_size'],
            'seed': self.seed,
        }

    def _read_cache(self, path: Path, key: Dict[str, Any], model: torch.nn.Module) -> Optional[Dict[str, Any]]:
        """Load the cached pretrained state into :obj:`model` and return its info; :obj:`None` (pretrain again) when
        the file is absent, made with other settings, or unreadable (said on stderr)."""
        if not path.exists():
            return None
        try:
            cached = safe_torch_load(path)
            if not isinstance(cached, dict) or cached.get('key') != key:
                return None
            model.load_state_dict(cached['model'])
            return dict(cached['info'])
        except (ValueError, RuntimeError, KeyError, TypeError) as e:
            self.log(
                f"Run {self.run_index + 1:02d} | pretraining cache '{path}' unreadable ({e}); pretraining again",
                'stderr',
            )
            return None

    def _pretrain(self, model: torch.nn.Module) -> Dict[str, Any]:
        tr = self.cfg['train']
        epochs, bs = tr['pretrain_epochs'], tr['pretrain_batch_size']
        gen = torch.Generator().manual_seed(self.seed)  # its own stream: a cached run skips it and stays identical
        opt = torch.optim.Adam(model.parameters(), lr=tr['pretrain_lr'])
        t0, loss = time.perf_counter(), float('nan')
        model.train()
        bar = progress(range(epochs), self.opts.quiet, desc=f'Run {self.run_index + 1:02d} pretraining', unit='epoch')
        for _ in bar:
            if model.needs_graph:
                batches: List[Optional[Tensor]] = [None]
            else:
                batches = list(torch.randperm(self.num_nodes, generator=gen).to(self.device).split(bs))
            total = 0.0
            for idx in batches:
                opt.zero_grad()
                step = model.pretrain_loss(self.x, self.edge_index, idx)
                step.backward()
                opt.step()
                total += float(step.detach()) * (self.num_nodes if idx is None else idx.numel())
            loss = total / self.num_nodes
        return {'epochs': epochs, 'loss': loss, 'time_s': time.perf_counter() - t0}

    def _initialise(self, model: torch.nn.Module) -> None:
        """Pretrain (or load the cache), then k-means into the centres."""
        tr = self.cfg['train']
        t0 = time.perf_counter()
        record: Dict[str, Any] = {'pretrain': None, 'kmeans': None}
        if tr['pretrain_epochs'] > 0:
            path, key = self.pretrain_cache(self.seed), self._cache_key()
            cached = self._read_cache(path, key, model)
            if cached is not None:
                info = {**cached, 'cached': True}
                self.log(f'Run {self.run_index + 1:02d} | pretrained model loaded from {path}', 'stderr')
            else:
                info = {**self._pretrain(model), 'cached': False}
                state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
                if self.dist.is_main:  # torchrun: the run directory is rank 0's (the others read its cache)
                    atomic_torch_save({'key': key, 'model': state, 'info': info}, path)
                self.log(
                    f'Run {self.run_index + 1:02d} | pretrained {info["epochs"]} epochs, reconstruction loss '
                    f'{info["loss"]:.5f}, {format_seconds(info["time_s"])}',
                    'stderr',
                )
            record['pretrain'] = info
        model.eval()
        with torch.no_grad():
            z = model.encode(self.x, self.edge_index)
        t1 = time.perf_counter()
        labels = model.init_clusters(z, self.seed, tr['kmeans_n_init'])
        record['kmeans_time_s'] = time.perf_counter() - t1
        if self.score:
            idx = self.labelled.cpu()
            record['kmeans'] = clustering_metrics(labels[idx], self.y.cpu()[idx])
            shown = ', '.join(f'{k} {v:.4f}' for k, v in record['kmeans'].items())
            self.log(f'Run {self.run_index + 1:02d} | k-means on the pretrained embeddings: {shown}', 'stderr')
        record['init_time_s'] = time.perf_counter() - t0
        self._init_record, self._initialised = record, True

    # Training ---------------------------------------------------------------------------------------------
    def _close_bar(self) -> None:
        if self._bar is not None and hasattr(self._bar, 'close'):
            self._bar.close()
        self._bar = self._bar_iter = None

    def _advance_bar(self, epoch: int) -> None:
        epochs = self.cfg['train']['epochs']
        if self._bar is None:
            desc = f'Run {self.run_index + 1:02d} training'
            self._bar = progress(range(epoch, epochs + 1), self.opts.quiet, desc=desc, unit='epoch')
            self._bar_iter = iter(self._bar)
        next(self._bar_iter, None)
        if epoch >= epochs:
            self._close_bar()

    def train_epoch(self, model: torch.nn.Module, optimizer: Optimizers, epoch: int) -> float:
        """One full-batch step (under ``torchrun`` replicated: the objective is not a sum over nodes that could be
        sharded, so every rank computes it whole and DDP averages equal gradients)."""
        if not self._initialised:  # a model built outside the run loop
            self._initialise(model)
        self._advance_bar(epoch)
        model.train()
        optimizer.zero_grad()
        pos_index, pos_weight = self.positive
        loss, parts = self.train_step(model, lambda m: m.loss(self.x, self.edge_index, pos_index, pos_weight))
        loss.backward()
        optimizer.step()
        self._parts = {k: float(v) for k, v in parts.items()}
        return float(loss.detach())

    # Evaluation -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, model: torch.nn.Module) -> Tuple[Tensor, Tensor, Tensor]:
        """``(z, q, cluster)`` of every node: embeddings, soft assignments and the arg-max cluster."""
        model.eval()
        z = model.encode(self.x, self.edge_index)
        q = model(self.x, self.edge_index)
        return z, q, q.argmax(dim=1)

    def evaluate(self, model: torch.nn.Module) -> Dict[str, Dict[str, float]]:
        """``acc``, ``nmi``, ``ari``, ``f1`` of the arg-max clusters under ``test`` (nothing without scoring)."""
        model.eval()
        with torch.no_grad():
            pred = model(self.x, self.edge_index).argmax(dim=1)
        self._used = int(torch.unique(pred).numel())
        if not self.score:
            return {}
        return {'test': clustering_metrics(pred[self.labelled].cpu(), self.y[self.labelled].cpu())}

    def log_extra(self) -> Dict[str, Any]:
        """The loss terms of the last step, the number of non-empty clusters, and (once per run) the pretraining
        and k-means facts."""
        out: Dict[str, Any] = {f'loss_{k}': v for k, v in self._parts.items()}
        out['clusters_used'] = getattr(self, '_used', None)
        if self._init_record is not None:
            out['init'] = self._init_record
            self._init_record = None
        return out

    # Summary ----------------------------------------------------------------------------------------------
    def _records(self) -> List[Dict[str, Any]]:
        path = Path(self.opts.out) / 'metrics.jsonl'
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def summary_extra(self) -> Dict[str, Any]:
        records = self._records()
        init = {r['run']: r['init'] for r in records if r.get('init')}
        out: Dict[str, Any] = {
            'data': {
                'num_nodes': self.num_nodes,
                'num_features': int(self.x.size(1)),
                'num_edges': int(self.edge_index.size(1)),
                'num_classes': int(self.ds.num_classes),
                'num_clusters': int(self.cfg['model'].get('num_clusters') or self.ds.num_classes),
                'labelled': int(self.labelled.numel()) if self.score else 0,
                'root': self.ds.root,
            },
            'positive_pairs': int(self.positive[1].numel()) if self.positive is not None else None,
            'pretrain': [init[r].get('pretrain') for r in sorted(init)],
        }
        kmeans = [init[r]['kmeans'] for r in sorted(init) if init[r].get('kmeans')]
        if kmeans:
            out['kmeans_init'] = {
                'runs': kmeans,
                'test': {k: mean_std(m[k] for m in kmeans) for k in kmeans[0]},
            }
        if self.cfg['eval']['max_over_epochs']:
            best: Dict[int, Dict[str, float]] = {}
            for r in records:
                for k, v in (r.get('test') or {}).items():
                    run = best.setdefault(r['run'], {})
                    run[k] = max(run.get(k, float('-inf')), v)
            runs = [{'run': r, **best[r]} for r in sorted(best)]
            keys = list(TASK_METRICS['cluster'])
            out['max_over_epochs'] = {
                'protocol': MAX_OVER_EPOCHS,
                'runs': runs,
                'test': {k: mean_std(r[k] for r in runs if k in r) for k in keys},
            }
        return out

    def protocol(self) -> Dict[str, Any]:
        tr, m = self.cfg['train'], self.cfg['model']
        return {
            'selection': self.selection_rule(),
            'reported': 'final epoch' if self.select_on == 'last' else f'best test {self.metric} epoch (optimistic)',
            'max_over_epochs': MAX_OVER_EPOCHS if self.cfg['eval']['max_over_epochs'] else None,
            'pretrain': {k: tr[f'pretrain_{k}'] for k in ('epochs', 'lr', 'batch_size')},
            'kmeans_n_init': tr['kmeans_n_init'],
            'loss': m.get('loss'),
            'target_distribution': 'recomputed every step from the current Q (detached)',
            'scored_on': 'labelled nodes (y >= 0)' if self.score else None,
        }


def _as_node_dataset(data: Any, name: str) -> NodeDataset:
    """A user's :class:`~torch_geometric.data.Data` (or a :class:`NodeDataset`) as the task's dataset."""
    if isinstance(data, NodeDataset):
        return data
    if not isinstance(data, Data):
        raise ValueError(f"'data' must be a torch_geometric Data or a NodeDataset (got {type(data).__name__})")
    if getattr(data, 'edge_index', None) is None:
        raise ValueError("'data' has no 'edge_index'")
    y = getattr(data, 'y', None)
    num_classes = int(y.max()) + 1 if y is not None and y.numel() and y.dim() == 1 else 0
    return NodeDataset(name.lower(), data, {}, num_classes, root='(in memory)')


def cluster(
    data: Data,
    out: str,
    model: str = 'pamc',
    num_clusters: Optional[int] = None,
    overrides: Tuple[str, ...] = (),
    runs: int = 1,
    seed: int = 0,
    quiet: bool = True,
    name: str = 'data',
) -> Tuple[Dict[str, Any], Tensor]:
    r"""Cluster the nodes of :obj:`data` from Python with the preset of :obj:`model` (the CLI's ``graphkit train``
    without a dataset name); returns the summary and the clusters ``[N]`` of run 0's reported model.

    Args:
        data (Data): Node features ``x`` and ``edge_index``; labels ``y`` are needed only for the scores (without
            them give :obj:`num_clusters` and ``overrides=('eval.score=false',)``).
        out (str): The run directory (must not exist or be empty).
        model (str): A clustering model. (default: :obj:`'pamc'`)
        num_clusters (int, optional): :math:`K`; :obj:`None`: the number of classes of ``y``. (default: :obj:`None`)
        overrides (tuple of str): ``section.key=value`` settings (as ``--set``). (default: :obj:`()`)
        runs (int): Runs (seeds :obj:`seed` ... :obj:`seed + runs - 1`). (default: :obj:`1`)
        seed (int): Seed of the first run. (default: :obj:`0`)
        quiet (bool): No progress output. (default: :obj:`True`)
        name (str): The dataset name written into the summary. (default: :obj:`'data'`)
    """
    from graphkit.configs import load_config
    from graphkit.io import safe_torch_load as _load
    from graphkit.tasks.rundir import RunDir

    extra = list(overrides) + ([] if num_clusters is None else [f'model.num_clusters={num_clusters}'])
    cfg = load_config(model, None, None, extra, task='cluster')
    opts = TrainOptions(model=model, dataset=name, out=out, runs=runs, seed=seed, quiet=quiet)
    task = ClusterTask(opts, cfg, data=data)
    summary = task.run()
    task.prepare(seed, 0)
    net, _ = task.build()
    net.load_state_dict(_load(RunDir(out).best_state(0)))
    return summary, task.predict(net)[2].cpu()


def analyze_cluster_run(
    run_dir: str,
    out: Optional[str] = None,
    run: int = 0,
    method: str = 'pca',
    root: Optional[str] = None,
    device: str = 'cpu',
) -> Dict[str, Any]:
    r"""``graphkit analyze clusters RUN_DIR``: rebuild run :obj:`run` of a finished clustering run (its data and
    reported model, :func:`~graphkit.tasks.run.load_run`) and write the plots and report of
    :func:`graphkit.analysis.analyze_clusters` into :obj:`out` (default ``RUN_DIR/clusters``)."""
    from graphkit.analysis.clusters import PROJECTIONS, analyze_clusters
    from graphkit.tasks.run import load_run

    if method not in PROJECTIONS:
        raise ValueError(f"'method' must be one of {PROJECTIONS} (got {method!r})")
    summary, task, model = load_run(run_dir, root, run, device)
    if summary['task'] != 'cluster':
        raise ValueError(f"'{run_dir}' is a {summary['task']} run; 'graphkit analyze clusters' needs a clustering run")
    z, _, pred = task.predict(model)
    classes = task.y.cpu() if task.score else None
    seed = next(r['seed'] for r in summary['runs'] if r['run'] == run)
    info = {'run_dir': str(run_dir), 'run': run, 'seed': seed, 'model': summary['model'], 'dataset': summary['dataset']}
    title = f'{summary["model"]} on {summary["dataset"]}, run {run} (seed {seed})'
    target = out or str(Path(run_dir) / 'clusters')
    return analyze_clusters(z.cpu(), pred.cpu(), target, classes, method, seed, title, info)


TASKS.register('cluster', ClusterTask)
