r"""What every task shares: seeds, the run directory, atomic files, checkpoints, progress and the summary.

A run directory holds

* ``config.yaml``: the resolved configuration,
* ``metrics.jsonl``: one JSON line per evaluation,
* ``checkpoint.pt``: the state of the run in progress (state dicts, plain values and RNG states only, loadable
  with ``torch.load(..., weights_only=True)``), rewritten atomically after every epoch so ``--resume`` continues,
* ``best_run{r}.pt``: the best-on-valid model state of each finished run,
* ``summary.json``: per-run and mean ± std results, #params, wall time and a version stamp.
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
import yaml

import graphkit
from graphkit.io import atomic_torch_save, atomic_write_text
from graphkit.io import safe_torch_load as safe_load

__all__ = [
    'RunDir', 'Task', 'load_run', 'seed_everything', 'rng_state', 'set_rng_state', 'version_stamp',
    'mean_std', 'progress', 'count_parameters', 'safe_load',
]


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
        out = subprocess.run(['git', 'rev-parse', 'HEAD'], capture_output=True, text=True, timeout=5,
                             cwd=Path(graphkit.__file__).resolve().parents[1])
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def version_stamp(device: torch.device) -> Dict[str, Any]:
    """Versions, device and extension flags written into every summary."""
    import torch_geometric

    from graphkit.metrics import EVALUATOR_SEMANTICS
    from graphkit.ops import extension_flags
    return {
        'graphkit': graphkit.__version__, 'torch': torch.__version__,
        'torch_geometric': torch_geometric.__version__, 'cuda': torch.version.cuda,
        'python': platform.python_version(), 'device': str(device), 'threads': torch.get_num_threads(),
        'device_name': (torch.cuda.get_device_name(device) if device.type == 'cuda' else platform.processor()
                        or platform.machine()),
        'git_sha': _git_sha(), 'extensions': extension_flags(), 'evaluator': EVALUATOR_SEMANTICS,
    }


def mean_std(values: Iterable[float]) -> Dict[str, Optional[float]]:
    """Mean and unbiased standard deviation (OGB's reporting rule); std is :obj:`None` for one value."""
    t = torch.tensor(list(values), dtype=torch.float64)
    if t.numel() == 0:
        return {'mean': None, 'std': None}
    std = t.std().item() if t.numel() > 1 else None
    return {'mean': t.mean().item(), 'std': std}


def progress(iterable: Iterable, quiet: bool = False, **kwargs: Any) -> Iterable:
    """A tqdm bar on stderr, off under :obj:`quiet` or when stderr is not a terminal."""
    from tqdm import tqdm
    disable = quiet or not sys.stderr.isatty()
    return tqdm(iterable, disable=disable, file=sys.stderr, leave=False, dynamic_ncols=True, **kwargs)


class RunDir:
    r"""The directory of one ``graphkit train`` call.

    Args:
        path (str or Path): Where the run lives. It is created by :meth:`create`, not here, so that a run that
            fails while validating its input leaves nothing behind.
    """
    def __init__(self, path: os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}('{self.path}')"

    @property
    def checkpoint(self) -> Path:
        return self.path / 'checkpoint.pt'

    @property
    def metrics(self) -> Path:
        return self.path / 'metrics.jsonl'

    def best_state(self, run: int) -> Path:
        return self.path / f'best_run{run}.pt'

    def create(self, config: Dict[str, Any], resume: bool) -> None:
        """Create the directory and write :obj:`config`; without :obj:`resume` an existing run is an error."""
        if self.path.exists() and any(self.path.iterdir()) and not resume:
            raise FileExistsError(f"Run directory '{self.path}' already exists and is not empty; pass --resume "
                                  f'to continue it or --out to choose another directory')
        self.path.mkdir(parents=True, exist_ok=True)
        self.write_yaml('config.yaml', config)

    def write_yaml(self, name: str, obj: Any) -> None:
        atomic_write_text(self.path / name, yaml.safe_dump(obj, sort_keys=False))

    def write_json(self, name: str, obj: Any) -> None:
        atomic_write_text(self.path / name, json.dumps(obj, indent=2, allow_nan=False) + '\n')

    def save(self, path: Path, obj: Any) -> None:
        atomic_torch_save(obj, path)

    def read_config(self) -> Dict[str, Any]:
        path = self.path / 'config.yaml'
        if not path.exists():
            raise FileNotFoundError(f"'{path}' does not exist: is '{self.path}' a graphkit run directory?")
        with open(path) as f:
            return yaml.safe_load(f)

    def log_metrics(self, record: Dict[str, Any]) -> None:
        with open(self.metrics, 'a') as f:
            f.write(json.dumps(record, allow_nan=False) + '\n')
            f.flush()

    def truncate_metrics(self, keep) -> None:
        """Keep only the metric lines for which :obj:`keep(record)` holds (used on resume)."""
        if not self.metrics.exists():
            return
        lines: List[str] = [line for line in self.metrics.read_text().splitlines()
                            if line.strip() and keep(json.loads(line))]
        atomic_write_text(self.metrics, ''.join(line + '\n' for line in lines))


def finite(value: float) -> Optional[float]:
    """:obj:`value` as a float, or :obj:`None` if it is not finite (JSON has no NaN)."""
    value = float(value)
    return value if math.isfinite(value) else None


class Task:
    r"""The run loop shared by every task: seeds, resume, best-epoch selection, early stopping, a time budget,
    checkpoints and the summary. A task subclasses it and provides

    * :meth:`prepare` (per-seed data, *e.g.* a Planetoid split), :meth:`build` (model and optimiser),
    * :meth:`train_epoch` (returns the mean loss) and :meth:`evaluate` (``{'valid': {...}, 'test': {...}}``;
      ``'valid'`` may be missing when selecting on test),
    * :meth:`protocol` (what the summary says about how numbers were produced),

    and sets :attr:`metric` (the selection metric), :attr:`select_on` (``'valid'`` or ``'test'``),
    :attr:`name` (the dataset), :attr:`device` and :attr:`task`.

    Config keys read here: ``train.epochs``, ``train.eval_every``, ``train.early_stop`` (evaluations without
    improvement before stopping; :obj:`None`: never), ``train.time_budget_s`` (wall seconds per run after which
    training stops, inside an epoch if need be, evaluates and ends; :obj:`None`: no budget).
    """
    task: str = ''
    select_on: str = 'valid'
    metric: str = ''
    name: str = ''

    def __init__(self, opts: Any, cfg: Dict[str, Any]) -> None:
        self.opts, self.cfg = opts, cfg
        self.device = torch.device(opts.device)
        self.results: List[Dict[str, Any]] = []
        self.num_parameters = 0
        self.deadline: Optional[float] = None
        tr = cfg['train']
        for key in ('epochs', 'eval_every'):
            if not isinstance(tr[key], int) or tr[key] < (0 if key == 'epochs' else 1):
                raise ValueError(f"Config key 'train.{key}' must be a positive integer (got {tr[key]!r})")
        if tr.get('early_stop') is not None and (not isinstance(tr['early_stop'], int) or tr['early_stop'] < 1):
            raise ValueError(f"Config key 'train.early_stop' must be null or a positive integer "
                             f"(got {tr['early_stop']!r})")
        budget = tr.get('time_budget_s')
        if budget is not None and (not isinstance(budget, (int, float)) or budget < 0):
            raise ValueError(f"Config key 'train.time_budget_s' must be null or >= 0 (got {budget!r})")

    # To provide ---------------------------------------------------------------------------------------------
    def prepare(self, seed: int) -> None:
        """Set up what depends on the run's seed (default: nothing)."""

    def build(self) -> Any:
        """Return ``(model, optimizer)``; the optimiser is :obj:`None` for models that are not trained."""
        raise NotImplementedError

    def init_model(self, model: torch.nn.Module, run: int) -> None:
        """Initialise a freshly built model before training (default: nothing)."""

    def train_epoch(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, epoch: int) -> float:
        raise NotImplementedError

    def evaluate(self, model: torch.nn.Module) -> Dict[str, Dict[str, float]]:
        raise NotImplementedError

    def protocol(self) -> Dict[str, Any]:
        """How the numbers were produced, for the summary."""
        return {}

    def summary_extra(self) -> Dict[str, Any]:
        """Task-specific summary fields (default: none)."""
        return {}

    def before_runs(self) -> None:
        """Called once before the first run (*e.g.* to print a protocol notice)."""

    # Shared -----------------------------------------------------------------------------------------------
    def eval_due(self, epoch: int, epochs: int) -> bool:
        """Whether to evaluate after :obj:`epoch`."""
        return epoch % self.cfg['train']['eval_every'] == 0 or epoch == epochs

    def out_of_time(self) -> bool:
        """Whether the run's time budget is spent (checked between epochs and between batches)."""
        return self.deadline is not None and time.perf_counter() >= self.deadline

    def run_one(self, run: int, rundir: RunDir, ckpt: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        """Train and evaluate run :obj:`run` (seed ``opts.seed + run``), resuming from :obj:`ckpt` if given."""
        tr = self.cfg['train']
        seed = self.opts.seed + run
        seed_everything(seed)
        self.prepare(seed)
        model, optimizer = self.build()
        self.init_model(model, run)
        epochs = tr['epochs'] if optimizer is not None else 0
        best: Dict[str, Any] = {'epoch': -1, 'valid': {}, 'test': {}}
        best_state, start, elapsed, bad, stopped = None, 1, 0.0, 0, False
        if ckpt is not None:
            model.load_state_dict(ckpt['model'])
            optimizer.load_state_dict(ckpt['optimizer'])
            best, best_state, elapsed = ckpt['best'], ckpt['best_model'], ckpt['elapsed']
            bad, stopped, start = ckpt['bad_evals'], ckpt['stopped'], ckpt['epoch'] + 1
            set_rng_state(ckpt['rng'])
        t0 = time.perf_counter() - elapsed
        budget = tr.get('time_budget_s')
        self.deadline = None if budget is None else t0 + budget
        train_time, eval_time, num_evals, epoch = 0.0, 0.0, 0, start - 1
        for epoch in [0] if not epochs else [] if stopped else range(start, epochs + 1):
            loss = None
            if epoch > 0:
                t1 = time.perf_counter()
                loss = self.train_epoch(model, optimizer, epoch)
                train_time += time.perf_counter() - t1
            over = self.out_of_time()
            if epoch == 0 or over or self.eval_due(epoch, epochs):
                t1 = time.perf_counter()
                res = self.evaluate(model)
                eval_time += time.perf_counter() - t1
                num_evals += 1
                rundir.log_metrics({'run': run, 'epoch': epoch, 'loss': None if loss is None else finite(loss),
                                    **res, 'time_s': time.perf_counter() - t0})
                score = res[self.select_on][self.metric]
                if best['epoch'] < 0 or score > best[self.select_on][self.metric]:
                    best = {'epoch': epoch, 'valid': res.get('valid', {}), 'test': res['test']}
                    best_state = {k: v.detach().clone().cpu() for k, v in model.state_dict().items()}
                    bad = 0
                else:
                    bad += 1
                if not self.opts.quiet:
                    val = f"{res['valid'][self.metric]:.4f}" if 'valid' in res else '-'
                    print(f"Run: {run + 1:02d}, Epoch: {epoch:03d}, Loss: {'-' if loss is None else f'{loss:.4f}'}, "
                          f"Val: {val}, Test: {res['test'][self.metric]:.4f} ({self.metric})", flush=True)
                stopped = over or (tr.get('early_stop') is not None and bad >= tr['early_stop'])
            if epoch > 0:
                rundir.save(rundir.checkpoint, {
                    'run': run, 'epoch': epoch, 'model': model.state_dict(), 'optimizer': optimizer.state_dict(),
                    'best': best, 'best_model': best_state, 'rng': rng_state(), 'bad_evals': bad,
                    'stopped': stopped, 'elapsed': time.perf_counter() - t0, 'results': self.results,
                })
            if stopped:
                break
        rundir.save(rundir.best_state(run), best_state if best_state is not None else model.state_dict())
        self.num_parameters = count_parameters(model)
        done = max(epoch - start + 1, 0)
        return {'run': run, 'seed': seed, 'best_epoch': best['epoch'], 'last_epoch': epoch, 'stopped_early': stopped,
                'valid': best['valid'], 'test': best['test'], 'wall_time_s': time.perf_counter() - t0,
                'train_time_per_epoch_s': train_time / done if done else None,
                'eval_time_s': eval_time / num_evals if num_evals else None}

    def run(self) -> Dict[str, Any]:
        """All runs, resuming from ``opts.out`` under ``opts.resume``; writes and returns the summary."""
        rundir = RunDir(self.opts.out)
        ckpt, self.results = None, []
        if self.opts.resume and rundir.checkpoint.exists():
            ckpt = safe_load(rundir.checkpoint)
            self.results = list(ckpt['results'])
            if ckpt['run'] == len(self.results) - 1:  # the checkpointed run had finished
                ckpt = None
        rundir.create(self.cfg, resume=self.opts.resume)
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
            if rundir.checkpoint.exists():  # record that this run finished
                state = safe_load(rundir.checkpoint)
                state['results'] = self.results
                rundir.save(rundir.checkpoint, state)
        if not self.num_parameters:
            self.num_parameters = count_parameters(self.build()[0])
        summary = self.summarize()
        rundir.write_json('summary.json', summary)
        return summary

    def summarize(self) -> Dict[str, Any]:
        """Per-run results, mean ± unbiased std of valid and test, #params, wall time, protocol, versions."""
        keys = list(self.results[0]['test'])
        with_valid = [r for r in self.results if r['valid']]
        return {
            'task': self.task, 'model': self.opts.model, 'dataset': self.name, 'metric': self.metric,
            'runs': self.results,
            'valid': {k: mean_std(r['valid'][k] for r in with_valid) for k in keys},
            'test': {k: mean_std(r['test'][k] for r in self.results) for k in keys},
            'num_parameters': self.num_parameters,
            'wall_time_s': sum(r['wall_time_s'] for r in self.results),
            **self.summary_extra(),
            'protocol': self.protocol(),
            'versions': version_stamp(self.device),
        }


def load_run(run_dir: os.PathLike, root: Optional[str] = None, run: int = 0,
             device: str = 'cpu') -> Tuple[Dict[str, Any], Task, torch.nn.Module]:
    r"""Rebuild run :obj:`run` of a finished ``graphkit train`` run directory: its summary, its task (data and
    split of that run's seed) and the best-on-valid model, in eval mode. Used by ``graphkit evaluate`` and
    ``graphkit analyze``."""
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
    opts = TrainOptions(model=summary['model'], dataset=summary['dataset'], root=root, out=str(rundir.path),
                        device=device, quiet=True, seed=first['seed'] - first['run'])
    task = TASKS.get(summary['task'])(opts, cfg)
    task.prepare(records[run]['seed'])
    model, _ = task.build()
    model.load_state_dict(safe_load(rundir.best_state(run)))
    return summary, task, model.eval()
