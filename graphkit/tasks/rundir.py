r"""The run directory of one ``graphkit train`` call: created only once the input is valid, every file written
atomically, the config checked on ``--resume``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Sequence

import yaml

from graphkit.io import atomic_torch_save, atomic_write_text

__all__ = ['RunDir']


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
            raise FileExistsError(
                f"Run directory '{self.path}' already exists and is not empty; pass --resume "
                f'to continue it or --out to choose another directory'
            )
        self.path.mkdir(parents=True, exist_ok=True)
        self.write_yaml('config.yaml', config)

    #: Keys a resumed run may change: how long it trains (the new value is written to ``config.yaml``).
    RESUMABLE_CHANGES = ('train.epochs', 'train.time_budget_s')

    def check_resume_config(self, config: Dict[str, Any], allowed: Sequence[str] = RESUMABLE_CHANGES) -> None:
        """Under ``--resume``: raise a :class:`ValueError` listing the keys where :obj:`config` differs from the
        run's ``config.yaml`` (other than :obj:`allowed`), before anything is written."""
        if not (self.path / 'config.yaml').exists():
            return
        from graphkit.configs import flatten

        saved, new = flatten(self.read_config() or {}), flatten(config)
        diff = sorted(k for k in set(saved) | set(new) if saved.get(k) != new.get(k) and k not in allowed)
        if diff:
            shown = ', '.join(f'{k}: {saved.get(k)!r} -> {new.get(k)!r}' for k in diff[:8])
            raise ValueError(
                f"--resume: the config differs from '{self.path / 'config.yaml'}' in {shown}"
                f"{' ...' if len(diff) > 8 else ''}; resume with the run's own settings or train into a new --out"
            )

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
        lines: List[str] = [
            line for line in self.metrics.read_text().splitlines() if line.strip() and keep(json.loads(line))
        ]
        atomic_write_text(self.metrics, ''.join(line + '\n' for line in lines))
