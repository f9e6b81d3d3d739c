r"""The node-classification task: full-batch training of a node model on a dataset's node split, accuracy and
micro / macro F1 on each split.

Two kinds of node model (:mod:`graphkit.models.protocols`):

* a message-passing :class:`~graphkit.models.protocols.NodeModel` (GCN) on a homogeneous graph (the Planetoid
  public split, ``ogbn-arxiv``) is trained full batch on ``(x, edge_index)``;
* a :class:`~graphkit.models.protocols.PrecomputedNodeModel` (RpHGNN, on heterogeneous graphs) is pre-computed
  once per projection seed, parameter-free, and trained on mini-batches of ``train.batch_size`` target nodes of
  the pre-computed tensors, with no graph access; the pre-computation time goes into the summary.

Protocol: Adam with ``train.lr`` / ``train.weight_decay``, an optional LR schedule (``train.scheduler``:
``step`` or ``cosine``, stepped once per epoch), cross-entropy on the training nodes (binary cross-entropy per
class when the labels are multi-label, predicted where the logit is > 0), and test reported at the epoch of the
best ``eval.metric`` on ``train.select_on``.
"""

from __future__ import annotations

import os.path as osp
import time
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch_geometric.transforms import NormalizeFeatures

from graphkit.configs.schema import Field
from graphkit.data import NodeDataset, load_dataset
from graphkit.metrics.classification import (
    classification_from_states,
    classification_metrics,
    classification_states,
    ogb_node_accuracy,
)
from graphkit.metrics.names import TASK_METRICS
from graphkit.models.protocols import NodeModel, PrecomputedNodeModel
from graphkit.tasks.cache import PrecomputeCache, hash_graph
from graphkit.tasks.optim import Optimizers, make_scheduler
from graphkit.tasks.options import TrainOptions
from graphkit.tasks.registry import TASKS
from graphkit.tasks.run import SHARED_SCHEMA, Task

__all__ = ['NodeTask']


class NodeTask(Task):
    r"""One ``graphkit train`` call of a node classifier (the run loop, resume and summary come from
    :class:`~graphkit.tasks.run.Task`)."""

    task = 'node'
    kinds = ('node', 'hetero-node')
    model_protocol = NodeModel
    schema = {
        **SHARED_SCHEMA,
        'train.scheduler': Field('str', nullable=True, choices=('step', 'cosine')),
        'train.step_size': Field('int', min=1),
        'train.gamma': Field('float', min=0, max=1),
        'train.batch_size': Field('int', nullable=True, min=1),
        'data.normalize_features': Field('bool'),
        'data.precompute_cache': Field('bool'),
        'data.cache_dir': Field('str', nullable=True),
    }

    def __init__(self, opts: TrainOptions, cfg: Dict[str, Any]) -> None:
        super().__init__(opts, cfg)
        self.model_cls, kind = self.resolve_model()
        self.kind, self.split_seed = kind, opts.seed
        with self.dist.rank_zero_first():  # torchrun: rank 0 parses and caches, the others then read the cache
            self.ds: NodeDataset = load_dataset(opts.dataset, kind, opts.root, seed=opts.seed)
        self.name = self.ds.name
        self.metric = (cfg['eval']['metric'] or self.ds.metric).lower()
        if self.metric not in TASK_METRICS['node']:
            raise ValueError(
                f"Config key 'eval.metric' must be one of {', '.join(TASK_METRICS['node'])} for the "
                f'node task (got {self.metric!r})'
            )
        if self.ds.is_hetero and 'hetero-node' not in self.model_cls.kinds:
            raise ValueError(f"Model '{opts.model}' needs a homogeneous graph; '{self.name}' is heterogeneous")
        missing = [s for s in ('train', 'valid', 'test') if s not in self.ds.split]
        if 'train' in missing or self.select_on in missing:
            raise ValueError(f"Dataset '{self.name}' has no {' / '.join(missing)} node split")
        for store in self.ds.data.node_stores:  # every node type of a heterogeneous graph
            x = store.get('x')
            if x is not None and not torch.isfinite(x).all():
                raise ValueError(f"Dataset '{self.name}': node features 'x' contain NaN or infinite values")
            if x is not None:
                store.x = x.float()
        if cfg['data']['normalize_features']:
            self.ds.data = NormalizeFeatures()(self.ds.data)  # PyG's: shift to >= 0, then rows sum to 1
        self.y = self.ds.y.to(self.device)
        self.split = {s: idx.to(self.device) for s, idx in self.ds.split.items()}
        self.inputs: Optional[Tuple[Any, ...]] = None
        self.seed = opts.seed
        self._precomputed: Optional[Tuple[int, List[torch.Tensor]]] = None  # (projection seed, tensors)
        self.precompute_log: List[Dict[str, Any]] = []  # one entry per projection seed: time, cache hit / miss
        self._graph_hash: Optional[str] = None

    def prepare(self, seed: int, run: int = 0) -> None:
        """A seeded split (HGB's train / valid split of ``label.dat``) is drawn anew for each run's seed; fixed
        splits (Planetoid, OGB) stay."""
        self.seed = seed
        if self.ds.seeded_split and seed != self.split_seed:
            split = load_dataset(self.opts.dataset, self.kind, self.opts.root, seed=seed).split
            self.split = {s: idx.to(self.device) for s, idx in split.items()}
            self.split_seed = seed

    def model_inputs(self) -> Tuple[Any, ...]:
        """What a message-passing model's ``forward`` is called with: ``(x, edge_index)`` on the task's device."""
        data = self.ds.data
        return (None if data.x is None else data.x.to(self.device), data.edge_index.to(self.device))

    def cache(self) -> Optional[PrecomputeCache]:
        """The pre-compute cache (``data.cache_dir``, else ``.cache/precompute`` beside the run directory), or
        :obj:`None` when ``data.precompute_cache`` is off."""
        d = self.cfg['data']
        if not d['precompute_cache']:
            return None
        folder = d['cache_dir'] or osp.join(osp.dirname(osp.abspath(self.opts.out)), '.cache', 'precompute')
        return PrecomputeCache(folder, log=lambda line: self.log(line, 'stderr'))

    def precomputed(self, model: torch.nn.Module) -> List[torch.Tensor]:
        """The pre-computed tensors of a :class:`PrecomputedNodeModel` for this run: computed once per projection
        seed (``model.precompute_seed``, else the run's seed), kept while the seed stays, and read from / written
        to the pre-compute cache (keyed by the graph, the model's pre-compute settings and the seed), so that
        later ``graphkit train`` calls on the same data and settings skip the computation."""
        seed = model.precompute_seed if model.precompute_seed is not None else self.seed
        if self._precomputed is not None and self._precomputed[0] == seed:
            return self._precomputed[1]
        self._precomputed = None  # free the previous seed's tensors first
        data, cache = self.ds.data, self.cache()
        if not (hasattr(model, 'precompute_layout') and hasattr(model, 'precompute_settings')):
            cache = None  # a model that cannot describe its output is recomputed on every call
        t0 = time.perf_counter()
        entry: Dict[str, Any] = {'seed': seed, 'cache': 'off'}
        tensors = None
        if cache is not None:
            layout = model.precompute_layout(data)
            if self._graph_hash is None:
                self._graph_hash = hash_graph(data)
            key = cache.key(self._graph_hash, {**model.precompute_settings(), 'seed': seed})
            entry.update(cache='hit', path=cache.path(key))
            tensors = cache.load(key, layout)
            if tensors is None:
                entry['cache'] = 'miss'
                generator = torch.Generator().manual_seed(seed)
                tensors = cache.store(key, layout, lambda out: model.precompute(data, generator, out=out))
        else:
            tensors = model.precompute(data, torch.Generator().manual_seed(seed))
        entry['time_s'] = time.perf_counter() - t0
        self.precompute_log.append(entry)
        where = f' (cache {entry["cache"]}: {entry["path"]})' if cache is not None else ''
        self.log(f'Pre-computation, projection seed {seed}: {entry["time_s"]:.1f} s{where}', 'stderr')
        self._precomputed = (seed, tensors)
        return tensors

    def _logits(self, model: torch.nn.Module, idx: torch.Tensor) -> torch.Tensor:
        """Logits of the (target) nodes :obj:`idx`."""
        if isinstance(model, PrecomputedNodeModel):
            rows = idx.cpu()
            return model([t[rows].to(self.device) for t in self.precomputed(model)])
        if self.inputs is None:
            self.inputs = self.model_inputs()
        return model(*self.inputs)[idx]

    # Model ------------------------------------------------------------------------------------------------
    def build(self) -> Tuple[torch.nn.Module, Optimizers]:
        """The model, Adam, and the LR schedule of ``train.scheduler``; a pre-computed model's tensors for the
        run's projection seed are made here (once per seed)."""
        tr = self.cfg['train']
        model = self.build_model(self.ds)
        if isinstance(model, PrecomputedNodeModel):
            self.precomputed(model)
        elif self.ds.is_hetero:
            raise ValueError(f"Model '{self.opts.model}' needs a homogeneous graph; '{self.name}' is heterogeneous")
        opt = torch.optim.Adam(model.parameters(), lr=tr['lr'], weight_decay=tr['weight_decay'])
        return model, Optimizers(opt, make_scheduler(opt, tr['scheduler'], tr['epochs'], tr['step_size'], tr['gamma']))

    # Training ---------------------------------------------------------------------------------------------
    def _loss(self, logits: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        if self.ds.multi_label:
            return F.binary_cross_entropy_with_logits(logits, self.y[idx].float())
        return F.cross_entropy(logits, self.y[idx])

    def _batches(self, model: torch.nn.Module, idx: torch.Tensor) -> List[torch.Tensor]:
        """:obj:`idx` in mini-batches of ``train.batch_size`` for a pre-computed model; whole otherwise."""
        bs = self.cfg['train']['batch_size']
        if not isinstance(model, PrecomputedNodeModel) or bs is None:
            return [idx]
        return list(idx.split(bs))

    def _train_batches(self, model: torch.nn.Module, idx: torch.Tensor, epoch: int) -> List[Tuple[torch.Tensor, float]]:
        """``(nodes, loss weight)`` of one epoch: shuffled mini-batches for a pre-computed model, one full-batch
        step otherwise (under ``torchrun``: this rank's share of each, see :meth:`Task.train_batches`)."""
        if not isinstance(model, PrecomputedNodeModel) and not self.dist.enabled:
            return [(idx, 1.0)]
        bs = self.cfg['train']['batch_size'] if isinstance(model, PrecomputedNodeModel) else None
        return [(idx[b], w) for b, w in self.train_batches(idx.numel(), bs, epoch)]

    def train_epoch(self, model: torch.nn.Module, optimizer: Optimizers, epoch: int) -> float:
        """One epoch over the training nodes: one full-batch step, or shuffled mini-batches of
        ``train.batch_size`` for a pre-computed model; returns the mean loss."""
        model.train()
        total, count = 0.0, 0
        for idx, weight in self._train_batches(model, self.split['train'], epoch):
            if self.out_of_time():
                break
            optimizer.zero_grad()
            loss = self.train_step(model, lambda m: self._loss(self._logits(m, idx), idx))  # DDP under torchrun
            (loss if weight == 1 else loss * weight).backward()
            optimizer.step()
            n = idx.numel() * (weight > 0)
            total, count = total + float(loss.detach()) * n, count + n
        return total / count if count else float('nan')

    # Evaluation -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module) -> Dict[str, Dict[str, float]]:
        """``acc`` (OGB's evaluator for ``ogbn-*``), ``micro_f1``, ``macro_f1``, their mean ``mean_f1`` and the
        training ``loss`` on the valid and test nodes (the splits the dataset has)."""
        model.eval()
        out = {}
        for s in ('valid', 'test'):
            if s in self.split:
                idx = self.dist.shard(self.split[s])  # torchrun: this rank's share, the metric states summed
                logits = torch.cat([self._logits(model, b) for b in self._batches(model, idx)])
                if self.dist.enabled:
                    out[s] = self._reduced_metrics(logits, idx)
                    continue
                out[s] = classification_metrics(logits, self.y[idx], self.ds.multi_label)
                out[s]['loss'] = float(self._loss(logits, idx))
                if self.ds.name.startswith('ogbn-') and not self.ds.multi_label:  # OGB's evaluator semantics
                    out[s]['acc'] = ogb_node_accuracy(self.y[idx], logits.argmax(dim=1))
        return out

    def _reduced_metrics(self, logits: torch.Tensor, idx: torch.Tensor) -> Dict[str, float]:
        """The metrics of :meth:`evaluate` from the summed confusion counts and loss sums of every rank's share
        (``acc`` of ``ogbn-*`` single-label data equals OGB's there: one task column, no missing label)."""
        loss = self._loss(logits, idx) * idx.numel()
        states = torch.cat([classification_states(logits, self.y[idx], self.ds.multi_label), loss.view(1).double()])
        states = self.dist.sum(states)
        res = classification_from_states(states[:-1], logits.size(1))
        res['loss'] = float(states[-1] / states[1]) if states[1] > 0 else float('nan')
        return res

    def summary_extra(self) -> Dict[str, Any]:
        return {
            'data': {
                'num_classes': self.ds.num_classes,
                'multi_label': self.ds.multi_label,
                'target': self.ds.target,
                'root': self.ds.root,
                **{s: int(idx.numel()) for s, idx in self.ds.split.items()},
                **self.ds.info,
            },
            **self._precompute_summary(),
        }

    def _precompute_summary(self) -> Dict[str, Any]:
        # what the official RpHGNN code logs: pre-compute time, train time, and their sum
        if not self.precompute_log:
            return {}
        pre = sum(e['time_s'] for e in self.precompute_log)
        train = sum(r['wall_time_s'] for r in self.results)
        return {
            'precompute': self.precompute_log,
            'time_s': {'precompute': pre, 'train': train, 'total': pre + train},
        }

    def protocol(self) -> Dict[str, Any]:
        tr = self.cfg['train']
        return {
            'selection': self.selection_rule(),
            'batch_size': tr['batch_size'],
            'loss': 'binary cross-entropy per class' if self.ds.multi_label else 'cross-entropy',
            'scheduler': tr['scheduler'],
            'normalize_features': self.cfg['data']['normalize_features'],
        }


TASKS.register('node', NodeTask)
