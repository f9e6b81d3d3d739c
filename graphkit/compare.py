r"""``graphkit compare``: a table and learning curves of finished run directories and ``graphkit tune`` studies.

.. code-block:: bash

    graphkit compare runs/gae-cora runs/ncn-cora tunes/ncn-cora --out compare/

For every run directory (a study folder contributes its best trial's run directory) one row: model, dataset,
selection metric, valid and test mean ± std over the runs, number of runs, parameters, training seconds per
epoch, and the config / protocol values that differ between the directories. The table is returned as Markdown
(printed by the CLI) and written to ``OUT/compare.csv``; ``OUT/curves-<metric>.png`` plots the selection metric
of each split against the epoch, mean ± std over the runs, one line per directory. A study folder also gets
``OUT/<study>-history.png`` and ``OUT/<study>-importance.png`` (Optuna's matplotlib plots; the importance
needs two or more complete trials and scikit-learn).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import yaml

from graphkit.configs import flatten
from graphkit.io import atomic_write_text
from graphkit.metrics.names import metric_direction

__all__ = ['RunInfo', 'read_run', 'collect', 'compare', 'learning_curves', 'plot_curves', 'COLUMNS']

#: The fixed columns of the table (the differing config / protocol values follow).
COLUMNS = ('run', 'model', 'dataset', 'metric', 'valid', 'test', 'runs', 'parameters', 's/epoch')


@dataclass
class RunInfo:
    r"""What :func:`read_run` reads of one finished run directory."""

    path: Path
    label: str
    summary: Dict[str, Any]
    config: Dict[str, Any]
    records: List[Dict[str, Any]] = field(default_factory=list)
    study: Optional[Path] = None

    @property
    def metric(self) -> str:
        return self.summary['metric']


def read_run(path: os.PathLike, label: Optional[str] = None) -> RunInfo:
    r"""Read ``summary.json``, ``config.yaml`` and ``metrics.jsonl`` of the run directory :obj:`path`; a missing
    or damaged file is an error naming it."""
    path = Path(path)
    summary_path = path / 'summary.json'
    if not summary_path.is_file():
        raise FileNotFoundError(f"'{summary_path}' does not exist: '{path}' is no finished graphkit run")
    try:
        summary = json.loads(summary_path.read_text())
        if not isinstance(summary, dict) or 'metric' not in summary or 'runs' not in summary:
            raise ValueError('not a graphkit summary')
    except ValueError as e:
        raise ValueError(f"'{summary_path}' is not a graphkit run summary ({e})") from None
    try:
        config = yaml.safe_load((path / 'config.yaml').read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"'{path / 'config.yaml'}' could not be read ({e})") from None
    records = []
    metrics = path / 'metrics.jsonl'
    if metrics.is_file():
        for n, line in enumerate(metrics.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except ValueError:
                raise ValueError(f"'{metrics}' line {n} is not JSON") from None
    return RunInfo(path, label or path.name, summary, config, records)


def _is_study(path: Path) -> bool:
    return (path / 'study.json').is_file() or (path / 'study.db').is_file()


def collect(dirs: Sequence[os.PathLike]) -> List[RunInfo]:
    r"""The run directories of :obj:`dirs`: each is a run directory, or a ``graphkit tune`` study folder, which
    contributes the run directory of its best complete trial (from its ``trials.csv``)."""
    if not dirs:
        raise ValueError('graphkit compare needs at least one DIR')
    runs: List[RunInfo] = []
    for d in dirs:
        path = Path(d)
        if not path.is_dir():
            raise FileNotFoundError(f"'{d}' is not a directory")
        if (path / 'summary.json').is_file():
            runs.append(read_run(path))
        elif _is_study(path):
            best = _best_trial_dir(path)
            info = read_run(best, f'{path.name} (best: {best.name})')
            info.study = path
            runs.append(info)
        else:
            raise ValueError(
                f"'{d}' is neither a finished run directory (summary.json) nor a graphkit tune study folder"
            )
    labels = [r.label for r in runs]
    for r in runs:  # equal folder names (runs/a/x and runs/b/x): label them by their paths
        if labels.count(r.label) > 1:
            r.label = str(r.path)
    return runs


def _best_trial_dir(study: Path) -> Path:
    table = study / 'trials.csv'
    info = json.loads((study / 'study.json').read_text()) if (study / 'study.json').is_file() else {}
    if not table.is_file():
        raise FileNotFoundError(f"'{table}' does not exist: has graphkit tune finished in '{study}'?")
    with open(table) as f:
        rows = [r for r in csv.DictReader(f) if r.get('state') == 'COMPLETE' and r.get('value')]
    if not rows:
        raise ValueError(f"'{table}' lists no complete trial")
    sign = -1.0 if info.get('direction') == 'min' else 1.0
    best = max(rows, key=lambda r: sign * float(r['value']))
    path = Path(best['run_dir'])
    if not path.is_absolute() and not path.is_dir():
        path = study / path.name
    if not (path / 'summary.json').is_file():
        local = study / Path(best['run_dir']).name  # a study folder that was moved
        path = local if (local / 'summary.json').is_file() else path
    return path


def _fmt(stat: Optional[Dict[str, Optional[float]]], scale: float) -> str:
    if not stat or stat.get('mean') is None:
        return '-'
    digits = 2 if scale == 100 else 4
    if stat.get('std') is None:
        return f'{scale * stat["mean"]:.{digits}f}'
    return f'{scale * stat["mean"]:.{digits}f} ± {scale * stat["std"]:.{digits}f}'


def _differing(runs: Sequence[RunInfo]) -> List[str]:
    """Config and protocol keys whose values differ between :obj:`runs` (``model.*`` keys only when every run is
    of one model: between models, all of them differ)."""
    same_model = len({r.summary.get('model') for r in runs}) == 1
    flat = [_flags(r, same_model) for r in runs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    return [k for k in keys if len({json.dumps(f.get(k), sort_keys=True, default=str) for f in flat}) > 1]


def _short(v: Any) -> str:
    return f'{v:.4g}' if isinstance(v, float) else str(v)


def _flags(r: RunInfo, model_keys: bool = False) -> Dict[str, Any]:
    out = {k: v for k, v in flatten(r.config).items() if model_keys or not k.startswith('model.')}
    out.update({f'protocol.{k}': v for k, v in flatten(r.summary.get('protocol') or {}).items()})
    return out


def table_rows(runs: Sequence[RunInfo]) -> List[Dict[str, Any]]:
    r"""One row per run directory: the :obj:`COLUMNS` and the differing values (``key=value; ...``)."""
    differ = _differing(runs) if len(runs) > 1 else []
    rows = []
    for r in runs:
        s, m = r.summary, r.metric
        scale = 100.0 if metric_direction(m) == 'max' else 1.0
        per_epoch = [x['train_time_per_epoch_s'] for x in s['runs'] if x.get('train_time_per_epoch_s') is not None]
        flags = _flags(r, model_keys=True)
        rows.append(
            {
                'run': r.label,
                'model': s.get('model'),
                'dataset': s.get('dataset'),
                'metric': m + (' (%)' if scale == 100 else ''),
                'valid': _fmt((s.get('valid') or {}).get(m), scale),
                'test': _fmt((s.get('test') or {}).get(m), scale),
                'runs': len(s['runs']),
                'parameters': s.get('num_parameters'),
                's/epoch': f'{sum(per_epoch) / len(per_epoch):.3f}' if per_epoch else '-',
                'differs': '; '.join(f'{k}={_short(flags.get(k))}' for k in differ),
            }
        )
    return rows


def to_markdown(rows: Sequence[Dict[str, Any]]) -> str:
    """A Markdown table of :func:`table_rows` (numbers right-aligned)."""
    if not rows:
        return ''
    keys = [k for k in rows[0] if k != 'differs' or any(r['differs'] for r in rows)]
    right = {'valid', 'test', 'runs', 'parameters', 's/epoch'}

    def cell(k: str, v: Any) -> str:
        text = f'{v:,}' if k == 'parameters' and isinstance(v, int) else str(v if v is not None else '-')
        return text.replace('|', '\\|')

    lines = ['| ' + ' | '.join(keys) + ' |', '|' + '|'.join('---:' if k in right else '---' for k in keys) + '|']
    lines += ['| ' + ' | '.join(cell(k, r[k]) for k in keys) + ' |' for r in rows]
    return '\n'.join(lines)


def learning_curves(info: RunInfo, split: str) -> Dict[str, List[float]]:
    r"""The selection metric of :obj:`split` per evaluated epoch: ``{'epoch', 'mean', 'std', 'n'}`` lists over
    the runs of :obj:`info` (std over the runs that reached the epoch; 0 for one run)."""
    by_epoch: Dict[int, List[float]] = {}
    for rec in info.records:
        value = (rec.get(split) or {}).get(info.metric)
        if value is not None and rec.get('epoch', 0) > 0:
            by_epoch.setdefault(int(rec['epoch']), []).append(float(value))
    out: Dict[str, List[float]] = {'epoch': [], 'mean': [], 'std': [], 'n': []}
    for epoch in sorted(by_epoch):
        v = by_epoch[epoch]
        mean = sum(v) / len(v)
        std = math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
        for key, val in zip(out, (epoch, mean, std, len(v))):
            out[key].append(val)
    return out


def plot_curves(runs: Sequence[RunInfo], path: str) -> Optional[str]:
    r"""Learning curves of :obj:`runs` (one metric): a panel per split, mean ± std band over runs, one line per
    run directory; :obj:`None` when no run has a curve."""
    from graphkit.analysis.plots import _pyplot, _save

    metric = runs[0].metric
    splits = [s for s in ('valid', 'test') if any(learning_curves(r, s)['epoch'] for r in runs)]
    if not splits:
        return None
    plt = _pyplot()
    scale = 100.0 if metric_direction(metric) == 'max' else 1.0
    fig, axes = plt.subplots(1, len(splits), figsize=(5.2 * len(splits), 3.8), squeeze=False, sharey=True)
    colors = plt.rcParams['axes.prop_cycle'].by_key()['color']
    for ax, split in zip(axes[0], splits):
        for k, r in enumerate(runs):
            c = learning_curves(r, split)
            if not c['epoch']:
                continue
            color = colors[k % len(colors)]
            mean = [scale * v for v in c['mean']]
            lo = [scale * (m - s) for m, s in zip(c['mean'], c['std'])]
            hi = [scale * (m + s) for m, s in zip(c['mean'], c['std'])]
            runs_n = len(r.summary['runs'])
            ax.plot(c['epoch'], mean, color=color, lw=1.6, label=f'{r.label} ({runs_n} run{"s" * (runs_n != 1)})')
            if runs_n > 1:
                ax.fill_between(c['epoch'], lo, hi, color=color, alpha=0.2, lw=0)
        ax.set_title(f'{split} {metric}')
        ax.set_xlabel('epoch')
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f'{metric}{" (%)" if scale == 100 else ""}, mean ± std over runs')
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc='lower center', ncol=min(len(labels), 3), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, -0.02 - 0.05 * ((len(labels) - 1) // 3)))  # fmt: skip
    fig.tight_layout(rect=(0, 0.08 + 0.05 * ((len(labels) - 1) // 3), 1, 1))
    return _save(fig, path)


def plot_study(study_dir: Path, out: Path, storage: Optional[str] = None) -> List[str]:
    r"""Optuna's optimisation-history and parameter-importance plots of the study in :obj:`study_dir`
    (``OUT/<study>-history.png``, ``OUT/<study>-importance.png``); the importance is left out with a note on
    stderr when it cannot be computed (fewer than two complete trials)."""
    import sys
    import warnings

    from matplotlib.ticker import MaxNLocator

    from graphkit.analysis.plots import _pyplot, _save
    from graphkit.tune import _optuna

    optuna = _optuna()
    info = json.loads((study_dir / 'study.json').read_text()) if (study_dir / 'study.json').is_file() else {}
    url = storage or f'sqlite:///{(study_dir / "study.db").resolve()}'
    if storage is None and not (study_dir / 'study.db').is_file():
        raise ValueError(f"'{study_dir}' has no study.db: give the study's --storage URL")
    try:
        study = optuna.load_study(study_name=info.get('study'), storage=url)
    except (KeyError, ValueError) as e:
        raise ValueError(f"could not load the study of '{study_dir}' from {url} ({e})") from None
    _pyplot()
    from optuna.visualization import matplotlib as ovm

    files = []
    name = study.study_name
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # Optuna marks its matplotlib plots experimental
        ax = ovm.plot_optimization_history(study)
        ax.set_title('', loc='left')  # Optuna's own title, replaced by one that names the study
        states = [t.state.name.lower() for t in study.trials]
        counts = ', '.join(f'{states.count(k)} {k}' for k in ('complete', 'pruned', 'fail') if k in states)
        ax.set_title(f'{name}: optimisation history ({len(states)} trials: {counts})', fontsize=11)
        ax.set_ylabel(f'{info.get("split", "valid")} {info.get("metric", "objective")} (objective)')
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.figure.set_size_inches(7.0, 4.0)
        ax.figure.tight_layout()
        files.append(_save(ax.figure, str(out / f'{name}-history.png')))
        complete = [t for t in study.trials if t.state.name == 'COMPLETE']
        try:
            if len(complete) < 2:
                raise ValueError(f'{len(complete)} complete trial(s)')
            ax = ovm.plot_param_importances(study)
            ax.set_title('', loc='left')
            ax.set_title(f'{name}: parameter importance (fANOVA, {len(complete)} complete trials)')
            if ax.get_legend() is not None:
                ax.get_legend().remove()
            ax.set_xlim(0, 1.2 * max([p.get_width() for p in ax.patches] or [1.0]))
            ax.figure.set_size_inches(7.0, 1.6 + 0.4 * len(complete[0].params))
            ax.figure.tight_layout()
            files.append(_save(ax.figure, str(out / f'{name}-importance.png')))
        except (ValueError, RuntimeError, ImportError) as e:
            print(f'graphkit compare: no importance plot for {name} ({e})', file=sys.stderr)
    return files


def compare(dirs: Sequence[os.PathLike], out: os.PathLike = 'compare', storage: Optional[str] = None) -> Dict[str, Any]:
    r"""The table and plots of :obj:`dirs` (see the module docstring); returns ``{'markdown', 'rows', 'files'}``.

    Args:
        dirs (sequence of path): Run directories and study folders.
        out (path): Output folder of ``compare.csv`` and the PNGs. (default: :obj:`'compare'`)
        storage (str, optional): The Optuna URL of a study not stored in its folder's ``study.db``.
    """
    runs = collect(dirs)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out '{out}' is a file")
    rows = table_rows(runs)
    out.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator='\n')
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / 'compare.csv', buf.getvalue())
    files = [str(out / 'compare.csv')]
    for metric in dict.fromkeys(r.metric for r in runs):
        group = [r for r in runs if r.metric == metric]
        safe = ''.join(c if c.isalnum() or c in '-_.' else '_' for c in metric)
        made = plot_curves(group, str(out / f'curves-{safe}.png'))
        if made:
            files.append(made)
    for r in runs:
        if r.study is not None:
            files += plot_study(r.study, out, storage)
    return {'markdown': to_markdown(rows), 'rows': rows, 'files': files}
