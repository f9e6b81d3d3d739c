r"""The graph task: models of many graphs (GSM++, GIN) with graph-level or node-level targets, classification
(accuracy) or regression (MAE / RMSE).

Protocol:

* **TU datasets** (no fixed split): stratified :obj:`data.folds`-fold cross-validation whose folds depend on
  ``--seed`` only (scikit-learn's :class:`~sklearn.model_selection.StratifiedKFold` with ``shuffle=True`` and
  ``random_state=seed``), not on the run: run :math:`r` tests on fold :math:`r` and trains on the others, of which
  a stratified :obj:`data.valid_ratio` share (again drawn with ``--seed``) is held out as the valid split that
  selects the reported epoch. ``--runs N`` runs the first :math:`N` folds; the summary's mean ± std is over folds.
  With ``data.valid_ratio: 0`` there is no valid split (``train.select_on`` must then be ``test`` or ``last``:
  the former is the optimistic protocol of the GIN paper).
* **Synthetic tasks**: their fixed seeded 60 / 20 / 20 split; runs differ by the model seed only.

Adam with ``train.lr`` / ``train.weight_decay``, an optional schedule (``train.scheduler``), mini-batches of
``train.batch_size`` graphs, cross-entropy (classification) or mean squared error (regression), plus the model's
``aux_loss`` when it has one (the MoT balance term of GSM++). A model's tokenising ``transform()`` is applied
once to the whole dataset (vectorised over chunks of graphs) and kept while the transform stays the same.
"""

from __future__ import annotations

import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Batch, Data
from torch_geometric.loader import DataLoader

from graphkit.configs.schema import Field
from graphkit.data import load_dataset
from graphkit.data.tu import GraphDataset
from graphkit.metrics.classification import regression_metrics
from graphkit.metrics.names import TASK_METRICS
from graphkit.models.protocols import GraphModel
from graphkit.tasks.optim import Optimizers, make_scheduler
from graphkit.tasks.options import TrainOptions
from graphkit.tasks.registry import TASKS
from graphkit.tasks.run import SHARED_SCHEMA, Task

__all__ = ['GraphTask', 'cv_folds']


def cv_folds(labels: Tensor, folds: int, seed: int, stratified: bool = True) -> List[Tensor]:
    r"""The test indices of each of :obj:`folds` folds, drawn with :obj:`seed` (stratified by :obj:`labels`)."""
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold

    y = labels.numpy()
    if stratified:
        counts = np.bincount(y)
        if counts[counts > 0].min() < folds:
            raise ValueError(
                f"Config key 'data.folds' is {folds}, but the smallest class has {counts[counts > 0].min()} graphs: "
                'stratified folds need at least one graph of every class per fold'
            )
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    return [torch.from_numpy(test).long() for _, test in splitter.split(np.zeros(len(y)), y)]


def _hold_out(index: Tensor, labels: Optional[Tensor], ratio: float, seed: int) -> Tuple[Tensor, Tensor]:
    """``(train, valid)``: a :obj:`ratio` share of :obj:`index` held out, stratified when labels are given."""
    from sklearn.model_selection import train_test_split

    idx = index.numpy()
    y = None if labels is None else labels[index].numpy()
    try:
        tr, va = train_test_split(idx, test_size=ratio, random_state=seed, stratify=y)
    except ValueError:  # a class too small to stratify: plain random hold-out
        tr, va = train_test_split(idx, test_size=ratio, random_state=seed)
    return torch.from_numpy(tr).long(), torch.from_numpy(va).long()


class GraphTask(Task):
    r"""One ``graphkit train`` call of a model of many graphs (the run loop, resume and summary come from
    :class:`~graphkit.tasks.run.Task`)."""

    task = 'graph'
    kinds = ('graph',)
    model_protocol = GraphModel
    schema = {
        **SHARED_SCHEMA,
        'train.batch_size': Field('int', min=1),
        'train.scheduler': Field('str', nullable=True, choices=('step', 'cosine')),
        'train.step_size': Field('int', min=1),
        'train.gamma': Field('float', min=0, max=1),
        'data.folds': Field('int', min=2),
        'data.valid_ratio': Field('float', min=0, max=0.5),
        'data.degree_cap': Field('int', min=1),
        'data.num_graphs': Field('int', min=3),
        'data.num_nodes': Field('int', min=4),
    }

    def __init__(self, opts: TrainOptions, cfg: Dict[str, Any]) -> None:
        super().__init__(opts, cfg)
        self.model_cls, kind = self.resolve_model()
        d = self.cfg['data']
        with self.dist.rank_zero_first():  # torchrun: rank 0 parses and caches, the others then read the cache
            self.ds: GraphDataset = load_dataset(
                opts.dataset,
                kind,
                opts.root,
                seed=opts.seed,
                degree_cap=d['degree_cap'],
                num_graphs=d['num_graphs'],
                num_nodes=d['num_nodes'],
            )
        self.name = self.ds.name
        self.metric = (cfg['eval']['metric'] or self.ds.metric).lower()
        allowed = ('mae', 'rmse') if self.ds.regression else ('acc',)
        if self.metric not in TASK_METRICS['graph'] or self.metric not in allowed:
            raise ValueError(
                f"Config key 'eval.metric' must be one of {', '.join(allowed)} for the "
                f'{"regression" if self.ds.regression else "classification"} dataset {self.name!r} '
                f'(got {self.metric!r})'
            )
        for i, g in enumerate(self.ds.graphs):
            if g.x is None or not torch.isfinite(g.x).all():
                raise ValueError(f"Dataset '{self.name}': graph {i} has no node features 'x' or NaN / infinite ones")
        self.valid_ratio = d['valid_ratio']
        self.folds: Optional[List[Tensor]] = None
        if opts.runs is None:  # no --runs: every fold of a cross-validation, one run on a fixed split
            opts.runs = d['folds'] if self.ds.split is None else 1
        if self.ds.split is None:
            if opts.runs > d['folds']:
                raise ValueError(f"--runs {opts.runs} exceeds the {d['folds']} folds (data.folds) of '{self.name}'")
            if self.valid_ratio == 0 and self.select_on == 'valid':
                raise ValueError(
                    "Config key 'data.valid_ratio' is 0 (no valid split): set train.select_on to test or last"
                )
            strat = self.ds.level == 'graph' and not self.ds.regression
            labels = self.ds.labels() if strat else torch.zeros(len(self.ds), dtype=torch.long)
            self.folds = cv_folds(labels, d['folds'], opts.seed, stratified=strat)
        self.graphs: List[Data] = list(self.ds.graphs)
        self._token_key: Optional[str] = None
        self.tokenize_time_s = 0.0
        self.split: Dict[str, Tensor] = {}
        self.fold = 0

    def prepare(self, seed: int, run: int = 0) -> None:
        """The split of run :obj:`run`: fold :obj:`run` as test (TU), or the dataset's fixed split."""
        if self.folds is None:
            self.split = dict(self.ds.split)
            return
        self.fold = run
        test = self.folds[run]
        rest = torch.cat([f for i, f in enumerate(self.folds) if i != run])
        labels = self.ds.labels() if self.ds.level == 'graph' and not self.ds.regression else None
        if self.valid_ratio > 0:
            train, valid = _hold_out(rest, labels, self.valid_ratio, self.opts.seed)
            self.split = {'train': train, 'valid': valid, 'test': test}
        else:
            self.split = {'train': rest, 'test': test}

    # Model ------------------------------------------------------------------------------------------------
    def _tokenize(self, model: torch.nn.Module) -> None:
        from graphkit.tokenize import tokenize_graphs

        transform = model.transform()
        key = repr(transform)
        if key == self._token_key:
            return
        t0 = time.perf_counter()
        self.graphs = list(self.ds.graphs) if transform is None else tokenize_graphs(self.ds.graphs, transform)
        self.tokenize_time_s = time.perf_counter() - t0
        self._token_key = key
        if transform is not None:
            self.log(f'Tokenisation {key}: {self.tokenize_time_s:.2f} s for {len(self.graphs)} graphs', 'stderr')

    def build(self) -> Tuple[torch.nn.Module, Optimizers]:
        tr = self.cfg['train']
        model = self.build_model(self.ds)
        self._tokenize(model)
        opt = torch.optim.Adam(model.parameters(), lr=tr['lr'], weight_decay=tr['weight_decay'])
        return model, Optimizers(opt, make_scheduler(opt, tr['scheduler'], tr['epochs'], tr['step_size'], tr['gamma']))

    def _loader(self, split: str, shuffle: bool, index: Optional[Tensor] = None) -> DataLoader:
        graphs = [self.graphs[int(i)] for i in (self.split[split] if index is None else index)]
        return DataLoader(graphs, batch_size=self.cfg['train']['batch_size'], shuffle=shuffle)

    def _train_batches(self, epoch: int) -> Iterator[Tuple[Batch, float]]:
        """``(batch, loss weight)`` of one epoch: PyG's shuffling loader in one process; under ``torchrun`` this
        rank's share of each global batch of ``train.batch_size`` graphs (:meth:`Task.train_batches`)."""
        if not self.dist.enabled:
            yield from ((batch, 1.0) for batch in self._loader('train', shuffle=True))
            return
        train = self.split['train']
        for idx, weight in self.train_batches(train.numel(), self.cfg['train']['batch_size'], epoch):
            yield Batch.from_data_list([self.graphs[int(i)] for i in train[idx.cpu()]]), weight

    def _loss(self, out: Tensor, y: Tensor, reduction: str = 'mean') -> Tensor:
        if self.ds.regression:
            return F.mse_loss(out.view(-1), y.view(-1).float(), reduction=reduction)
        return F.cross_entropy(out, y.view(-1), reduction=reduction)

    # Training ---------------------------------------------------------------------------------------------
    def train_epoch(self, model: torch.nn.Module, optimizer: Optimizers, epoch: int) -> float:
        model.train()
        total, count = 0.0, 0
        for batch, weight in self._train_batches(epoch):
            if self.out_of_time():
                break
            batch = batch.to(self.device)
            optimizer.zero_grad()
            out, loss, full = self.train_step(model, self._step, batch)  # inside DDP under torchrun
            (full if weight == 1 else full * weight).backward()
            optimizer.step()
            n = out.size(0) * (weight > 0)
            total, count = total + float(loss.detach()) * n, count + n
        return total / count if count else float('nan')

    def _step(self, model: torch.nn.Module, batch: Batch) -> Tuple[Tensor, Tensor, Tensor]:
        """``(output, loss, loss + the model's aux_loss)`` of one batch."""
        out = model(batch)
        loss = self._loss(out, batch.y)
        aux = getattr(model, 'aux_loss', None)
        return out, loss, loss + aux if isinstance(aux, Tensor) else loss

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module) -> Dict[str, Dict[str, float]]:
        """``acc`` (classification) or ``mae`` / ``rmse`` (regression) and the ``loss`` on valid and test."""
        model.eval()
        out: Dict[str, Dict[str, float]] = {}
        for s in ('valid', 'test'):
            if s not in self.split:
                continue
            preds, ys = [], []
            for batch in self._loader(s, shuffle=False, index=self.dist.shard(self.split[s])):  # torchrun: a share
                batch = batch.to(self.device)
                preds.append(model(batch))
                ys.append(batch.y.view(-1))
            pred, y = torch.cat(preds), torch.cat(ys)
            if self.dist.enabled:
                out[s] = self._reduced_metrics(pred, y)
                continue
            if self.ds.regression:
                res = regression_metrics(pred.view(-1), y.float())
            else:
                res = {'acc': float((pred.argmax(-1) == y).double().mean())}
            res['loss'] = float(self._loss(pred, y))
            out[s] = res
        return out

    def _reduced_metrics(self, pred: Tensor, y: Tensor) -> Dict[str, float]:
        """The metrics of :meth:`evaluate` from every rank's sums: errors (absolute, squared) or hits, the loss
        and the count."""
        if self.ds.regression:
            err = (pred.view(-1).double() - y.double()).view(-1)
            parts = [err.abs().sum(), err.pow(2).sum()]
        else:
            parts = [(pred.argmax(-1) == y).double().sum()]
        loss = self._loss(pred, y, reduction='sum').double()
        count = torch.tensor(float(y.numel()), dtype=torch.float64, device=y.device)
        sums = self.dist.sum(torch.stack([*parts, loss, count]).double())
        n = float(sums[-1])
        if self.ds.regression:
            res = {'mae': float(sums[0]) / n, 'rmse': (float(sums[1]) / n) ** 0.5}
        else:
            res = {'acc': float(sums[0]) / n}
        res['loss'] = float(sums[-2]) / n
        return res

    def summary_extra(self) -> Dict[str, Any]:
        return {
            'data': {
                'num_graphs': len(self.ds),
                'num_classes': self.ds.num_classes,
                'level': self.ds.level,
                'root': self.ds.root,
                **self.ds.info,
            },
            'time_s': {'tokenize': self.tokenize_time_s},
        }

    def protocol(self) -> Dict[str, Any]:
        d = self.cfg['data']
        split = (
            f'{d["folds"]}-fold stratified cross-validation, folds from --seed {self.opts.seed}; run r = fold r; '
            f'valid = {self.valid_ratio:g} of the training folds'
            if self.folds is not None
            else 'the fixed seeded 60/20/20 split of the dataset'
        )
        return {
            'selection': self.selection_rule(),
            'split': split,
            'batch_size': self.cfg['train']['batch_size'],
            'loss': 'mean squared error' if self.ds.regression else 'cross-entropy',
            'scheduler': self.cfg['train']['scheduler'],
        }


TASKS.register('graph', GraphTask)
