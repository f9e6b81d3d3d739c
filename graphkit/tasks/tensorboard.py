r"""TensorBoard logging of a run (``graphkit train --log tensorboard``), an optional extra
(``pip install -e '.[tensorboard]'``), through :class:`torch.utils.tensorboard.SummaryWriter`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

from graphkit.tasks.callbacks import Callback

__all__ = ['TensorBoardLogger', 'make_loggers', 'LOGGERS']

#: The values of ``--log``.
LOGGERS = ('none', 'tensorboard')


class TensorBoardLogger(Callback):
    r"""Writes the scalars of every run to ``RUN_DIR/tensorboard/run{r}``: ``train/loss``, ``train/lr`` and
    ``time/epoch_s`` per epoch, and ``{split}/{metric}`` for every metric of every split at each evaluation
    (the step is the epoch). A resumed run starts its writer with ``purge_step`` at its first new epoch, so
    TensorBoard drops the events that the killed process wrote after its last checkpoint.

    .. code-block:: bash

        graphkit train gae --dataset cora --log tensorboard --out runs/gae-cora
        tensorboard --logdir runs/gae-cora/tensorboard

    Args:
        subdir (str): Folder under the run directory. (default: :obj:`'tensorboard'`)
    """

    def __init__(self, subdir: str = 'tensorboard') -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ValueError(
                "--log tensorboard needs TensorBoard, an optional extra: pip install -e '.[tensorboard]' "
                '(or pip install tensorboard)'
            ) from None
        self._writer_cls = SummaryWriter
        self.subdir = subdir
        self._dir: Optional[Path] = None
        self._writer: Any = None

    def _get(self, step: int) -> Any:
        if self._writer is None:
            self._writer = self._writer_cls(log_dir=str(self._dir), purge_step=step)
        return self._writer

    def on_run_start(self, task: Any, run: int, rundir: Any) -> None:
        self.close()
        self._dir = Path(rundir.path) / self.subdir / f'run{run}'

    def on_epoch_end(
        self, task: Any, run: int, epoch: int, loss: Optional[float], lr: float, epoch_time: float
    ) -> None:
        w = self._get(epoch)
        if loss is not None and loss == loss:
            w.add_scalar('train/loss', float(loss), epoch)
        w.add_scalar('train/lr', float(lr), epoch)
        w.add_scalar('time/epoch_s', float(epoch_time), epoch)

    def on_eval(self, task: Any, run: int, epoch: int, loss: Optional[float], res: Dict[str, Dict[str, float]]) -> None:
        w = self._get(epoch)
        for split, metrics in res.items():
            for name, value in metrics.items():
                if isinstance(value, (int, float)) and value == value:
                    w.add_scalar(f'{split}/{name}', float(value), epoch)
        w.flush()

    def on_run_end(self, task: Any, run: int, result: Dict[str, Any]) -> None:
        self.close()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(subdir={self.subdir!r})'


def make_loggers(log: str) -> list:
    r"""The run-loop hooks of ``--log`` :obj:`log` (``'none'``: none; ``'tensorboard'``: a
    :class:`TensorBoardLogger`); a missing extra is a :class:`ValueError` saying what to install."""
    if log not in LOGGERS:
        raise ValueError(f"--log must be one of {', '.join(LOGGERS)} (got '{log}')")
    return [TensorBoardLogger()] if log == 'tensorboard' else []
