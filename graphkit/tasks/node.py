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

import time
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch_geometric.transforms import NormalizeFeatures

from graphkit.configs.schema import Field
from graphkit.data import NodeDataset, load_dataset
from graphkit.metrics.classification import classification_metrics
from graphkit.metrics.names import TASK_METRICS
from graphkit.models.protocols import NodeModel, PrecomputedNodeModel
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
    }

    def __init__(self, opts: TrainOptions, cfg: Dict[str, Any]) -> None:
        super().__init__(opts, cfg)
        self.model_cls, kind = self.resolve_model()
        self.kind, self.split_seed = kind, opts.seed
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
        self.precompute_time_s: List[float] = []

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

    def precomputed(self, model: torch.nn.Module) -> List[torch.Tensor]:
        """The pre-computed tensors of a :class:`PrecomputedNodeModel` for this run: computed once per projection
        seed (``model.precompute_seed``, else the run's seed) and kept while the seed stays."""
        seed = model.precompute_seed if model.precompute_seed is not None else self.seed
        if self._precomputed is None or self._precomputed[0] != seed:
            self._precomputed = None  # free the previous seed's tensors first
            t0 = time.perf_counter()
            tensors = model.precompute(self.ds.data, torch.Generator().manual_seed(seed))
            self.precompute_time_s.append(time.perf_counter() - t0)
            self._precomputed = (seed, tensors)
        return self._precomputed[1]

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

    def _batches(self, model: torch.nn.Module, idx: torch.Tensor, shuffle: bool) -> List[torch.Tensor]:
        """:obj:`idx` in shuffled mini-batches for a pre-computed model; whole (one full-batch step) otherwise."""
        bs = self.cfg['train']['batch_size']
        if not isinstance(model, PrecomputedNodeModel):
            return [idx]
        if shuffle:
            idx = idx[torch.randperm(idx.numel(), device=idx.device)]
        return list(idx.split(bs)) if bs is not None else [idx]

    def train_epoch(self, model: torch.nn.Module, optimizer: Optimizers, epoch: int) -> float:
        """One epoch over the training nodes: one full-batch step, or shuffled mini-batches of
        ``train.batch_size`` for a pre-computed model; returns the mean loss."""
        model.train()
        total, count = 0.0, 0
        for idx in self._batches(model, self.split['train'], shuffle=True):
            if self.out_of_time():
                break
            optimizer.zero_grad()
            loss = self._loss(self._logits(model, idx), idx)
            loss.backward()
            optimizer.step()
            total, count = total + float(loss.detach()) * idx.numel(), count + idx.numel()
        return total / count if count else float('nan')

    # Evaluation -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module) -> Dict[str, Dict[str, float]]:
        """``acc``, ``micro_f1``, ``macro_f1`` on the valid and test nodes (the splits the dataset has)."""
        model.eval()
        out = {}
        for s in ('valid', 'test'):
            if s in self.split:
                idx = self.split[s]
                logits = torch.cat([self._logits(model, b) for b in self._batches(model, idx, shuffle=False)])
                out[s] = classification_metrics(logits, self.y[idx], self.ds.multi_label)
        return out

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
            'precompute_time_s': self.precompute_time_s,
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
