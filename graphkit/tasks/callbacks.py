"""Hooks into the run loop (:class:`~graphkit.tasks.run.Task`): what tuning, TensorBoard and other trackers
need to see of a run, without the loop knowing about them."""

from __future__ import annotations

from typing import Any, Dict, Optional


class Suspended(Exception):
    r"""Raised by the run loop when the invocation's ``--stop-after`` time is spent: the checkpoint of the last
    epoch is on disk and ``--resume`` continues from it."""


class Callback:
    r"""The base of run-loop hooks: every method is a no-op by default.

    The loop calls them in this order, for every run: :meth:`on_run_start`, then per epoch
    :meth:`on_epoch_end` and, on evaluation epochs, :meth:`on_eval`, and finally :meth:`on_run_end`;
    :meth:`close` once at the end of :meth:`Task.run <graphkit.tasks.run.Task.run>` (also after an error).
    An exception raised by a hook (*e.g.* :class:`optuna.TrialPruned`) ends the run; the last checkpoint
    stays on disk.
    """

    def on_run_start(self, task: Any, run: int, rundir: Any) -> None:
        """Run :obj:`run` starts (or resumes) in :obj:`rundir` (a :class:`~graphkit.tasks.rundir.RunDir`)."""

    def on_epoch_end(
        self, task: Any, run: int, epoch: int, loss: Optional[float], lr: float, epoch_time: float
    ) -> None:
        """Epoch :obj:`epoch` trained with learning rate :obj:`lr` in :obj:`epoch_time` seconds."""

    def on_eval(self, task: Any, run: int, epoch: int, loss: Optional[float], res: Dict[str, Dict[str, float]]) -> None:
        """The evaluation after :obj:`epoch`: ``res`` is ``{split: {metric: value}}``; ``task.metric`` is the
        selection metric and ``task.direction`` its direction."""

    def on_run_end(self, task: Any, run: int, result: Dict[str, Any]) -> None:
        """Run :obj:`run` finished with the per-run :obj:`result` of the summary."""

    def close(self) -> None:
        """Release what the hook holds (files, writers)."""

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}()'
