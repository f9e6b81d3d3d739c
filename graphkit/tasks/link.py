r"""The link-prediction task: train a link model on a dataset's split and evaluate it with OGB's metrics.

The protocol follows OGB and the NCN code: one uniform negative per positive (PyG's
:func:`~torch_geometric.utils.negative_sampling`, redrawn every epoch), BCE on logits, Adam with optional
separate encoder / predictor learning rates, evaluation every ``eval_every`` epochs, and test reported at the
epoch of the best validation score. Target-link removal (``train.target_link_removal``) takes each batch's
positive edges out of the input graph; ``data.use_valedges_as_input`` adds validation edges to the test-time
graph (ogbl-collab).

TC-guided edge reweighting (``train.tc_reweight.alpha``, from the `"A Topological Perspective on Demystifying
GNN-Based Link Prediction Performance" <https://arxiv.org/abs/2310.04612>`_ paper) is an epoch-start hook: at
the start of every update epoch, :class:`~graphkit.analysis.TCReweighter` recomputes the weighted, normalised
training adjacency from the current model, and that epoch trains and evaluates on it. Its weights are part of
the checkpoint, and the mean weighted :math:`TC^{Val}` is logged with every evaluation (``tc_valid``).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.utils import negative_sampling

from graphkit.configs.schema import Field
from graphkit.data import load_link_dataset
from graphkit.data.custom import loader_kwargs, source_summary
from graphkit.distributed import hits_at_k
from graphkit.metrics import Evaluator
from graphkit.models.protocols import LinkModel
from graphkit.ops import cn_backend_counts, edge_positions, get_cn_backend, remove_positions, to_csr
from graphkit.tasks.optim import Optimizers
from graphkit.tasks.options import TrainOptions
from graphkit.tasks.progress import progress
from graphkit.tasks.registry import TASKS
from graphkit.tasks.run import SHARED_SCHEMA, Task, load_model_state
from graphkit.tasks.rundir import RunDir

__all__ = ['LinkTask', 'split_pairs']


def split_pairs(split: Dict[str, Tensor]) -> Tuple[Tensor, Optional[Tensor]]:
    r"""The positive pairs (shape :obj:`[2, P]`) and negatives of one OGB split dict.

    Negatives are a shared pool of pairs (shape :obj:`[2, M]`) for ``edge`` / ``edge_neg`` splits and a
    per-positive matrix of targets (shape :obj:`[P, K]`) for ``source_node`` / ``target_node`` splits.
    """
    if 'edge' in split:
        pos = split['edge'].t()
        neg = split['edge_neg'].t() if 'edge_neg' in split else None
    elif 'source_node' in split:
        pos = torch.stack([split['source_node'], split['target_node']])
        neg = split.get('target_node_neg')
    else:
        raise ValueError(f"A link split needs 'edge' or 'source_node'/'target_node' (got {sorted(split)})")
    return pos.long(), None if neg is None else neg.long()


class LinkTask(Task):
    r"""One ``graphkit train`` call of a link model: data, model, training, evaluation (the run loop, resume and
    summary come from :class:`~graphkit.tasks.run.Task`)."""

    task = 'link'
    kinds = ('link',)
    model_protocol = LinkModel
    schema = {
        **SHARED_SCHEMA,
        'train.encoder_lr': Field('float', nullable=True, min=0),
        'train.predictor_lr': Field('float', nullable=True, min=0),
        'train.batch_size': Field('int', min=1),
        'train.eval_batch_size': Field('int', min=1),
        'train.target_link_removal': Field('bool'),
        'train.grad_clip': Field('float', nullable=True, min=0),
        'train.num_neg': Field('int', min=1),
        'train.tc_reweight.alpha': Field('float', nullable=True, min=0),
        'train.tc_reweight.update_interval': Field('int', min=1),
        'train.tc_reweight.warm_up': Field('int', min=0),
        'data.use_valedges_as_input': Field('bool'),
        'data.features': Field('str', nullable=True),
        'data.val_ratio': Field('float', nullable=True, min=0, max=0.99),
        'data.test_ratio': Field('float', nullable=True, min=0, max=0.99),
        'eval.ks': Field('list[int]', min=1),
    }

    def __init__(self, opts: TrainOptions, cfg: Dict[str, Any]) -> None:
        super().__init__(opts, cfg)
        self.model_cls, _ = self.resolve_model()
        tr = cfg['train']
        self.tc_alpha = tr['tc_reweight']['alpha']
        if self.tc_alpha is not None and (tr['target_link_removal'] or cfg['data']['use_valedges_as_input']):
            raise ValueError(
                'train.tc_reweight trains and evaluates on the reweighted training graph: it needs '
                'train.target_link_removal=false and data.use_valedges_as_input=false'
            )
        if self.tc_alpha is not None and not self.model_cls.trainable:
            raise ValueError(f"train.tc_reweight needs a trained GCN or SAGE model; '{opts.model}' is not trained")
        self.reweighter: Any = None
        if opts.init_from and not sorted(RunDir(opts.init_from).path.glob('best_run*.pt')):
            raise FileNotFoundError(f"--init-from '{opts.init_from}' holds no best_run*.pt model states")

        self.load_kwargs = loader_kwargs(opts.dataset, cfg['data'], ('features', 'val_ratio', 'test_ratio'))
        with self.dist.rank_zero_first():  # torchrun: rank 0 parses and caches, the others then read the cache
            ds = load_link_dataset(opts.dataset, opts.root, seed=opts.seed, **self.load_kwargs)
        self.ds_extra = ds.extra
        self.name, self.data, self.split, self.split_seed = ds.name, ds.data, ds.split_edge, opts.seed
        self.seeded_split = ds.seeded_split
        self.metric = self._check_metric((cfg['eval']['metric'] or ds.metric).lower())
        self.evaluator = Evaluator(ds.eval_name)
        self.ks = sorted(set(cfg['eval']['ks']))
        if self.metric.startswith('hits@') and 'edge' in self.split['valid'] and int(self.metric[5:]) not in self.ks:
            self.ks.append(int(self.metric[5:]))
        x = getattr(self.data, 'x', None)
        if x is not None and not torch.isfinite(x).all():
            raise ValueError(f"Dataset '{self.name}': node features 'x' contain NaN or infinite values")
        self.x = None if x is None else x.float().to(self.device)
        self.num_nodes = int(self.data.num_nodes)
        self._cn_calls = cn_backend_counts()

    def _check_metric(self, metric: str) -> str:
        """The selection metric, if this dataset's evaluation reports it: ``hits@K`` for a pool of negative pairs
        (``edge_neg``), ``mrr`` / ``hits@1`` / ``hits@3`` / ``hits@10`` for per-positive negatives."""
        if 'edge' in self.split['valid']:
            name, _, k = metric.partition('@')
            if name == 'hits' and k.isdigit() and int(k) > 0:
                return metric
            allowed = 'hits@K (K a positive integer)'
        else:
            if metric in ('mrr', 'hits@1', 'hits@3', 'hits@10'):
                return metric
            allowed = 'mrr, hits@1, hits@3 or hits@10'
        raise ValueError(f"Config key 'eval.metric' must be {allowed} for dataset '{self.name}' (got {metric!r})")

    # Data -------------------------------------------------------------------------------------------------
    def prepare(self, seed: int, run: int = 0) -> None:
        """Prepare the split and graphs of the run with :obj:`seed` (Planetoid draws a new split per seed and is
        reloaded; OGB splits are fixed and loaded once)."""
        if self.seeded_split and seed != self.split_seed:
            ds = load_link_dataset(self.opts.dataset, self.opts.root, seed=seed, **self.load_kwargs)
            self.split = ds.split_edge
            self.split_seed = seed
        pos, _ = split_pairs(self.split['train'])
        self.train_pos = pos.to(self.device)
        self.adj = to_csr(self.train_pos, self.num_nodes)
        # Target-link removal masks the batch's entries out of the fixed training graph: their storage
        # positions are looked up once here, not per batch.
        self.train_edge_pos = (
            edge_positions(self.adj, self.train_pos) if self.cfg['train']['target_link_removal'] else None
        )
        self.valid = [t if t is None else t.to(self.device) for t in split_pairs(self.split['valid'])]
        self.test = [t if t is None else t.to(self.device) for t in split_pairs(self.split['test'])]
        if self.cfg['data']['use_valedges_as_input']:
            self.test_adj = to_csr(torch.cat([self.train_pos, self.valid[0]], dim=1), self.num_nodes)
        else:
            self.test_adj = self.adj
        if self.tc_alpha is not None:
            from graphkit.analysis.reweight import TCReweighter

            rw = self.cfg['train']['tc_reweight']
            self.reweighter = TCReweighter(
                self.train_pos,
                self.num_nodes,
                alpha=self.tc_alpha,
                update_interval=rw['update_interval'],
                warm_up=rw['warm_up'],
            )
            self.adj = self.test_adj = self.reweighter.adj
            self.has_valid = torch.zeros(self.num_nodes, dtype=torch.bool, device=self.device)
            self.has_valid[self.valid[0].reshape(-1)] = True

    # Model ------------------------------------------------------------------------------------------------
    def build(self) -> Tuple[torch.nn.Module, Optional[torch.optim.Optimizer]]:
        """The model and its Adam optimiser (encoder / predictor learning rates); no optimiser if untrainable."""
        model = self.build_model(self.data)
        if not model.trainable:
            return model, None
        if self.reweighter is not None:
            from torch_geometric.nn.conv import GCNConv, SAGEConv

            from graphkit.analysis.reweight import use_given_weights

            if not any(isinstance(m, (GCNConv, SAGEConv)) for m in model.modules()):
                raise ValueError(
                    f'train.tc_reweight needs a GCN or SAGE encoder (e.g. model gae); model '
                    f"'{self.opts.model}' has none"
                )
            use_given_weights(model)
        tr, groups, seen = self.cfg['train'], [], set()
        for attr in ('encoder', 'predictor'):
            module = getattr(model, attr, None)
            lr = tr[f'{attr}_lr']
            if isinstance(module, torch.nn.Module) and lr is not None:
                params = [p for p in module.parameters() if id(p) not in seen]
                seen.update(id(p) for p in params)
                groups.append({'params': params, 'lr': lr})
        rest = [p for p in model.parameters() if id(p) not in seen]
        if rest:
            groups.append({'params': rest, 'lr': tr['lr']})
        return model, torch.optim.Adam(groups, lr=tr['lr'], weight_decay=tr['weight_decay'])

    def init_model(self, model: torch.nn.Module, run: int) -> None:
        """With ``--init-from RUN_DIR``: load that run's best state non-strictly (*e.g.* NCN → NCNC)."""
        if not self.opts.init_from:
            return
        src = RunDir(self.opts.init_from)
        states = sorted(src.path.glob('best_run*.pt'))
        if not states:
            raise FileNotFoundError(f"--init-from '{src.path}' holds no best_run*.pt model states")
        path = src.best_state(run) if src.best_state(run).exists() else states[run % len(states)]
        missing, unexpected = load_model_state(model, path, strict=False)
        if unexpected:
            raise ValueError(f"--init-from '{path}' has parameters the model does not know: {unexpected[:5]}")

    # Training ---------------------------------------------------------------------------------------------
    def _negatives(self, num: int) -> Tensor:
        """:obj:`num` uniform non-edges of the training graph (PyG's sampler, topped up if it falls short)."""
        both = torch.cat([self.train_pos, self.train_pos.flip(0)], dim=1)
        out = negative_sampling(both, self.num_nodes, num_neg_samples=num)
        while out.size(1) < num:
            out = torch.cat([out, negative_sampling(both, self.num_nodes, num_neg_samples=num)], dim=1)
        return out[:, :num]

    def start_epoch(self, model: torch.nn.Module, epoch: int) -> None:
        """The epoch-start hook: with TC reweighting, the graph this epoch trains and evaluates on."""
        if self.reweighter is not None:
            self.adj = self.test_adj = self.reweighter(epoch, model, self.x)

    def train_epoch(self, model: torch.nn.Module, optimizer: Optimizers, epoch: int) -> float:
        """One epoch over the training positives; returns the mean loss."""
        tr = self.cfg['train']
        self.start_epoch(model, epoch)
        model.train()
        num_pos = self.train_pos.size(1)
        with self.dist.synced_rng(self._seed, epoch):  # torchrun: every rank draws the epoch's negatives alike
            neg = self._negatives(num_pos * tr['num_neg']).view(2, tr['num_neg'], num_pos)
        # shuffled batches, the last incomplete one dropped; under torchrun this rank's share of each global batch
        batches = self.train_batches(num_pos, tr['batch_size'], epoch, drop_last=True)
        total, count = 0.0, 0
        bar = progress(batches, self.opts.quiet, desc=f'Epoch {epoch:03d}', unit='batch')
        for idx, weight in bar:
            if self.out_of_time():
                break
            pos = self.train_pos[:, idx]
            neg_b = neg[:, :, idx].reshape(2, -1)
            adj = remove_positions(self.adj, self.train_edge_pos[:, idx]) if tr['target_link_removal'] else self.adj
            optimizer.zero_grad()
            loss = self.train_step(model, self._loss, adj, pos, neg_b)  # inside DDP under torchrun
            (loss if weight == 1 else loss * weight).backward()
            if tr['grad_clip'] is not None:
                for attr in ('encoder', 'predictor'):
                    module = getattr(model, attr, None)
                    if isinstance(module, torch.nn.Module):
                        torch.nn.utils.clip_grad_norm_(module.parameters(), tr['grad_clip'])
            optimizer.step()
            total += float(loss.detach()) * pos.size(1) * (weight > 0)
            count += pos.size(1) * (weight > 0)
        return total / count if count else float('nan')  # NaN (null in the log): the budget ran out before a step

    def _loss(self, model: torch.nn.Module, adj: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        """BCE on the logits of the positive and negative pairs of one batch."""
        h = model.encode(self.x, adj)
        out = model.predict(h, adj, torch.cat([pos, neg], dim=1))
        pos_out, neg_out = out[: pos.size(1)], out[pos.size(1) :]
        return -F.logsigmoid(pos_out).mean() - F.logsigmoid(-neg_out).mean()

    # Evaluation -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def _scores(self, model: torch.nn.Module, h: Tensor, adj: Tensor, pairs: Tensor) -> Tensor:
        bs = self.cfg['train']['eval_batch_size']
        chunks = progress(range(0, pairs.size(1), bs), self.opts.quiet, desc='Evaluating', unit='chunk')
        out = [model.predict(h, adj, pairs[:, i : i + bs]).view(-1) for i in chunks]
        return torch.cat(out) if out else pairs.new_empty(0, dtype=torch.float)

    def _queries(
        self, pos: Tensor, neg: Optional[Tensor]
    ) -> Tuple[Tuple[Tensor, Tensor], Callable[..., Dict[str, float]]]:
        """The pairs one split scores (under torchrun this rank's share): positives and negatives, and the function
        from their scores to the split's metrics."""
        if neg is None:
            raise ValueError(f"Dataset '{self.name}' has no negatives for evaluation")
        pos = self.dist.shard(pos)
        if neg.dim() == 2 and neg.size(0) == 2:  # a shared pool of negative pairs

            def hits(pos_score: Tensor, neg_score: Tensor) -> Dict[str, float]:
                if self.dist.enabled:  # the threshold from every rank's negatives, the hits summed
                    return hits_at_k(pos_score, neg_score, self.ks, self.dist)
                out = {}
                for k in self.ks:
                    self.evaluator.K = k
                    out[f'hits@{k}'] = float(
                        self.evaluator.eval({'y_pred_pos': pos_score, 'y_pred_neg': neg_score})[f'hits@{k}']
                    )
                return out

            return (pos, self.dist.shard(neg)), hits
        neg = self.dist.shard(neg, dim=0)
        src = pos[0].view(-1, 1).expand_as(neg)  # per-positive negatives: rank within each row

        def ranks(pos_score: Tensor, neg_score: Tensor) -> Dict[str, float]:
            res = self.evaluator.eval({'y_pred_pos': pos_score, 'y_pred_neg': neg_score.view(neg.shape)})
            return {key[:-5]: self.dist.reduce_mean(value) for key, value in res.items() if key.endswith('_list')}

        return (pos, torch.stack([src.reshape(-1), neg.reshape(-1)])), ranks

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module) -> Dict[str, Dict[str, float]]:
        """Valid metrics on the training graph, test metrics on the test-time graph. Splits on the same graph share
        one encoding and one scoring pass (pairs are scored independently in eval mode)."""
        model.eval()
        splits = {'valid': (self.adj, self.valid), 'test': (self.test_adj, self.test)}
        out: Dict[str, Dict[str, float]] = {}
        for name, (adj, _) in splits.items():
            if name in out:
                continue
            names = [other for other, (a, _) in splits.items() if a is adj]
            queries = [self._queries(*splits[other][1]) for other in names]
            pairs = [p for q in queries for p in q[0]]
            h = model.encode(self.x, adj)
            scores = self._scores(model, h, adj, torch.cat(pairs, dim=1)).cpu().split([p.size(1) for p in pairs])
            for k, (other, (_, metrics)) in enumerate(zip(names, queries)):
                out[other] = metrics(scores[2 * k], scores[2 * k + 1])
        return {'valid': out['valid'], 'test': out['test']}

    def state_dict(self) -> Dict[str, Any]:
        """The reweighted edge weights (TC reweighting only), so that ``--resume`` continues on the same graph."""
        if self.reweighter is None:
            return {}
        return {'edge_weight': self.reweighter.edge_weight.cpu(), 'num_updates': self.reweighter.num_updates}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        if self.reweighter is not None and state:
            self.reweighter.set_weights(state['edge_weight'].to(self.device), state['num_updates'])
            self.adj = self.test_adj = self.reweighter.adj

    def log_extra(self) -> Dict[str, Any]:
        """With TC reweighting: the mean weighted 1-hop :math:`TC^{Val}` of the nodes with validation edges."""
        if self.reweighter is None:
            return {}
        return {'tc_valid': float(self.reweighter.tc(self.valid[0])[self.has_valid].mean())}

    def summary_extra(self) -> Dict[str, Any]:
        """For a dataset given by path: its path and fingerprint (the id mapping goes next to the run); for a model
        with common-neighbour operators: their backend setting and the backends that ran (``graphkit.ops.cn_backend``).
        """
        out = source_summary(self.ds_extra, self.opts.out)
        calls = cn_backend_counts()
        used = sorted(k for k, v in calls.items() if v > self._cn_calls.get(k, 0))
        if used:
            setting = self.cfg.get('model', {}).get('cn_backend') or get_cn_backend()
            out['cn_backend'] = {'setting': setting, 'used': used}
        return out

    def protocol(self) -> Dict[str, Any]:
        tr = self.cfg['train']
        return {
            'target_link_removal': tr['target_link_removal'],
            'use_valedges_as_input': self.cfg['data']['use_valedges_as_input'],
            'negatives_per_positive': tr['num_neg'],
            'tc_reweight': dict(tr['tc_reweight']) if self.tc_alpha is not None else None,
            'selection': f'test at the best {self.select_on} {self.metric}'
            if self.select_on != 'last'
            else 'the last evaluation',
        }


TASKS.register('link', LinkTask)
