r"""Configuration presets and their resolution.

The resolved configuration of a run is built from, lowest precedence first:

1. ``defaults.yaml`` (task keys shared by every model),
2. ``<model>/default.yaml`` (every key the model understands, with its default),
3. ``<model>/<dataset>.yaml`` (the paper's hyperparameters for that dataset, when one exists),
4. a user file given with ``--config FILE``,
5. ``--set section.key=value`` overrides.

Keys in 3-5 must already exist in 1-2; anything else is rejected with the list of known keys.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

import yaml

CONFIG_DIR = Path(__file__).resolve().parent

__all__ = ['CONFIG_DIR', 'load_config', 'merge', 'parse_override', 'preset_path']


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


def _flatten(cfg: Dict[str, Any], prefix: str = '') -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in cfg.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f'{prefix}{key}.'))
        else:
            out[f'{prefix}{key}'] = value
    return out


def merge(base: Dict[str, Any], update: Dict[str, Any], source: str, strict: bool = True,
          prefix: str = '') -> Dict[str, Any]:
    r"""Return :obj:`base` updated by :obj:`update`; with :obj:`strict`, unknown keys raise a
    :class:`ValueError` naming :obj:`source` and listing the known keys."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value, source, strict, f'{prefix}{key}.')
            continue
        if strict and key not in out:
            known = ', '.join(sorted(_flatten(base, prefix)))
            raise ValueError(f"Unknown config key '{prefix}{key}' in {source}; known keys: {known}")
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


def load_config(model: str, dataset: Optional[str] = None, config_file: Optional[str] = None,
                overrides: Iterable[str] = ()) -> Dict[str, Any]:
    r"""Resolve the configuration of :obj:`model` on :obj:`dataset` (see the module docstring)."""
    model_default = CONFIG_DIR / model.lower() / 'default.yaml'
    if not model_default.exists():
        raise ValueError(f"No configuration for model '{model}' (expected '{model_default}')")
    cfg = merge(_read_yaml(CONFIG_DIR / 'defaults.yaml'), _read_yaml(model_default),
                str(model_default), strict=False)
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
        cfg = merge(cfg, layer, source)
    return cfg
