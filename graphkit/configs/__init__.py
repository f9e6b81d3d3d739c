r"""Configuration presets and their resolution.

The resolved configuration of a run is built from, lowest precedence first:

1. ``defaults.yaml`` (the keys every task reads: epochs, learning rate, cadence, selection),
2. ``tasks/<task>.yaml`` (the keys of the model's task: ``link``, ``recommend``, ``node``, ``cluster``,
   ``graph``),
3. ``<model>/default.yaml`` (the ``model`` section: every key the model understands, with its default; its other
   sections may only change keys of 1-2),
4. ``<model>/<dataset>.yaml`` (the paper's hyperparameters for that dataset, when one exists),
5. a user file given with ``--config FILE``,
6. ``--set section.key=value`` overrides.

Keys in 3 (outside ``model``) and 4-6 must already exist in 1-3: anything else, *e.g.* a link-prediction key
given to a recommendation model, is rejected with the list of keys the model's task knows.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

import yaml

CONFIG_DIR = Path(__file__).resolve().parent

__all__ = [
    'CONFIG_DIR',
    'TASK_NAMES',
    'load_config',
    'task_defaults',
    'merge',
    'flatten',
    'parse_override',
    'preset_path',
]

#: The tasks with a defaults file in ``tasks/``.
TASK_NAMES = ('link', 'recommend', 'node', 'cluster', 'graph')


def _read_yaml(path: Path) -> Dict[str, Any]:
    try:
        with open(path) as f:
            out = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise ValueError(f"Could not parse config file '{path}': {e}") from None
    if out is None:
        return {}
    if not isinstance(out, dict):
        raise ValueError(f"Config file '{path}' must hold a mapping of sections (got {type(out).__name__})")
    return out


def flatten(cfg: Dict[str, Any], prefix: str = '') -> Dict[str, Any]:
    """``{'train': {'lr': 0.1}}`` -> ``{'train.lr': 0.1}``."""
    out: Dict[str, Any] = {}
    for key, value in cfg.items():
        if isinstance(value, dict):
            out.update(flatten(value, f'{prefix}{key}.'))
        else:
            out[f'{prefix}{key}'] = value
    return out


def merge(
    base: Dict[str, Any], update: Dict[str, Any], source: str, strict: bool = True, prefix: str = '', known_as: str = ''
) -> Dict[str, Any]:
    r"""Return :obj:`base` updated by :obj:`update`; with :obj:`strict`, unknown keys raise a
    :class:`ValueError` naming :obj:`source` and listing the known keys (:obj:`known_as` says whose, *e.g.*
    ``'the recommend task and model ultragcn'``)."""
    out = copy.deepcopy(base)
    if not isinstance(update, dict):
        raise ValueError(
            f"{source}: '{prefix.rstrip('.') or 'the file'}' must be a mapping of keys (got {type(update).__name__})"
        )
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value, source, strict, f'{prefix}{key}.', known_as)
            continue
        if strict and key not in out:
            known = ', '.join(sorted(flatten(base, prefix)))
            whose = f' {known_as}' if known_as else ''
            raise ValueError(f"Unknown config key '{prefix}{key}' in {source}; keys{whose} knows: {known}")
        out[key] = copy.deepcopy(value)
    return out


def parse_override(text: str) -> Dict[str, Any]:
    r"""Turn ``'train.lr=0.001'`` into ``{'train': {'lr': 0.001}}``; the value is parsed as YAML."""
    if '=' not in text:
        raise ValueError(f"--set expects 'section.key=value' (got '{text}')")
    key, value = text.split('=', 1)
    parts = key.strip().split('.')
    if len(parts) < 2 or not all(parts):
        raise ValueError(f"--set expects 'section.key=value' (got '{text}')")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        parsed = value
    out: Dict[str, Any] = {parts[-1]: parsed}
    for part in reversed(parts[:-1]):
        out = {part: out}
    return out


def preset_path(model: str, dataset: str) -> Path:
    """Where the preset for :obj:`model` on :obj:`dataset` lives (it may not exist)."""
    return CONFIG_DIR / model.lower() / f'{dataset.lower()}.yaml'


def task_defaults(task: str) -> Dict[str, Any]:
    r"""The defaults of :obj:`task` (``defaults.yaml`` < ``tasks/<task>.yaml``), with an empty ``model``
    section."""
    if task not in TASK_NAMES:
        raise ValueError(f"Unknown task '{task}'; known tasks: {', '.join(TASK_NAMES)}")
    path = CONFIG_DIR / 'tasks' / f'{task}.yaml'
    cfg = merge(_read_yaml(CONFIG_DIR / 'defaults.yaml'), _read_yaml(path), str(path), strict=False)
    cfg.setdefault('model', {})
    return cfg


def load_config(
    model: str,
    dataset: Optional[str] = None,
    config_file: Optional[str] = None,
    overrides: Iterable[str] = (),
    task: Optional[str] = None,
) -> Dict[str, Any]:
    r"""Resolve the configuration of :obj:`model` on :obj:`dataset` (see the module docstring).

    Args:
        model (str): A model name with a ``<model>/default.yaml``.
        dataset (str, optional): Picks the preset ``<model>/<dataset>.yaml`` when one exists.
        config_file (str, optional): A user YAML file (``--config``).
        overrides (iterable of str): ``section.key=value`` strings (``--set``).
        task (str, optional): The model's task; :obj:`None` looks it up in :obj:`graphkit.models.MODELS`.
    """
    model_default = CONFIG_DIR / model.lower() / 'default.yaml'
    if not model_default.exists():
        raise ValueError(f"No configuration for model '{model}' (expected '{model_default}')")
    if task is None:
        from graphkit.models import MODELS

        task = MODELS.get(model).task
    known_as = f'the {task} task and model {model.lower()}'
    own = _read_yaml(model_default)
    cfg = merge(
        task_defaults(task), {k: v for k, v in own.items() if k != 'model'}, str(model_default), known_as=known_as
    )
    cfg['model'] = copy.deepcopy(own.get('model') or {})
    layers: List[tuple] = []
    if dataset is not None and preset_path(model, dataset).exists():
        path = preset_path(model, dataset)
        layers.append((str(path), _read_yaml(path)))
    if config_file is not None:
        path = Path(config_file)
        if not path.exists():
            raise FileNotFoundError(f"--config file '{config_file}' does not exist")
        layers.append((f"--config '{config_file}'", _read_yaml(path)))
    for text in overrides:
        layers.append((f"--set '{text}'", parse_override(text)))
    for source, layer in layers:
        cfg = merge(cfg, layer, source, known_as=known_as)
    return cfg
