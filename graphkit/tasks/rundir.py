r"""The run directory of one ``graphkit train`` call: created only once the input is valid, every file written
atomically, the config checked on ``--resume``."""

from __future__ import annotations

import errno
import fcntl
import json
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import yaml

from graphkit.io import atomic_torch_save, atomic_write_text

__all__ = ['RunDir']


class RunDir:
    r"""The directory of one ``graphkit train`` call.

    Args:
        path (str or Path): Where the run lives. It is created by :meth:`create`, not here, so that a run that
            fails while validating its input leaves nothing behind.
        writer (bool, optional): :obj:`False` for the ranks other than 0 of a ``torchrun`` job: they read the run
            (its config and checkpoint) but never check, lock, create or write anything; rank 0 does.
            (default: :obj:`True`)
    """

    def __init__(self, path: os.PathLike, writer: bool = True) -> None:
        self.path = Path(path)
        self.writer = writer
        self._lock_fd: Optional[int] = None

    LOCK = '.lock'

    def check_target(self, resume: bool) -> None:
        """Before anything is built or written: :obj:`path` must be a directory that can be created or written;
        without :obj:`resume` it must be new or empty, with :obj:`resume` it must hold a run (``config.yaml``),
        whose lock is then taken (see :meth:`lock`). Nothing for a non-:attr:`writer`."""
        p = self.path
        if not self.writer:
            return
        if p.exists() and not p.is_dir():
            raise ValueError(f"--out '{p}' is a file, not a directory")
        if resume:
            if not (p / 'config.yaml').is_file():
                what = 'does not exist' if not p.exists() else 'holds no graphkit run (no config.yaml)'
                raise FileNotFoundError(f"--resume: '{p}' {what}; drop --resume to start a new run there")
            self.lock()  # a run being resumed is ours from here on: refuse a second process before reading it
        elif p.exists() and any(q.name != self.LOCK for q in p.iterdir()):
            raise FileExistsError(
                f"Run directory '{p}' already exists and is not empty; pass --resume "
                f'to continue it or --out to choose another directory'
            )
        existing = p
        while not existing.exists():  # the first ancestor that exists must be a writable directory
            existing = existing.parent
        if not existing.is_dir():
            raise ValueError(f"--out '{p}': '{existing}' is a file, so the run directory cannot be created")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ValueError(f"--out '{p}': '{existing}' is not writable (permission denied)")

    def lock(self) -> None:
        """Take the run directory's lock (``.lock``, an exclusive :func:`fcntl.flock` held until the process
        ends): a second ``graphkit train`` on the same directory is refused while the first is alive."""
        if self._lock_fd is not None or not self.writer:
            return
        fd = os.open(self.path / self.LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            owner = os.read(fd, 32).decode(errors='replace').strip() or '?'
            os.close(fd)
            if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise ValueError(
                    f"Run directory '{self.path}' is in use by another graphkit process (pid {owner}); wait for "
                    f'it to finish or choose another --out'
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f'{os.getpid()}\n'.encode())
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

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
        """Create the directory, take its lock and write :obj:`config`; without :obj:`resume` an existing run is
        an error (see :meth:`check_target`)."""
        if not self.writer:
            return
        self.check_target(resume)
        self.path.mkdir(parents=True, exist_ok=True)
        self.lock()
        self.write_yaml('config.yaml', config)

    #: Keys a resumed run may change: how long it trains (the new value is written to ``config.yaml``).
    RESUMABLE_CHANGES = ('train.epochs', 'train.time_budget_s')

    def check_resume_config(self, config: Dict[str, Any], allowed: Sequence[str] = RESUMABLE_CHANGES) -> None:
        """Under ``--resume``: raise a :class:`ValueError` listing the keys where :obj:`config` differs from the
        run's ``config.yaml`` (other than :obj:`allowed`), before anything is written (by the :attr:`writer`)."""
        if not self.writer or not (self.path / 'config.yaml').exists():
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

    def _write(self, path: Path, write: Callable[[], None]) -> None:
        # Every write is atomic (temp file + rename); a failed one (disk full, quota, I/O error) leaves the
        # previous file intact and stops the run with an error naming the file.
        if not self.writer:
            return
        try:
            write()
        except OSError as e:
            raise ValueError(
                f"Could not write '{path}' ({e.strerror or e}); the previous version of the file is intact, "
                f'so the run can continue with --resume once the cause is fixed'
            ) from None

    def write_yaml(self, name: str, obj: Any) -> None:
        path = self.path / name
        self._write(path, lambda: atomic_write_text(path, yaml.safe_dump(obj, sort_keys=False)))

    def write_json(self, name: str, obj: Any) -> None:
        path = self.path / name
        self._write(path, lambda: atomic_write_text(path, json.dumps(obj, indent=2, allow_nan=False) + '\n'))

    def save(self, path: Path, obj: Any) -> None:
        self._write(path, lambda: atomic_torch_save(obj, path))

    def read_config(self) -> Dict[str, Any]:
        path = self.path / 'config.yaml'
        if not path.exists():
            raise FileNotFoundError(f"'{path}' does not exist: is '{self.path}' a graphkit run directory?")
        with open(path) as f:
            return yaml.safe_load(f)

    def log_metrics(self, record: Dict[str, Any]) -> None:
        if not self.writer:
            return
        with open(self.metrics, 'a') as f:
            f.write(json.dumps(record, allow_nan=False) + '\n')
            f.flush()

    def truncate_metrics(self, keep) -> None:
        """Keep only the metric lines for which :obj:`keep(record)` holds (used on resume)."""
        if not self.writer or not self.metrics.exists():
            return
        lines: List[str] = [
            line for line in self.metrics.read_text().splitlines() if line.strip() and keep(json.loads(line))
        ]
        atomic_write_text(self.metrics, ''.join(line + '\n' for line in lines))
