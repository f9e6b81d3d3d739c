r"""The recommendation task: train a user-item model and evaluate it by full ranking over all items.

Shared by :class:`~graphkit.models.UltraGCN` and :class:`~graphkit.models.LightGCN` (any model with
``task = 'recommend'``, ``from_config(cfg, data)``, ``get_embedding(edge_index)``,
``sample_negatives(user)`` and ``loss(edge_label_index, neg_index, edge_index=...)``).

Protocol (the official UltraGCN / LightGCN one, with a validation option):

* each epoch shuffles the training pairs and walks them in batches of ``train.batch_size`` (the last, smaller
  batch is kept, as the official ``DataLoader`` does); negatives are drawn per batch by the model;
* evaluation ranks **all** items for every user with the training items masked (chunks of
  ``train.eval_batch_size`` users, :mod:`graphkit.metrics.ranking`); Recall / Precision / NDCG / F1 at
  ``eval.ks``; averages over all users (``eval.denominator: all``, official) or users with held-out items;
  F1 from the averaged precision and recall (official);
* cadence: every ``train.eval_every`` epochs, and every epoch from ``train.eval_every_from`` on;
  early stopping after ``train.early_stop`` evaluations without improvement of the selection metric;
* ``train.time_budget_s`` stops training once that much wall time has passed (inside an epoch if need be),
  evaluates and ends the run;
* selection: by default on a validation split carved from ``train.txt`` (``data.val_ratio`` of each
  user's items, seeded); ``train.select_on: test`` reproduces the official protocol (**best test epoch**,
  no validation split) and the summary says so.
"""

from __future__ import annotations

import sys
from typing import Any, Dict

import torch

from graphkit.configs.schema import Field
from graphkit.data import load_dataset
from graphkit.data.custom import loader_kwargs, source_summary
from graphkit.metrics.ranking import dot_product_ranking, means_from_sums, ranking_metrics, ranking_sums
from graphkit.models.protocols import RecommendModel
from graphkit.ops import gcn_norm, pairs_to_csr, to_csr
from graphkit.tasks.options import TrainOptions
from graphkit.tasks.progress import progress
from graphkit.tasks.registry import TASKS
from graphkit.tasks.run import SHARED_SCHEMA, Task

__all__ = ['RecommendTask']


class RecommendTask(Task):
    r"""One ``graphkit train`` call of a recommendation model (the run loop, resume and summary come from
    :class:`~graphkit.tasks.run.Task`)."""

    task = 'recommend'
    kinds = ('recommend',)
    model_protocol = RecommendModel
    schema = {
        **SHARED_SCHEMA,
        'train.select_on': Field('str', choices=('valid', 'test')),
        'train.batch_size': Field('int', min=1),
        'train.eval_batch_size': Field('int', min=1),
        'train.eval_every_from': Field('int', nullable=True, min=0),
        'data.val_ratio': Field('float', min=0, max=0.99),
        'data.test_ratio': Field('float', nullable=True, min=0.01, max=0.99),
        'data.temporal_split': Field('bool'),
        'eval.ks': Field('list[int]', min=1),
        'eval.denominator': Field('str', choices=('all', 'with_truth')),
    }

    def __init__(self, opts: TrainOptions, cfg: Dict[str, Any]) -> None:
        super().__init__(opts, cfg)
        self.model_cls, _ = self.resolve_model()
        ev = cfg['eval']
        self.ks = sorted(set(int(k) for k in ev['ks']))
        self.metric = (ev['metric'] or f'recall@{self.ks[0]}').lower()
        name, _, k = self.metric.partition('@')
        if name not in ('recall', 'ndcg', 'precision', 'f1', 'hit') or not k.isdigit():
            raise ValueError(f"Config key 'eval.metric' must look like 'recall@20' or 'ndcg@20' (got {self.metric!r})")
        if int(k) not in self.ks:
            self.ks.append(int(k))
            self.ks.sort()
        val_ratio = 0.0 if self.select_on == 'test' else cfg['data']['val_ratio']
        if self.select_on == 'valid' and val_ratio <= 0:
            raise ValueError(
                "train.select_on 'valid' needs data.val_ratio > 0 (or use train.select_on=test, the official protocol)"
            )
        more = loader_kwargs(opts.dataset, cfg['data'], ('test_ratio', 'temporal_split'))
        with self.dist.rank_zero_first():  # torchrun: rank 0 parses and caches, the others then read the cache
            self.ds = load_dataset(opts.dataset, 'recommend', opts.root, seed=opts.seed, val_ratio=val_ratio, **more)
        if self.ds.cold_test_users and not opts.quiet:
            print(
                f'Note: {self.ds.cold_test_users} users have test items but no training item; they are '
                f'ranked with untrained embeddings',
                file=sys.stderr,
            )
        self.name = self.ds.name
        self._prepare()

    def _prepare(self) -> None:
        ds, dev = self.ds, self.device
        U, num_items = ds.num_users, ds.num_items
        self.data = ds.data
        self.train_pos = self.data.edge_label_index.to(dev)  # [2, E] homogeneous
        self.data.edge_label_index = self.train_pos
        train_pairs = ds.train.to(dev)
        self.exclude_valid = pairs_to_csr(train_pairs, U, num_items)
        known = train_pairs if ds.valid is None else torch.cat([train_pairs, ds.valid.to(dev)], dim=1)
        self.exclude_test = pairs_to_csr(known, U, num_items)
        self.truth_test = pairs_to_csr(ds.test.to(dev), U, num_items)
        self.truth_valid = None if ds.valid is None else pairs_to_csr(ds.valid.to(dev), U, num_items)
        self.graph = None
        if self.cfg['model'].get('num_layers') is not None:  # message-passing models get the normalised graph
            adj = to_csr(self.data.edge_index.to(dev), U + num_items)
            self.graph = gcn_norm(adj, add_self_loops=False)

    # Model ------------------------------------------------------------------------------------------------
    def build(self):
        model = self.build_model(self.data)
        tr = self.cfg['train']
        return model, torch.optim.Adam(model.parameters(), lr=tr['lr'], weight_decay=tr['weight_decay'])

    # Training ---------------------------------------------------------------------------------------------
    def train_epoch(self, model, optimizer, epoch: int) -> float:
        """One epoch over the shuffled training pairs (the last, smaller batch kept); under ``torchrun`` this
        rank's share of each global batch, with its own negatives. A loss summed over the batch (UltraGCN's
        official ``reduction: sum``) is weighted by the number of ranks, a mean loss by the rank's share, so that
        the averaged gradient is the global batch's data term. A regulariser inside the loss is computed by every
        rank: one over the batch's rows (UltraGCN ``l2_on: batch``) then counts a row once per rank that holds it,
        one over all rows (``l2_on: all``, official) counts :math:`N` times under a ``sum`` loss (divide
        ``model.gamma`` by :math:`N` to keep its strength)."""
        bs = self.cfg['train']['batch_size']
        model.train()
        num_pos = self.train_pos.size(1)
        summed = getattr(getattr(model, 'criterion', model), 'reduction', 'mean') == 'sum'
        total = 0.0
        batches = self.train_batches(num_pos, bs, epoch)
        bar = progress(batches, self.opts.quiet, desc=f'Epoch {epoch:03d}', unit='batch')
        steps = 0
        for idx, weight in bar:
            if self.out_of_time():
                break  # time budget spent: stop inside the epoch
            pos = self.train_pos[:, idx]
            neg = model.sample_negatives(pos[0])
            optimizer.zero_grad()
            loss = self.train_step(model, lambda m: m.loss(pos, neg, edge_index=self.graph))  # DDP under torchrun
            if weight != 1:
                weight = self.dist.world_size * (weight > 0) if summed else weight
            (loss if weight == 1 else loss * weight).backward()
            optimizer.step()
            if weight > 0:  # not the stand-in item of a rank left without one
                total += float(loss.detach())
                steps += 1
        return total / steps if steps else float('nan')  # NaN (null in the log): the budget ran out before a step

    # Evaluation -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, model) -> Dict[str, Dict[str, float]]:
        """Valid (if any) and test metrics, averaged with ``eval.denominator``."""
        model.eval()
        emb = model.get_embedding(self.graph)
        U = self.ds.num_users
        user_emb, item_emb = emb[:U], emb[U:]
        out: Dict[str, Dict[str, float]] = {}
        if self.truth_valid is not None:
            out['valid'] = self._ranking(user_emb, item_emb, self.truth_valid, self.exclude_valid)
        out['test'] = self._ranking(user_emb, item_emb, self.truth_test, self.exclude_test)
        return out

    def _ranking(self, user_emb, item_emb, truth, exclude) -> Dict[str, float]:
        """Full-ranking metrics of every user; under ``torchrun`` each rank ranks its share of the users and the
        per-metric sums and counts are summed (:func:`~graphkit.metrics.ranking.ranking_sums`)."""
        chunk, den = self.cfg['train']['eval_batch_size'], self.cfg['eval']['denominator']
        if not self.dist.enabled:
            return dot_product_ranking(user_emb, item_emb, truth, exclude, self.ks, chunk, den)
        users = self.dist.shard(torch.arange(self.ds.num_users, device=user_emb.device))
        per_user = ranking_metrics(lambda q: user_emb[q] @ item_emb.t(), truth, self.ks, exclude, chunk, users)
        return means_from_sums(list(per_user), self.dist.sum(ranking_sums(per_user)), den, f1='of_means')

    def eval_due(self, epoch: int, epochs: int) -> bool:
        tr = self.cfg['train']
        late = tr['eval_every_from']
        return epoch % tr['eval_every'] == 0 or epoch == epochs or (late is not None and epoch >= late)

    def before_runs(self) -> None:
        if self.select_on == 'test' and not self.opts.quiet:
            print(
                'Selection on the TEST set (official UltraGCN protocol: best test epoch, no validation '
                'split); use train.select_on=valid for a clean estimate',
                file=sys.stderr,
            )

    def summary_extra(self) -> Dict[str, Any]:
        ds = self.ds
        return {
            'data': {
                'num_users': ds.num_users,
                'num_items': ds.num_items,
                'train': int(ds.train.size(1)),
                'valid': 0 if ds.valid is None else int(ds.valid.size(1)),
                'test': int(ds.test.size(1)),
                'cold_test_users': ds.cold_test_users,
                'split_seed': self.opts.seed,
                'root': ds.root,
            },
            **source_summary(ds.extra, self.opts.out),
        }

    def protocol(self) -> Dict[str, Any]:
        ratio = self.cfg['data']['val_ratio']
        selection = (
            f"test at best valid {self.metric} (validation = {ratio} of each user's train.txt items, seeded)"
            if self.select_on == 'valid'
            else f'TEST {self.metric}: best test epoch, no validation split (the official UltraGCN '
            'protocol; optimistic)'
        )
        return {
            'selection': selection,
            'select_on': self.select_on,
            'ranking': 'full ranking over all items, training (and validation) items masked, ties by lower item index',
            'denominator': self.cfg['eval']['denominator'],
            'f1': 'from averaged precision and recall',
            'early_stop_evals': self.cfg['train']['early_stop'],
            'time_budget_s': self.cfg['train']['time_budget_s'],
        }


TASKS.register('recommend', RecommendTask)
