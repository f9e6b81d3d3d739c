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
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

import torch
import yaml

import graphkit
from graphkit.io import atomic_torch_save, atomic_write_text
from graphkit.io import safe_torch_load as safe_load

__all__ = [
    'RunDir', 'seed_everything', 'rng_state', 'set_rng_state', 'version_stamp',
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
