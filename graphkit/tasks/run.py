r"""The run loop every task shares (:class:`Task`): seeds, resume, selection, early stopping, the time budget,
checkpoints and the summary; and :func:`load_run`, which rebuilds a finished run.

A run directory (:class:`~graphkit.tasks.rundir.RunDir`) holds

* ``config.yaml``: the resolved configuration,
* ``metrics.jsonl``: one JSON line per evaluation,
* ``checkpoint.pt``: the state of the run in progress (model, optimisers, LR schedulers, task state, RNG
  states: state dicts and plain values only, loadable with ``torch.load(..., weights_only=True)``), rewritten
  atomically after every epoch so ``--resume`` continues,
* ``best_run{r}.pt``: the model state of each finished run at its selected epoch,
* ``train.log``: one line per epoch and per evaluation, with times (what the terminal showed),
* ``summary.json``: per-run and mean ± std results of each split, the selection rule, #params, wall time and a
  version stamp.
"""

from __future__ import annotations

import json
import math
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import torch

import graphkit
from graphkit.configs.schema import Field, model_schema, validate
from graphkit.distributed import Distributed, mix_seeds
from graphkit.io import safe_torch_load
from graphkit.metrics.names import is_better, metric_direction
from graphkit.tasks.callbacks import Suspended
from graphkit.tasks.optim import Optimizers
from graphkit.tasks.progress import format_seconds, is_tty
from graphkit.tasks.rundir import RunDir

__all__ = [
    'Task',
    'load_run',
    'seed_everything',
    'rng_state',
    'set_rng_state',
    'version_stamp',
    'mean_std',
    'count_parameters',
    'SHARED_SCHEMA',
    'SPLITS',
]


def is_out_of_memory(e: BaseException) -> bool:
    """Whether :obj:`e` is an allocation failure (CPU or CUDA)."""
    if isinstance(e, (MemoryError, torch.OutOfMemoryError)):
        return True
    text = str(e)
    return isinstance(e, RuntimeError) and ("can't allocate memory" in text or 'out of memory' in text)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's global generators."""
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # pragma: no cover
        pass


def rng_state() -> Dict[str, Any]:
    """The state of Python's and PyTorch's generators as plain values and tensors."""
    version, state, gauss = random.getstate()
    out: Dict[str, Any] = {'python': [version, list(state), gauss], 'torch': torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out['cuda'] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(state: Dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


def count_parameters(module: torch.nn.Module) -> int:
    """Number of parameters of :obj:`module` (every stage, trainable or not)."""
    return sum(p.numel() for p in module.parameters())


def _git_sha() -> Optional[str]:
    try:
        out = subprocess.run(
            ['git', 'rev-parse', 'HEAD'],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(graphkit.__file__).resolve().parents[1],
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def version_stamp(device: torch.device) -> Dict[str, Any]:
    """Versions, device and extension flags written into every summary."""
    import torch_geometric

    from graphkit.metrics import EVALUATOR_SEMANTICS
    from graphkit.ops import extension_flags

    return {
        'graphkit': graphkit.__version__,
        'torch': torch.__version__,
        'torch_geometric': torch_geometric.__version__,
        'cuda': torch.version.cuda,
        'python': platform.python_version(),
        'device': str(device),
        'threads': torch.get_num_threads(),
        'device_name': (
            torch.cuda.get_device_name(device) if device.type == 'cuda' else platform.processor() or platform.machine()
        ),
        'git_sha': _git_sha(),
        'extensions': extension_flags(),
        'evaluator': EVALUATOR_SEMANTICS,
    }


def mean_std(values: Iterable[float]) -> Dict[str, Optional[float]]:
    """Mean and unbiased standard deviation (OGB's reporting rule); std is :obj:`None` for one value."""
    t = torch.tensor(list(values), dtype=torch.float64)
    if t.numel() == 0:
        return {'mean': None, 'std': None}
    std = t.std().item() if t.numel() > 1 else None
    return {'mean': t.mean().item(), 'std': std}


def finite(value: float) -> Optional[float]:
    """:obj:`value` as a float, or :obj:`None` if it is not finite (JSON has no NaN)."""
    value = float(value)
    return value if math.isfinite(value) else None


#: The splits an evaluation may report, in the order they are shown.
SPLITS = ('train', 'valid', 'test')

#: Keys every task reads (``configs/defaults.yaml``), with their declared form.
SHARED_SCHEMA: Dict[str, Field] = {
    'train.epochs': Field('int', min=1),
    'train.lr': Field('float', min=0),
    'train.weight_decay': Field('float', min=0),
    'train.eval_every': Field('int', min=1),
    'train.early_stop': Field('int', nullable=True, min=1),
    'train.time_budget_s': Field('float', nullable=True, min=0),
    'train.select_on': Field('str', choices=('valid', 'test', 'last')),
    'eval.metric': Field('str', nullable=True),
}


class Task:
    r"""The run loop shared by every task family (link, recommend, node, cluster, graph): seeds, resume,
    best-epoch selection, early stopping, a time budget, checkpoints, progress and the summary.

    A task subclasses it and provides

    * :meth:`prepare` (per-run data: a seeded split, a cross-validation fold), :meth:`build` (the model and
      its optimiser(s): an :class:`~torch.optim.Optimizer`, an :class:`Optimizers` with several optimisers and
      LR schedulers, or :obj:`None` for a model that is not trained),
    * :meth:`train_epoch` (returns the mean loss) and :meth:`evaluate` (``{split: {metric: value}}`` for the
      splits it has: ``{'valid', 'test'}``, ``{'test'}`` only for clustering, ...; no split is invented),
    * optionally :meth:`init_model`, :meth:`state_dict` / :meth:`load_state_dict` (task state that must
      survive ``--resume``, *e.g.* TC reweighting), :meth:`log_extra`, :meth:`protocol`, :meth:`summary_extra`,

    and sets :attr:`metric` (the selection metric), :attr:`name` (the dataset) and :attr:`task`. The metric's
    direction (:func:`~graphkit.metrics.names.metric_direction`: ``max`` for accuracy / F1 / Hits / Recall,
    ``min`` for a loss / MAE / RMSE) drives selection and early stopping.

    Config keys read here (:obj:`SHARED_SCHEMA`): ``train.epochs``, ``train.lr``, ``train.weight_decay``,
    ``train.eval_every``, ``train.early_stop`` (evaluations without improvement before stopping; :obj:`None`:
    never), ``train.time_budget_s`` (wall seconds per run after which training stops, inside an epoch if need
    be, evaluates and ends), ``train.select_on`` (``valid`` / ``test``: the epoch with the best selection
    metric on that split is reported; ``last``: the final evaluation, for tasks without a held-out split) and
    ``eval.metric``. A subclass declares its own keys in :attr:`schema`; every value is checked (type, range,
    choices) before any data, model or file is made.

    Under ``torchrun`` (:mod:`graphkit.distributed`) :attr:`dist` is the process group and the loop is data
    parallel: a task draws its training batches from :meth:`train_batches` (this rank's share of each global
    batch, with a loss weight), runs the differentiable part of a step through :meth:`train_step` (inside DDP),
    loads its data under ``self.dist.rank_zero_first()`` and reduces its evaluation with ``self.dist``; only
    rank 0 writes the run directory and prints, and the checkpoint holds every rank's RNG state. In one process
    these calls are the plain ones.
    """

    task: str = ''
    #: The kinds of dataset the task serves (see :obj:`graphkit.data.KINDS`).
    kinds: Tuple[str, ...] = ()
    #: Declared config keys (checked in :meth:`__init__`).
    schema: Dict[str, Field] = SHARED_SCHEMA
    #: The :mod:`typing.Protocol` a built model must satisfy (:mod:`graphkit.models.protocols`); None: any.
    model_protocol: Optional[type] = None
    metric: str = ''
    name: str = ''

    def __init__(self, opts: Any, cfg: Dict[str, Any]) -> None:
        self.opts, self.cfg = opts, validate(cfg, self.schema)
        #: The process group under ``torchrun`` (a one-process stand-in otherwise); rank 0 writes and prints.
        self.dist, self.device = Distributed.setup(opts.device)
        if not self.dist.is_main:
            opts.quiet = True
            self.dist.quiet_others()
        self._ddp: Optional[torch.nn.Module] = None
        self._seed = opts.seed
        self.results: List[Dict[str, Any]] = []
        self.num_parameters = 0
        self.deadline: Optional[float] = None
        self._log_file: Optional[Path] = None
        self._started = time.perf_counter()  # the invocation's start, for opts.stop_after
        self.callbacks = list(getattr(opts, 'callbacks', ()) or ()) if self.dist.is_main else []
        tr = cfg['train']
        self.select_on: str = tr['select_on']
        if self.select_on == 'last' and tr['early_stop'] is not None:
            raise ValueError(
                "Config key 'train.early_stop' needs train.select_on 'valid' or 'test' (with "
                "'last' nothing is selected)"
            )

    @property
    def direction(self) -> str:
        """``'max'`` or ``'min'``: whether a larger :attr:`metric` is better."""
        return metric_direction(self.metric)

    # To provide ---------------------------------------------------------------------------------------------
    def prepare(self, seed: int, run: int = 0) -> None:
        """Set up what depends on the run: its :obj:`seed` (a Planetoid link split) or its index :obj:`run`
        (the cross-validation fold of a graph-level task). Default: nothing."""

    def build(self) -> Tuple[torch.nn.Module, Any]:
        """Return ``(model, optimizer)``: an :class:`~torch.optim.Optimizer`, an :class:`Optimizers`, or
        :obj:`None` for models that are not trained."""
        raise NotImplementedError

    def init_model(self, model: torch.nn.Module, run: int) -> None:
        """Initialise a freshly built model before training (default: nothing)."""

    def train_epoch(self, model: torch.nn.Module, optimizer: Optimizers, epoch: int) -> float:
        raise NotImplementedError

    def evaluate(self, model: torch.nn.Module) -> Dict[str, Dict[str, float]]:
        raise NotImplementedError

    def state_dict(self) -> Dict[str, Any]:
        """Task state that ``--resume`` must restore (tensors and plain values; default: none)."""
        return {}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    def log_extra(self) -> Dict[str, Any]:
        """Extra plain values written with every evaluation to ``metrics.jsonl`` (default: none)."""
        return {}

    def protocol(self) -> Dict[str, Any]:
        """How the numbers were produced, for the summary."""
        return {}

    def summary_extra(self) -> Dict[str, Any]:
        """Task-specific summary fields (default: none)."""
        return {}

    def before_runs(self) -> None:
        """Called once before the first run: says so on stderr when the reported epoch is selected on the test
        split (tasks may print a more specific protocol notice)."""
        if self.select_on == 'test' and not self.opts.quiet:
            print(
                f'Selection on the TEST set (train.select_on=test): the reported epoch has the best test '
                f'{self.metric}, an optimistic estimate; train.select_on=valid gives a clean one',
                file=sys.stderr,
            )

    # Shared -----------------------------------------------------------------------------------------------
    def build_model(self, data: Any) -> torch.nn.Module:
        """``model_cls.from_config(cfg['model'], data)`` on the task's device; a bad ``model.*`` value is a
        :class:`ValueError` naming the model and its config section."""
        try:
            model = self.model_cls.from_config(dict(self.cfg['model']), data)
            return model.to(self.device)
        except (TypeError, ValueError) as e:
            raise ValueError(
                f"Model '{self.opts.model}' could not be built from its 'model' config section: {e}"
            ) from None
        except (MemoryError, RuntimeError) as e:  # torch.OutOfMemoryError is a RuntimeError
            if not is_out_of_memory(e):
                raise
            raise ValueError(
                f"Model '{self.opts.model}' does not fit in memory with this 'model' config section "
                f'({str(e).splitlines()[0][:200]}); reduce its sizes'
            ) from None

    def resolve_model(self) -> Tuple[type, str]:
        """The model class of ``opts.model`` and the kind of dataset it reads from ``opts.dataset`` (a
        :class:`ValueError` naming both when the dataset serves no kind the model accepts)."""
        from graphkit.data import choose_kind
        from graphkit.models import MODELS

        model_cls = MODELS.get(self.opts.model)
        kinds = [k for k in model_cls.kinds if k in self.kinds]
        if model_cls.task != self.task or not kinds:
            raise ValueError(
                f"Model '{self.opts.model}' (task {model_cls.task}, kinds {list(model_cls.kinds)}) does not fit "
                f'the {self.task} task (kinds {list(self.kinds)})'
            )
        self.model_cls = model_cls
        # the model's declared keys (types, ranges, choices) before any data is read
        validate(self.cfg, model_schema(model_cls))
        return model_cls, choose_kind(self.opts.dataset, kinds, f"model '{self.opts.model}'")

    def eval_due(self, epoch: int, epochs: int) -> bool:
        """Whether to evaluate after :obj:`epoch`."""
        return epoch % self.cfg['train']['eval_every'] == 0 or epoch == epochs

    def out_of_time(self) -> bool:
        """Whether the run's time budget is spent (checked between epochs and between batches; under ``torchrun``
        every rank stops when one has run out)."""
        return self.deadline is not None and self.dist.any(time.perf_counter() >= self.deadline)

    def train_batches(
        self, n: int, batch_size: Optional[int], epoch: int, drop_last: bool = False
    ) -> List[Tuple[torch.Tensor, float]]:
        r"""The mini-batches of one epoch over :obj:`n` training items, as ``(index, loss weight)`` pairs: in one
        process a shuffle from the global generator (``torch.randperm``) cut into batches of :obj:`batch_size`
        (:obj:`None`: one batch; :obj:`drop_last`: the last incomplete batch is dropped, but there is always one),
        weight 1; under ``torchrun`` this rank's share of the same global batches drawn from a generator seeded by
        ``(seed, epoch)`` (:meth:`Distributed.batches <graphkit.distributed.Distributed.batches>`), weighted so
        that the averaged gradient is the global batch's."""
        bs = n if batch_size is None else batch_size
        if self.dist.enabled:
            return self.dist.batches(n, max(bs, 1), self._seed, epoch, drop_last, self.device)
        perm = torch.randperm(n, device=self.device)
        count = max(n // bs, 1) if drop_last else -(-n // bs) if n else 0
        return [(perm[b * bs : (b + 1) * bs], 1.0) for b in range(count)]

    def train_step(self, model: torch.nn.Module, fn: Any, *args: Any) -> torch.Tensor:
        r"""``fn(model, *args)``: the differentiable part of a training step (returning the loss). Under ``torchrun``
        it runs inside :class:`~torch.nn.parallel.DistributedDataParallel`, so the following ``backward()``
        averages the gradients of the ranks."""
        ddp = self._ddp
        if ddp is None or ddp.module.model is not model:
            return fn(model, *args)
        return ddp(fn, *args)

    def selection_rule(self) -> str:
        """How the reported epoch is chosen, in words (for the summary and the final table)."""
        if self.select_on == 'last':
            return 'the last evaluation (train.select_on=last)'
        best = 'highest' if self.direction == 'max' else 'lowest'
        return f'the evaluation with the {best} {self.select_on} {self.metric}'

    def log(self, line: str, stream: Optional[str] = 'stdout') -> None:
        """Print :obj:`line` to :obj:`stream` (``'stdout'``, ``'stderr'``, or :obj:`None` for the file only;
        nothing under quiet) and append it to the run directory's ``train.log``."""
        if stream is not None and not self.opts.quiet:
            print(line, file=getattr(sys, stream), flush=True)
        if self._log_file is not None:
            with open(self._log_file, 'a') as f:
                f.write(f'{time.strftime("%Y-%m-%d %H:%M:%S")} {line}\n')

    def _select(self, res: Dict[str, Dict[str, float]], best: Dict[str, Any]) -> bool:
        """Whether the evaluation :obj:`res` replaces :obj:`best`."""
        if self.select_on == 'last' or best['epoch'] < 0:
            if self.select_on != 'last' and self.metric not in res.get(self.select_on, {}):
                raise ValueError(
                    f"train.select_on is '{self.select_on}' but the {self.task} task's evaluation "
                    f'has no {self.select_on} {self.metric} (splits: {sorted(res)}); choose '
                    f'train.select_on among {[s for s in res if self.metric in res[s]] + ["last"]}'
                )
            return True
        return is_better(res[self.select_on][self.metric], best[self.select_on][self.metric], self.direction)

    def _eval_line(self, run: int, epoch: int, loss: Optional[float], res: Dict[str, Dict[str, float]]) -> str:
        shown = ', '.join(
            f'{s.capitalize()}: {res[s][self.metric]:.4f}' for s in SPLITS if self.metric in res.get(s, {})
        )
        return (
            f'Run: {run + 1:02d}, Epoch: {epoch:03d}, Loss: {"-" if loss is None else f"{loss:.4f}"}, '
            f'{shown} ({self.metric})'
        )

    @staticmethod
    def _timing(epoch: int, epochs: int, lr: float, epoch_time: float, elapsed: float) -> str:
        """``'lr 0.01 | 0.09 s/epoch | elapsed 3.1 s | ETA 12.0 s'``: the learning rate the epoch trained with, and
        the ETA of this run (:obj:`elapsed` counts the whole run, resumed sessions included)."""
        eta = elapsed / max(epoch, 1) * (epochs - epoch)
        return f'lr {lr:.3g} | {epoch_time:.2f} s/epoch | elapsed {format_seconds(elapsed)} | ETA {format_seconds(eta)}'

    def run_one(self, run: int, rundir: RunDir, ckpt: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        """Train and evaluate run :obj:`run` (seed ``opts.seed + run``), resuming from :obj:`ckpt` if given."""
        tr = self.cfg['train']
        seed = self.opts.seed + run
        self._seed = seed
        seed_everything(seed)
        self.prepare(seed, run)
        with self.dist.rank_zero_first():  # pre-compute caches: rank 0 fills them, the others read them
            model, optimizer = self.build()
        if isinstance(optimizer, torch.optim.Optimizer):
            optimizer = Optimizers(optimizer)
        with self.dist.rank_zero_first():  # e.g. the clustering task's pretraining cache
            self.init_model(model, run)
        epochs = tr['epochs'] if optimizer is not None else 0
        best: Dict[str, Any] = {'epoch': -1}
        best_state, start, elapsed, bad, stopped = None, 1, 0.0, 0, False
        if ckpt is not None:
            try:
                model.load_state_dict(ckpt['model'])
                optimizer.load_state_dict(ckpt['optimizer'])
                self.load_state_dict(ckpt.get('task', {}))
                best, best_state, elapsed = ckpt['best'], ckpt['best_model'], float(ckpt['elapsed'])
                bad, stopped, start = int(ckpt['bad_evals']), bool(ckpt['stopped']), int(ckpt['epoch']) + 1
                set_rng_state(self._rank_rng(ckpt, seed))
            except (RuntimeError, ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
                lines = [line.strip() for line in str(e).splitlines() if line.strip()] or ['']
                lines[0] = f'{type(e).__name__}: {lines[0]}' if isinstance(e, KeyError) else lines[0]
                raise ValueError(
                    f"--resume: the checkpoint '{rundir.checkpoint}' does not fit the model and optimiser built from "
                    f'the config ({"; ".join(lines[:3])[:300]})'
                ) from None
        if ckpt is None and self.dist.rank > 0:  # each rank its own stream (dropout, negatives a model draws)
            seed_everything(mix_seeds(seed, self.dist.rank))
        self._ddp = self.dist.wrap(model) if optimizer is not None else None
        t0 = time.perf_counter() - elapsed
        budget = tr['time_budget_s']
        self.deadline = None if budget is None else t0 + budget
        train_time, eval_time, num_evals, epoch = 0.0, 0.0, 0, start - 1
        if optimizer is None:
            schedule: Iterable[int] = [0]  # a model that is not trained: evaluated once, as epoch 0
        elif stopped:
            schedule = []  # resumed after the run had stopped early: nothing left to train
        else:
            schedule = range(start, epochs + 1)
        for cb in self.callbacks:
            cb.on_run_start(self, run, rundir)
        for epoch in schedule:
            loss, timing = None, ''
            if epoch > 0:
                t1, lr = time.perf_counter(), optimizer.lr
                loss = self.dist.mean(self.train_epoch(model, optimizer, epoch))
                optimizer.epoch_end()
                train_time += time.perf_counter() - t1
                timing = self._timing(epoch, epochs, lr, time.perf_counter() - t1, time.perf_counter() - t0)
                for cb in self.callbacks:
                    cb.on_epoch_end(self, run, epoch, loss, lr, time.perf_counter() - t1)
            over = self.out_of_time()
            evaluating = epoch == 0 or over or self.eval_due(epoch, epochs)
            if epoch > 0:  # an epoch line: in train.log always; on stderr off a terminal, unless an eval line follows
                self.log(
                    f'Run {run + 1:02d} | epoch {epoch}/{epochs} | loss {"-" if loss is None else f"{loss:.4f}"}'
                    f' | {timing}',
                    None if is_tty() or evaluating else 'stderr',
                )
            if evaluating:
                t1 = time.perf_counter()
                self.dist.sync_buffers(model)  # the checkpoint's (rank 0's) batch-norm statistics on every rank
                res = self.evaluate(model)
                eval_time += time.perf_counter() - t1
                num_evals += 1
                rundir.log_metrics(
                    {
                        'run': run,
                        'epoch': epoch,
                        'loss': None if loss is None else finite(loss),
                        **res,
                        **self.log_extra(),
                        'time_s': time.perf_counter() - t0,
                    }
                )
                if self._select(res, best):
                    best = {'epoch': epoch, **res}
                    best_state = {k: v.detach().clone().cpu() for k, v in model.state_dict().items()}
                    bad = 0
                else:
                    bad += 1
                self.log(self._eval_line(run, epoch, loss, res) + (f' | {timing}' if timing else ''))
                stopped = over or (tr['early_stop'] is not None and bad >= tr['early_stop'])
                if tr['early_stop'] is not None:  # torchrun: the ranks stop together, whatever their last bits
                    stopped = self.dist.any(stopped)
                for cb in self.callbacks:
                    cb.on_eval(self, run, epoch, loss, res)
            if epoch > 0:
                rng = rng_state()
                ranks = {'rng_ranks': self.dist.gather_objects(rng)} if self.dist.enabled else {}
                rundir.save(
                    rundir.checkpoint,
                    {
                        'run': run,
                        'epoch': epoch,
                        'model': model.state_dict(),
                        'optimizer': optimizer.state_dict(),
                        'task': self.state_dict(),
                        'best': best,
                        'best_model': best_state,
                        'rng': rng,
                        **ranks,
                        'bad_evals': bad,
                        'stopped': stopped,
                        'elapsed': time.perf_counter() - t0,
                        'results': self.results,
                    },
                )
            if stopped:
                break
            self._check_suspend(run, epoch, epochs)
        rundir.save(rundir.best_state(run), best_state if best_state is not None else model.state_dict())
        self._ddp = None
        self.num_parameters = count_parameters(model)
        done = max(epoch - start + 1, 0)
        splits = {s: best[s] for s in SPLITS if s in best}
        result = {
            'run': run,
            'seed': seed,
            'best_epoch': best['epoch'],
            'last_epoch': epoch,
            'stopped_early': stopped,
            **splits,
            'wall_time_s': time.perf_counter() - t0,
            'train_time_per_epoch_s': train_time / done if done else None,
            'eval_time_s': eval_time / num_evals if num_evals else None,
        }
        for cb in self.callbacks:
            cb.on_run_end(self, run, result)
        return result

    def _check_suspend(self, run: int, epoch: int, epochs: int) -> None:
        """Raise :class:`Suspended` once this invocation has run ``opts.stop_after`` seconds (called after an
        epoch's checkpoint is written, and not after the last epoch: a finished run is not suspended)."""
        limit = getattr(self.opts, 'stop_after', None)
        if limit is None or epoch >= epochs or not self.dist.any(time.perf_counter() - self._started >= limit):
            return
        self.log(
            f'Run {run + 1:02d} | suspended after epoch {epoch}/{epochs} (--stop-after {limit:g} s); '
            'continue with --resume',
            'stderr',
        )
        raise Suspended(f'suspended after run {run + 1}, epoch {epoch} (--stop-after {limit:g} s)')

    def run(self) -> Dict[str, Any]:
        """All runs, resuming from ``opts.out`` under ``opts.resume``; writes and returns the summary.

        The data, the model and its optimiser are built once before the run directory is created, so that a
        run whose input or config is bad fails leaving nothing behind.
        """
        rundir = RunDir(self.opts.out, writer=self.dist.is_main)
        try:
            with self.dist.guard():  # a peer that died: a clear error, not a hang or a backend traceback
                return self._run(rundir)
        finally:
            rundir.unlock()  # the lock would die with the process anyway; in-process callers need it now
            for cb in self.callbacks:
                cb.close()

    def _run(self, rundir: RunDir) -> Dict[str, Any]:
        rundir.check_target(self.opts.resume)  # before anything is built: --out usable, a run to resume
        ckpt, self.results = None, []
        if self.opts.resume and rundir.checkpoint.exists():
            ckpt = load_checkpoint(rundir.checkpoint)
            self.results = list(ckpt['results'])
            if ckpt['run'] == len(self.results) - 1:  # the checkpointed run had finished
                ckpt = None
        if self.opts.resume:  # a finished run must be resumed with its own config: it trains no further
            rundir.check_resume_config(
                self.cfg, () if len(self.results) >= self.opts.runs else RunDir.RESUMABLE_CHANGES
            )
        seed_everything(self.opts.seed)
        self.prepare(self.opts.seed, 0)
        with self.dist.rank_zero_first():
            model = self.build()[0]
        self.init_model(model, 0)
        if self.model_protocol is not None and not isinstance(model, self.model_protocol):
            raise ValueError(
                f"Model '{self.opts.model}' ({type(model).__name__}) does not implement "
                f'{self.model_protocol.__module__}.{self.model_protocol.__name__}, which the '
                f'{self.task} task needs'
            )
        self.num_parameters = count_parameters(model)
        rundir.create(self.cfg, resume=self.opts.resume)
        self._log_file = rundir.path / 'train.log' if rundir.writer else None
        if ckpt is not None:
            done = (ckpt['run'], ckpt['epoch'])
            rundir.truncate_metrics(lambda r: (r['run'], r['epoch']) <= done)
        self.before_runs()
        for run in range(len(self.results), self.opts.runs):
            resume_here = ckpt if ckpt is not None and ckpt['run'] == run else None
            if resume_here is None:
                rundir.truncate_metrics(lambda r: r['run'] < run)
            self.results.append(self.run_one(run, rundir, resume_here))
            ckpt = None
            if rundir.writer and rundir.checkpoint.exists():  # record that this run finished
                state = safe_torch_load(rundir.checkpoint)
                state['results'] = self.results
                rundir.save(rundir.checkpoint, state)
        summary = self.summarize()
        rundir.write_json('summary.json', summary)
        return summary

    def summarize(self) -> Dict[str, Any]:
        """Per-run results, mean ± unbiased std of each split that exists, #params, wall time, the selection
        rule, protocol and versions."""
        splits = [s for s in SPLITS if any(r.get(s) for r in self.results)]
        out: Dict[str, Any] = {
            'task': self.task,
            'model': self.opts.model,
            'dataset': self.name,
            'metric': self.metric,
            'direction': self.direction,
            'select_on': self.select_on,
            'selection': self.selection_rule(),
            'splits': splits,
            'runs': self.results,
        }
        for s in splits:
            with_split = [r for r in self.results if r.get(s)]
            keys = list(dict.fromkeys(k for r in with_split for k in r[s]))
            out[s] = {k: mean_std(r[s][k] for r in with_split if k in r[s]) for k in keys}
        out.update(
            {
                'num_parameters': self.num_parameters,
                'wall_time_s': sum(r['wall_time_s'] for r in self.results),
                **self.summary_extra(),
                'protocol': self.protocol(),
                'versions': version_stamp(self.device),
            }
        )
        if self.dist.enabled:
            import torch.distributed as dist

            out['distributed'] = {
                'world_size': self.dist.world_size,
                'backend': dist.get_backend(),
                'sampler': 'global batches of train.batch_size from a (seed, epoch) permutation, sharded by rank',
            }
        return out

    def _rank_rng(self, ckpt: Dict[str, Any], seed: int) -> Dict[str, Any]:
        """The RNG state this rank resumes with: its own from the checkpoint's ``rng_ranks`` (written under
        ``torchrun``); a checkpoint of another number of ranks gives rank 0's state to rank 0 and fresh seeded
        streams to the others (said on stderr: the numbers then differ from an uninterrupted run)."""
        ranks = ckpt.get('rng_ranks')
        if not self.dist.enabled or (ranks is not None and len(ranks) == self.dist.world_size):
            return ckpt['rng'] if not self.dist.enabled else ranks[self.dist.rank]
        if self.dist.is_main:
            print(
                f'--resume: the checkpoint was written by {len(ranks) if ranks else 1} process(es), this job has '
                f'{self.dist.world_size}; the ranks > 0 start new random streams, so the numbers will differ from '
                'an uninterrupted run',
                file=sys.stderr,
            )
        if self.dist.rank == 0:
            return ckpt['rng'] if ranks is None else ranks[0]
        seed_everything(mix_seeds(seed, self.dist.rank, int(ckpt['epoch'])))
        return rng_state()


def load_run(
    run_dir: os.PathLike, root: Optional[str] = None, run: int = 0, device: str = 'cpu', dataset: Optional[str] = None
) -> Tuple[Dict[str, Any], Task, torch.nn.Module]:
    r"""Rebuild run :obj:`run` of a finished ``graphkit train`` run directory: its summary, its task (data and
    split of that run's seed) and the best model, in eval mode. Used by ``graphkit evaluate``, ``graphkit
    analyze`` and ``graphkit predict`` / ``recommend``; :obj:`dataset` replaces the recorded dataset name (a file
    that has moved)."""
    from graphkit.tasks.options import TrainOptions
    from graphkit.tasks.registry import TASKS

    rundir = RunDir(run_dir)
    cfg = rundir.read_config()
    summary_path = rundir.path / 'summary.json'
    if not summary_path.exists():
        raise FileNotFoundError(f"'{summary_path}' does not exist: the run has not finished")
    summary = json.loads(summary_path.read_text())
    records = {r['run']: r for r in summary['runs']}
    if run not in records:
        raise ValueError(f"'run' must be one of {sorted(records)} for '{run_dir}' (got {run})")
    first = summary['runs'][0]
    cfg = _with_new_keys(cfg, summary['model'], summary['task'])
    opts = TrainOptions(
        model=summary['model'],
        dataset=dataset or summary['dataset'],
        root=root,
        out=str(rundir.path),
        device=device,
        quiet=True,
        seed=first['seed'] - first['run'],
    )
    task = TASKS.get(summary['task'])(opts, cfg)
    task.prepare(records[run]['seed'], run)
    model, _ = task.build()
    load_model_state(model, rundir.best_state(run))
    return summary, task, model.eval()


def _with_new_keys(cfg: Dict[str, Any], model: str, task: str) -> Dict[str, Any]:
    """:obj:`cfg` (a run's recorded ``config.yaml``) with the keys added to graphkit since the run was made taken
    from today's defaults of its model and task (*e.g.* ``model.cn_backend``), so that older run directories still
    load; recorded keys are kept as they are."""
    from graphkit.configs import load_config

    def fill(have: Dict[str, Any], defaults: Dict[str, Any]) -> Dict[str, Any]:
        out = dict(have)
        for key, value in defaults.items():
            if key not in out:
                out[key] = value
            elif isinstance(out[key], dict) and isinstance(value, dict):
                out[key] = fill(out[key], value)
        return out

    return fill(cfg, load_config(model, None, None, [], task=task))


def load_model_state(model: torch.nn.Module, path: os.PathLike, strict: bool = True) -> Any:
    r"""Load the state dict in :obj:`path` (``weights_only``) into :obj:`model`; a file that is not a state dict
    of this model (other keys or shapes) is a :class:`ValueError` naming the file and the first mismatches."""
    state = safe_torch_load(path)
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise ValueError(f"'{path}' is not a model state dict (got {type(state).__name__})")
    try:
        return model.load_state_dict(state, strict=strict)
    except (RuntimeError, TypeError, KeyError) as e:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        raise ValueError(
            f"'{path}' does not fit the model {type(model).__name__} built from the run's config "
            f'({"; ".join(lines[1:4] or lines[:1])[:400]})'
        ) from None


#: What a checkpoint written by :meth:`Task.run_one` holds.
CHECKPOINT_KEYS = ('run', 'epoch', 'model', 'optimizer', 'best', 'best_model', 'rng', 'bad_evals', 'stopped', 'elapsed',
                   'results')  # fmt: skip


def load_checkpoint(path: os.PathLike) -> Dict[str, Any]:
    r"""The checkpoint in :obj:`path` (``weights_only``), checked to have the keys and types
    :meth:`Task.run_one` writes; anything else is a :class:`ValueError` naming the file."""
    ckpt = safe_torch_load(path)
    if not isinstance(ckpt, dict):
        raise ValueError(f"'{path}' is not a graphkit checkpoint (it holds a {type(ckpt).__name__})")
    missing = [k for k in CHECKPOINT_KEYS if k not in ckpt]
    if missing:
        raise ValueError(f"'{path}' is not a graphkit checkpoint (missing {', '.join(missing)})")
    ok = (
        isinstance(ckpt['run'], int)
        and isinstance(ckpt['epoch'], int)
        and isinstance(ckpt['results'], list)
        and isinstance(ckpt['model'], dict)
        and isinstance(ckpt['best'], dict)
        and 0 <= ckpt['run'] <= len(ckpt['results'])
    )
    if not ok:
        raise ValueError(f"'{path}' is not a graphkit checkpoint (malformed run / epoch / results / model entries)")
    return ckpt
