r"""The node-classification task: full-batch training of a node model on a dataset's node split, accuracy and
micro / macro F1 on each split.

Homogeneous graphs (the Planetoid public split, ``ogbn-arxiv``) feed the model ``(x, edge_index)``. A
heterogeneous node task (RpHGNN's, registered under its own task name) subclasses :class:`NodeTask` and overrides
:meth:`NodeTask.model_inputs` with what its model reads. Protocol: Adam with
``train.lr`` / ``train.weight_decay``, an optional LR schedule (``train.scheduler``: ``step`` or ``cosine``,
stepped once per epoch), cross-entropy on the training nodes (binary cross-entropy per class when the labels are
multi-label), and test reported at the epoch of the best validation accuracy (``train.select_on``).
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

import torch
import torch.nn.functional as F
from torch_geometric.transforms import NormalizeFeatures

from graphkit.configs.schema import Field
from graphkit.data import NodeDataset, load_dataset
from graphkit.metrics.classification import classification_metrics
from graphkit.metrics.names import TASK_METRICS
from graphkit.models.protocols import NodeModel
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
        self.inputs = self.model_inputs()

    def prepare(self, seed: int, run: int = 0) -> None:
        """A seeded split (HGB's train / valid split of ``label.dat``) is drawn anew for each run's seed; fixed
        splits (Planetoid, OGB) stay."""
        if self.ds.seeded_split and seed != self.split_seed:
            split = load_dataset(self.opts.dataset, self.kind, self.opts.root, seed=seed).split
            self.split = {s: idx.to(self.device) for s, idx in split.items()}
            self.split_seed = seed

    def model_inputs(self) -> Tuple[Any, ...]:
        """What the model's ``forward`` is called with: ``(x, edge_index)`` on the task's device. A
        heterogeneous task (RpHGNN) overrides it with what its model reads."""
        data = self.ds.data
        return (None if data.x is None else data.x.to(self.device), data.edge_index.to(self.device))

    # Model ------------------------------------------------------------------------------------------------
    def build(self) -> Tuple[torch.nn.Module, Optimizers]:
        """The model, Adam, and the LR schedule of ``train.scheduler``."""
        tr = self.cfg['train']
        model = self.build_model(self.ds)
        opt = torch.optim.Adam(model.parameters(), lr=tr['lr'], weight_decay=tr['weight_decay'])
        return model, Optimizers(opt, make_scheduler(opt, tr['scheduler'], tr['epochs'], tr['step_size'], tr['gamma']))

    # Training ---------------------------------------------------------------------------------------------
    def _loss(self, logits: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        if self.ds.multi_label:
            return F.binary_cross_entropy_with_logits(logits[idx], self.y[idx].float())
        return F.cross_entropy(logits[idx], self.y[idx])

    def train_epoch(self, model: torch.nn.Module, optimizer: Optimizers, epoch: int) -> float:
        """One full-batch step on the training nodes; returns the loss."""
        model.train()
        optimizer.zero_grad()
        loss = self._loss(model(*self.inputs), self.split['train'])
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    # Evaluation -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module) -> Dict[str, Dict[str, float]]:
        """``acc``, ``micro_f1``, ``macro_f1`` on the valid and test nodes (the splits the dataset has)."""
        model.eval()
        logits = model(*self.inputs)
        return {
            s: classification_metrics(logits[self.split[s]], self.y[self.split[s]], self.ds.multi_label)
            for s in ('valid', 'test')
            if s in self.split
        }

    def summary_extra(self) -> Dict[str, Any]:
        return {
            'data': {
                'num_classes': self.ds.num_classes,
                'multi_label': self.ds.multi_label,
                'target': self.ds.target,
                'root': self.ds.root,
                **{s: int(idx.numel()) for s, idx in self.ds.split.items()},
                **self.ds.info,
            }
        }

    def protocol(self) -> Dict[str, Any]:
        tr = self.cfg['train']
        return {
            'selection': self.selection_rule(),
            'full_batch': True,
            'loss': 'binary cross-entropy per class' if self.ds.multi_label else 'cross-entropy',
            'scheduler': tr['scheduler'],
            'normalize_features': self.cfg['data']['normalize_features'],
        }


TASKS.register('node', NodeTask)
