r"""``graphkit tune``: hyperparameter search with `Optuna <https://optuna.org>`_ over normal ``graphkit train`` runs.

Each trial is one run directory (``OUT/trial-NNNN``) made by the same task code as ``graphkit train``; its
validation metric is reported to Optuna after every evaluation, so that a pruner can stop it early. The study
lives in an Optuna RDB storage, by default the SQLite file ``OUT/study.db``: a killed ``graphkit tune`` resumes
where it stopped, and several processes (on several machines, with a PostgreSQL / MySQL URL) given the same
``--storage`` and ``--study`` share one study.

``--trials N`` counts the *complete* trials of the whole study, across restarts and processes. A trial left
``RUNNING`` by a killed process is marked ``FAIL`` (at once when the process ran on this host and is gone,
otherwise when its heartbeat is older than the grace period) and its place is taken by a new one. Trials are
admitted in the order of their numbers, so N processes never complete more than :obj:`trials` trials together.

The search space is a YAML mapping from config keys to one distribution each:

.. code-block:: yaml

    train.lr: {log_float: [1.0e-4, 1.0e-2]}
    model.dropout: {float: [0.0, 0.8], step: 0.05}
    model.hidden_channels: {int: [64, 512]}          # also log_int
    model.conv: {choice: [gcn, puregcn]}

Every key must be a key of the resolved config, and both ends of a range (every choice) must pass the key's
declared :class:`~graphkit.configs.schema.Field` of the task and model schemas; this is checked, with the data,
before anything is written. Search spaces ship under ``graphkit/configs/spaces/<model>/<dataset>.yaml`` (the
default ``--space``).

At the end, ``OUT/best.yaml`` holds the full resolved config of the best trial (``--set`` values included), so
that ``graphkit train MODEL --dataset D --config OUT/best.yaml`` (with the same ``--seed`` / ``--runs``)
reproduces its number; ``OUT/trials.csv`` lists every trial and ``OUT/study.json`` names the study.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import os
import socket
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import yaml

from graphkit.configs import CONFIG_DIR, flatten, load_config
from graphkit.configs.schema import Field, get_key, model_schema, validate
from graphkit.io import atomic_write_text
from graphkit.tasks.callbacks import Callback

__all__ = ['Param', 'load_space', 'space_path', 'check_space', 'tune', 'STUDY_DB', 'SPACE_KINDS']

#: The distributions a search space may use.
SPACE_KINDS = ('float', 'log_float', 'int', 'log_int', 'choice')
#: The default storage file in the study folder.
STUDY_DB = 'study.db'
#: Seconds between heartbeats of a running trial, and after which a trial without one is stale (RDB storage).
HEARTBEAT_S, GRACE_S = 30, 120


def _optuna():
    try:
        import optuna
    except ImportError:
        raise ValueError(
            "graphkit tune needs Optuna, an optional extra: pip install -e '.[tune]' (or pip install optuna)"
        ) from None
    # heartbeats and fail_stale_trials are marked experimental (since Optuna 2.9); they are what resuming needs
    warnings.filterwarnings('ignore', category=optuna.exceptions.ExperimentalWarning)
    return optuna


@dataclass(frozen=True)
class Param:
    r"""One dimension of a search space: config key :obj:`key`, drawn from :obj:`kind` (one of
    :obj:`SPACE_KINDS`) over :obj:`values` (``(low, high)``, or the choices), with an optional grid :obj:`step`
    (``float`` / ``int`` only)."""

    key: str
    kind: str
    values: Tuple[Any, ...]
    step: Optional[float] = None

    def suggest(self, trial: Any) -> Any:
        """Draw the value of this dimension for an Optuna :obj:`trial`."""
        if self.kind == 'choice':
            return trial.suggest_categorical(self.key, list(self.values))
        low, high = self.values
        if self.kind in ('int', 'log_int'):
            step = int(self.step) if self.step is not None else 1
            return trial.suggest_int(self.key, int(low), int(high), step=step, log=self.kind == 'log_int')
        return trial.suggest_float(self.key, float(low), float(high), step=self.step, log=self.kind == 'log_float')

    def spec(self) -> Dict[str, Any]:
        """The YAML form of this dimension."""
        out: Dict[str, Any] = {self.kind: list(self.values)}
        if self.step is not None:
            out['step'] = self.step
        return out


def space_path(space: Optional[str], model: str, dataset: str) -> Path:
    r"""The search-space file: :obj:`space` as a path, or as ``<model>/<dataset>`` of the shipped spaces;
    :obj:`None` = the shipped space of :obj:`model` on :obj:`dataset`."""
    shipped = CONFIG_DIR / 'spaces'
    if space is None:
        path = shipped / model.lower() / f'{dataset.lower()}.yaml'
        if not path.is_file():
            known = sorted(f'{p.parent.name}/{p.stem}' for p in shipped.glob('*/*.yaml'))
            raise ValueError(
                f"No search space ships for model '{model}' on '{dataset}' (shipped: {', '.join(known)}); "
                'give one with --space FILE.yaml'
            )
        return path
    path = Path(space)
    if path.is_file():
        return path
    named = shipped / f'{space}.yaml'
    if named.is_file():
        return named
    raise FileNotFoundError(f"--space '{space}' is neither a file nor a shipped space (spaces/<model>/<dataset>)")


def _number(source: str, key: str, value: Any) -> float:
    if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{source}: '{key}' needs finite numbers (got {value!r})")
    return value


def load_space(path: os.PathLike) -> Dict[str, Param]:
    r"""Read a search space (see the module docstring); a malformed entry is a :class:`ValueError` naming the
    file and the key."""
    source = f"search space '{path}'"
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as e:
        raise ValueError(f'Could not parse {source}: {e}') from None
    except OSError as e:
        raise FileNotFoundError(f'Could not read {source}: {e.strerror or e}') from None
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f'{source} must be a non-empty mapping of config keys to distributions')
    space: Dict[str, Param] = {}
    for key, spec in flatten_space(raw).items():
        kinds = [k for k in spec if k in SPACE_KINDS] if isinstance(spec, dict) else []
        extra = [k for k in spec if k not in SPACE_KINDS and k != 'step'] if isinstance(spec, dict) else []
        if len(kinds) != 1 or extra:
            raise ValueError(
                f"{source}: '{key}' must be one of {{{' | '.join(SPACE_KINDS)}: [...]}} (optionally with step:), "
                f'got {spec!r}'
            )
        kind = kinds[0]
        values = spec[kind]
        if not isinstance(values, list) or not values:
            raise ValueError(f"{source}: '{key}': {kind} needs a non-empty list (got {values!r})")
        step = spec.get('step')
        if kind == 'choice':
            if step is not None:
                raise ValueError(f"{source}: '{key}': a choice takes no step")
            if len(set(map(repr, values))) != len(values):
                raise ValueError(f"{source}: '{key}': the choices repeat a value ({values})")
            space[key] = Param(key, kind, tuple(values))
            continue
        if len(values) != 2:
            raise ValueError(f"{source}: '{key}': {kind} needs [low, high] (got {values!r})")
        low, high = (_number(source, key, v) for v in values)
        if kind in ('int', 'log_int') and not all(float(v).is_integer() for v in (low, high)):
            raise ValueError(f"{source}: '{key}': {kind} needs integer bounds (got {values!r})")
        if not low < high:
            raise ValueError(f"{source}: '{key}': low must be < high (got {values!r})")
        if kind.startswith('log_') and low <= 0:
            raise ValueError(f"{source}: '{key}': {kind} needs low > 0 (got {values!r})")
        if step is not None:
            step = _number(source, f'{key}.step', step)
            if kind.startswith('log_') or step <= 0:
                raise ValueError(f"{source}: '{key}': step must be > 0, and log scales take none (got {step!r})")
        if kind in ('int', 'log_int'):
            low, high = int(low), int(high)
        space[key] = Param(key, kind, (low, high), step)
    return space


def flatten_space(raw: Dict[str, Any], prefix: str = '') -> Dict[str, Any]:
    r"""``{'train': {'lr': {'log_float': [..]}}}`` and ``{'train.lr': {...}}`` both become ``{'train.lr': {...}}``
    (a mapping whose keys are distribution names is a leaf)."""
    out: Dict[str, Any] = {}
    for key, value in raw.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict) and value and not any(k in SPACE_KINDS or k == 'step' for k in value):
            out.update(flatten_space(value, f'{name}.'))
        else:
            out[name] = value
    return out


def check_space(
    space: Mapping[str, Param], cfg: Dict[str, Any], schema: Mapping[str, Field], fixed: Sequence[str] = ()
) -> None:
    r"""Check that every key of :obj:`space` is a key of the resolved config :obj:`cfg` and not fixed by
    ``--set`` (:obj:`fixed`), and that both ends of its range (each of its choices) pass the key's declared
    :obj:`schema` field (task and model schemas together); a :class:`ValueError` names the key otherwise."""
    known = flatten(cfg)
    for key, param in space.items():
        if key not in known:
            near = ', '.join(sorted(k for k in known if k.split('.')[0] == key.split('.')[0])) or 'none'
            raise ValueError(f"Search space key '{key}' is not a config key of this model; keys there: {near}")
        if key in fixed:
            raise ValueError(f"Search space key '{key}' is also fixed by --set; drop one of them")
        if key not in schema:
            continue
        for value in param.values:
            try:
                schema[key].check(key, value)
            except ValueError as e:
                raise ValueError(f'Search space: {e}') from None
            if param.kind in ('int', 'log_int') and schema[key].type == 'float':
                continue
            if param.kind in ('float', 'log_float') and schema[key].type == 'int':
                raise ValueError(f"Search space key '{key}' is an integer: use int or log_int (got {param.kind})")


def _set_key(cfg: Dict[str, Any], key: str, value: Any) -> None:
    get_key(cfg, key)  # names the key when absent
    *parents, leaf = key.split('.')
    node = cfg
    for part in parents:
        node = node[part]
    node[leaf] = value


class _Reporter(Callback):
    r"""Reports the selection metric of run 0 on :obj:`split` to the trial after every evaluation, and raises
    :class:`optuna.TrialPruned` when the pruner says so (never after the last epoch: a trial that has trained
    fully is complete)."""

    def __init__(self, trial: Any, split: str) -> None:
        self.trial, self.split = trial, split

    def on_eval(self, task: Any, run: int, epoch: int, loss: Optional[float], res: Dict[str, Dict[str, float]]) -> None:
        value = res.get(self.split, {}).get(task.metric)
        if run != 0 or value is None or value != value:
            return
        self.trial.report(float(value), epoch)
        last = epoch >= task.cfg['train']['epochs']  # the trial has trained fully: it completes, not pruned
        if not last and self.trial.should_prune():
            raise _optuna().TrialPruned(f'pruned after epoch {epoch} ({self.split} {task.metric} {value:.4f})')

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(trial={self.trial.number}, split={self.split!r})'


class _Surplus(Exception):
    """A trial asked for while :obj:`trials` others were already complete or running ahead of it."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _fail_dead_local_trials(study: Any) -> List[int]:
    r"""Mark ``FAIL`` the running trials started on this host by a process that no longer exists (a killed
    ``graphkit tune``); returns their numbers. Trials of other hosts are left to the heartbeat."""
    optuna = _optuna()
    host, failed = socket.gethostname(), []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        pid = t.user_attrs.get('pid')
        if t.user_attrs.get('host') != host or not isinstance(pid, int) or pid == os.getpid() or _pid_alive(pid):
            continue
        try:
            study._storage.set_trial_user_attr(t._trial_id, 'error', f'process {pid} ended while the trial ran')
            study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
        except RuntimeError:  # finished meanwhile (another process got there first)
            continue
        failed.append(t.number)
    return failed


#: Tries to open a storage whose tables another process is creating at the same moment.
STORAGE_ATTEMPTS = 5


def _storage(url: str) -> Any:
    optuna = _optuna()
    kwargs: Dict[str, Any] = {'heartbeat_interval': HEARTBEAT_S, 'grace_period': GRACE_S}
    if url.startswith('sqlite'):  # several processes on one file: wait for the write lock instead of failing
        kwargs['engine_kwargs'] = {'connect_args': {'timeout': 120}}
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            return optuna.storages.RDBStorage(url, **kwargs)
        except Exception as e:  # noqa: BLE001 - SQLAlchemy / driver errors of a bad URL or an unreachable server
            # Processes started together on a new storage all create its tables: the losers of that race see
            # the winner's version row or tables, and the storage is fine a moment later.
            racing = type(e).__name__ == 'IntegrityError' or 'already exists' in str(e)
            if racing and attempt + 1 < STORAGE_ATTEMPTS:
                time.sleep(0.2 * (attempt + 1))
                continue
            first = str(e).splitlines()[0]
            raise ValueError(f"--storage '{_hide_password(url)}' could not be opened ({first})") from None


def _hide_password(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: show it as given
        return url


@dataclass
class _Study:
    """What :func:`tune` needs of the setup, resolved and checked before anything is written."""

    model: str
    dataset: str
    task_cls: type
    cfg: Dict[str, Any]
    space: Dict[str, Param]
    metric: str
    direction: str
    split: str
    attrs: Dict[str, Any] = field(default_factory=dict)


def tune(
    model: str,
    dataset: str,
    trials: int,
    out: str,
    *,
    space: Optional[str] = None,
    storage: Optional[str] = None,
    study_name: Optional[str] = None,
    timeout: Optional[float] = None,
    pruner: str = 'median',
    overrides: Sequence[str] = (),
    config_file: Optional[str] = None,
    root: Optional[str] = None,
    runs: int = 1,
    seed: int = 0,
    sampler_seed: Optional[int] = None,
    device: str = 'cpu',
    callbacks: Callable[[], Sequence[Callback]] = tuple,
    poll_s: float = 2.0,
    log: Callable[[str], None] = print,
) -> Dict[str, Any]:
    r"""Run (or continue) the Optuna study of :obj:`model` on :obj:`dataset` until it has :obj:`trials` complete
    trials; returns ``{'study', 'best', 'best_yaml', 'complete'}``.

    Args:
        model (str): Registered model name.
        dataset (str): Dataset name.
        trials (int): Complete trials the whole study should have (across restarts and processes).
        out (str): The study folder: ``trial-NNNN`` run directories, ``study.db``, ``best.yaml``.
        space (str, optional): Search-space file or shipped name (``ncn/cora``); :obj:`None` = the shipped space
            of the model on the dataset.
        storage (str, optional): An Optuna RDB URL; :obj:`None` = ``sqlite:///OUT/study.db``.
        study_name (str, optional): The study's name in the storage (default ``<model>-<dataset>``).
        timeout (float, optional): Seconds after which this process starts no new trial.
        pruner (str): ``'median'`` (Optuna's :class:`~optuna.pruners.MedianPruner` on the reported metric) or
            ``'none'``.
        overrides (sequence of str): ``--set`` values fixed for every trial.
        config_file (str, optional): A ``--config`` file under the trials.
        root (str, optional): Data root.
        runs (int): Runs (seeds) per trial; the objective is their mean. (default: :obj:`1`)
        seed (int): Seed of each trial's first run. (default: :obj:`0`)
        sampler_seed (int, optional): Seed of the TPE sampler (one process only: processes with the same seed
            would draw the same first trials). (default: :obj:`None`)
        device (str): Device of the trials.
        callbacks (callable): Makes extra run-loop hooks for each trial (*e.g.* TensorBoard).
        poll_s (float): Seconds between looks at the study while other processes hold its last trials.
        log (callable): Where the progress lines go.
    """
    optuna = _optuna()
    if not isinstance(trials, int) or trials < 1:
        raise ValueError(f'--trials must be >= 1 (got {trials})')
    if runs < 1:
        raise ValueError(f'--runs must be >= 1 (got {runs})')
    if timeout is not None and not timeout > 0:
        raise ValueError(f'--timeout must be > 0 seconds (got {timeout})')
    if pruner not in ('median', 'none'):
        raise ValueError(f"--pruner must be 'median' or 'none' (got '{pruner}')")
    setup = _setup(model, dataset, space, overrides, config_file, root, runs, seed, device)
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out '{out}' is a file, not a study folder")
    url = storage or f'sqlite:///{(out_dir / STUDY_DB).resolve()}'
    name = study_name or f'{model.lower()}-{_label(dataset)}'
    out_dir.mkdir(parents=True, exist_ok=True)
    if not os.access(out_dir, os.W_OK):
        raise ValueError(f"--out '{out}' is not writable")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    store = _storage(url)
    study = optuna.create_study(
        storage=store,
        study_name=name,
        direction='maximize' if setup.direction == 'max' else 'minimize',
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=sampler_seed, constant_liar=True),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5) if pruner == 'median' else optuna.pruners.NopPruner(),
    )
    _claim(study, setup, out_dir, url)
    log(
        f'Study {name} in {_hide_password(url)}: {model} on {dataset}, {setup.direction}imise {setup.split} '
        f'{setup.metric} over {len(setup.space)} keys; {_count(study)[0]} of {trials} trials complete'
    )
    started, failures, last_error = time.monotonic(), 0, ''
    while True:
        for number in _fail_dead_local_trials(study):
            log(f'Trial {number}: its process is gone; marked FAIL, a new trial takes its place')
        optuna.storages.fail_stale_trials(study)
        complete, running = _count(study)
        if complete >= trials:
            break
        if timeout is not None and time.monotonic() - started >= timeout:
            log(f'--timeout {timeout:g} s reached: no new trial; {complete} of {trials} complete')
            break
        if complete + running >= trials:  # the last places are held by other processes: wait, take over a failure
            time.sleep(poll_s)
            continue
        record: Dict[str, Any] = {}
        study.optimize(
            lambda trial: _objective(trial, study, setup, trials, out_dir, root, runs, seed, device, callbacks, record),
            n_trials=1,
            catch=(ValueError, _Surplus),
        )
        frozen = record.get('trial')
        if frozen is None or record.get('surplus'):
            continue
        frozen = study._storage.get_trial(frozen._trial_id)
        log(_trial_line(frozen, setup, trials, _count(study)[0]))
        if frozen.state == optuna.trial.TrialState.FAIL:
            failures, last_error = failures + 1, frozen.user_attrs.get('error', '')
            if failures >= 3:
                raise ValueError(f'3 trials in a row failed; the last one: {last_error}')
        else:
            failures = 0
    return _finish(study, setup, out_dir, url, log)


def _label(dataset: str) -> str:
    from graphkit.cli import _dataset_label

    return _dataset_label(dataset)


def _setup(
    model: str,
    dataset: str,
    space: Optional[str],
    overrides: Sequence[str],
    config_file: Optional[str],
    root: Optional[str],
    runs: int,
    seed: int,
    device: str,
) -> _Study:
    """Resolve and check everything before any file is written: config, space, data, metric."""
    from graphkit.configs import parse_override
    from graphkit.metrics.names import metric_direction
    from graphkit.models import MODELS
    from graphkit.tasks import TASKS, TrainOptions

    model_cls = MODELS.get(model)
    task_cls = TASKS.get(model_cls.task)
    cfg = load_config(model, dataset, config_file, overrides, task=model_cls.task)
    schema = {**task_cls.schema, **model_schema(model_cls)}
    validate(cfg, schema)
    path = space_path(space, model, dataset)
    params = load_space(path)
    fixed = [k for text in overrides for k in flatten(parse_override(text))]
    check_space(params, cfg, schema, fixed)
    # the data, once: a missing dataset fails here, and the task names the selection metric
    probe = task_cls(TrainOptions(model=model, dataset=dataset, out='', root=root, runs=runs, seed=seed), cfg)
    metric = probe.metric
    select_on = cfg['train']['select_on']
    split = select_on if select_on in ('valid', 'test') else 'valid'
    if split == 'test':
        print(
            'graphkit tune: train.select_on=test: trials are ranked on the TEST split (optimistic); '
            'train.select_on=valid keeps the test split clean',
            file=sys.stderr,
        )
    attrs = {
        'model': model.lower(),
        'dataset': dataset.lower(),
        'space': {k: p.spec() for k, p in params.items()},
        'overrides': list(overrides),
        'config_file': str(config_file) if config_file else None,
        'runs': runs,
        'seed': seed,
        'metric': metric,
        'split': split,
    }
    return _Study(model, dataset, task_cls, cfg, params, metric, metric_direction(metric), split, attrs)


def _claim(study: Any, setup: _Study, out_dir: Path, url: str) -> None:
    """A new study records its setup; an existing one must have been made with the same one."""
    attrs = json.loads(json.dumps(setup.attrs))
    old = study.user_attrs.get('graphkit')
    if old is None:
        stale = sorted(p.name for p in out_dir.glob('trial-*'))
        if stale and not study.trials:
            raise ValueError(
                f"--out '{out_dir}' holds trial directories ({', '.join(stale[:3])} ...) of another study; "
                'tune into a new --out'
            )
        study.set_user_attr('graphkit', attrs)
        return
    diff = [k for k in sorted(set(old) | set(attrs)) if old.get(k) != attrs.get(k)]
    if diff:
        shown = '; '.join(f'{k}: {old.get(k)!r} -> {attrs.get(k)!r}' for k in diff[:4])
        raise ValueError(
            f"Study '{study.study_name}' in {_hide_password(url)} was made with other settings ({shown}); "
            'continue it with its own, or give another --study / --out'
        )


def _count(study: Any) -> Tuple[int, int]:
    """Complete and running trials of the study."""
    states = [t.state.name for t in study.get_trials(deepcopy=False)]
    return states.count('COMPLETE'), states.count('RUNNING')


def _objective(
    trial: Any,
    study: Any,
    setup: _Study,
    trials: int,
    out_dir: Path,
    root: Optional[str],
    runs: int,
    seed: int,
    device: str,
    callbacks: Callable[[], Sequence[Callback]],
    record: Dict[str, Any],
) -> float:
    from graphkit.tasks import TrainOptions

    record['trial'] = trial
    trial.set_user_attr('host', socket.gethostname())
    trial.set_user_attr('pid', os.getpid())
    states = ('COMPLETE', 'RUNNING')
    ahead = [t for t in study.get_trials(deepcopy=False) if t.state.name in states and t.number < trial.number]
    if len(ahead) >= trials:  # another process took the last place between our look and this trial
        record['surplus'] = True
        trial.set_user_attr('error', f'surplus: {trials} trials were already complete or running')
        raise _Surplus()
    cfg = copy.deepcopy(setup.cfg)
    params = {key: param.suggest(trial) for key, param in setup.space.items()}
    for key, value in params.items():
        _set_key(cfg, key, value)
    run_dir = out_dir / f'trial-{trial.number:04d}'
    trial.set_user_attr('run_dir', str(run_dir))
    opts = TrainOptions(
        model=setup.model,
        dataset=setup.dataset,
        out=str(run_dir),
        root=root,
        runs=runs,
        seed=seed,
        device=device,
        quiet=True,
        callbacks=[_Reporter(trial, setup.split), *callbacks()],
    )
    try:
        summary = setup.task_cls(opts, cfg).run()
    except ValueError as e:
        trial.set_user_attr('error', str(e))
        raise
    with open(run_dir / 'config.yaml') as f:
        trial.set_user_attr('config', yaml.safe_load(f))
    for split in ('valid', 'test'):
        stat = summary.get(split, {}).get(setup.metric)
        if stat is not None:
            trial.set_user_attr(split, stat)
    stat = summary.get(setup.split, {}).get(setup.metric)
    if stat is None or stat['mean'] is None:
        raise ValueError(f'trial {trial.number}: the run reported no {setup.split} {setup.metric}')
    return float(stat['mean'])


def _trial_line(t: Any, setup: _Study, trials: int, complete: int) -> str:
    shown = ', '.join(f'{k.split(".")[-1]}={_short(v)}' for k, v in t.params.items())
    if t.state.name == 'COMPLETE':
        what = f'{setup.split} {setup.metric} {t.value:.4f}'
        test = t.user_attrs.get('test')
        if test and test.get('mean') is not None:
            what += f' (test {test["mean"]:.4f})'
    elif t.state.name == 'PRUNED':
        what = f'pruned at epoch {t.last_step}'
    else:
        what = f'{t.state.name}: {str(t.user_attrs.get("error", ""))[:300]}'
    secs = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete else float('nan')
    return f'Trial {t.number} [{complete}/{trials} complete] {what} in {secs:.1f} s | {shown}'


def _short(v: Any) -> str:
    return f'{v:.4g}' if isinstance(v, float) else str(v)


def trials_table(study: Any) -> List[Dict[str, Any]]:
    r"""One row per trial: number, state, value, test mean, seconds, run directory and each parameter."""
    keys = list(dict.fromkeys(k for t in study.trials for k in t.params))
    rows = []
    for t in study.trials:
        secs = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete else None
        test = (t.user_attrs.get('test') or {}).get('mean')
        row = {
            'number': t.number,
            'state': t.state.name,
            'value': t.value,
            'test': test,
            'seconds': None if secs is None else round(secs, 2),
            'run_dir': t.user_attrs.get('run_dir'),
        }
        row.update({k: t.params.get(k) for k in keys})
        rows.append(row)
    return rows


def _finish(study: Any, setup: _Study, out_dir: Path, url: str, log: Callable[[str], None]) -> Dict[str, Any]:
    rows = trials_table(study)
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator='\n')
        writer.writeheader()
        writer.writerows(rows)
    atomic_write_text(out_dir / 'trials.csv', buf.getvalue())
    info = {
        'study': study.study_name,
        'storage': _hide_password(url),
        **setup.attrs,
        'direction': setup.direction,
    }
    atomic_write_text(out_dir / 'study.json', json.dumps(info, indent=2) + '\n')
    complete = [t for t in study.trials if t.state.name == 'COMPLETE']
    result: Dict[str, Any] = {'study': study, 'best': None, 'best_yaml': None, 'complete': len(complete)}
    if not complete:
        log('No complete trial yet: no best.yaml')
        return result
    best = study.best_trial
    cfg = best.user_attrs.get('config')
    if cfg is None:
        raise ValueError(f'trial {best.number} recorded no config (a study made by another tool?)')
    reproduce = f'graphkit train {setup.model} --dataset {setup.dataset} --config {out_dir / "best.yaml"}'
    if setup.attrs['seed'] != 0 or setup.attrs['runs'] != 1:
        reproduce += f' --seed {setup.attrs["seed"]} --runs {setup.attrs["runs"]}'
    header = (
        f'# graphkit tune: the resolved config of trial {best.number} of study {study.study_name}, the best of '
        f'{len(complete)} complete trials\n# ({setup.split} {setup.metric} {best.value:.4f}, run directory '
        f'{best.user_attrs.get("run_dir")}).\n# Reproduce: {reproduce}\n'
    )
    atomic_write_text(out_dir / 'best.yaml', header + yaml.safe_dump(cfg, sort_keys=False))
    shown = ', '.join(f'{k}={_short(v)}' for k, v in best.params.items())
    test = (best.user_attrs.get('test') or {}).get('mean')
    log(
        f'Best: trial {best.number} of {len(complete)} complete, {setup.split} {setup.metric} {best.value:.4f}'
        + (f' (test {test:.4f})' if test is not None else '')
        + f'\n  {shown}\nWrote {out_dir / "best.yaml"} and {out_dir / "trials.csv"}; reproduce with: {reproduce}'
    )
    result.update(best=best, best_yaml=str(out_dir / 'best.yaml'))
    return result
