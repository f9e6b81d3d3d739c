"""The options of one ``graphkit train`` call that are not hyperparameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence


@dataclass
class TrainOptions:
    r"""Run-level options of ``graphkit train``.

    Args:
        model (str): Registered model name.
        dataset (str): Registered dataset name.
        root (str, optional): Data root; :obj:`None` searches ``$GRAPHKIT_DATA`` and the shipped ``datasets/``.
        runs (int, optional): Number of runs; run :obj:`r` uses seed :obj:`seed + r`. :obj:`None` (graph task
            only) = every cross-validation fold.
        seed (int): Seed of the first run.
        device (str): ``'cpu'`` or ``'cuda'``.
        out (str): Run directory.
        resume (bool): Continue the run in :obj:`out` from its checkpoint.
        quiet (bool): No progress bars and no per-epoch lines.
        init_from (str, optional): A run directory whose best model states initialise each run
            (non-strict; e.g. NCN → NCNC warm start).
        stop_after (float, optional): Wall seconds of this invocation after which the loop checkpoints at the
            end of an epoch and raises :class:`~graphkit.tasks.callbacks.Suspended` (continue with
            :obj:`resume`); unlike ``train.time_budget_s`` it does not end the run.
        callbacks (Sequence[Callback]): Run-loop hooks (:class:`~graphkit.tasks.callbacks.Callback`).
    """

    model: str
    dataset: str
    out: str
    root: Optional[str] = None
    runs: Optional[int] = 1
    seed: int = 0
    device: str = 'cpu'
    resume: bool = False
    quiet: bool = False
    init_from: Optional[str] = None
    stop_after: Optional[float] = None
    callbacks: Sequence[Any] = ()
