r"""The optimisers and learning-rate schedulers of one run (:class:`Optimizers`), and the schedules a config
names (:func:`make_scheduler`)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Union

import torch

__all__ = ['Optimizers', 'make_scheduler']


class Optimizers:
    r"""The optimisers and learning-rate schedulers of one run, stepped together: a task's :meth:`Task.build`
    may return one optimiser, several, and schedulers (stepped once per epoch by the run loop). Their states
    are saved in ``checkpoint.pt`` and restored on ``--resume``.

    Args:
        optimizers (Optimizer or list of Optimizer): The optimisers.
        schedulers (list of LRScheduler, optional): Schedulers, stepped after every epoch.
    """

    def __init__(
        self, optimizers: Union[torch.optim.Optimizer, Sequence[torch.optim.Optimizer]], schedulers: Sequence[Any] = ()
    ) -> None:
        self.optimizers = [optimizers] if isinstance(optimizers, torch.optim.Optimizer) else list(optimizers)
        self.schedulers = list(schedulers)
        if not self.optimizers:
            raise ValueError("'Optimizers' needs at least one optimizer")

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for opt in self.optimizers:
            opt.step()

    def epoch_end(self) -> None:
        """Step every scheduler (the run loop calls it after each training epoch)."""
        for sched in self.schedulers:
            sched.step()

    @property
    def lr(self) -> float:
        """The current learning rate of the first parameter group (for the log)."""
        return float(self.optimizers[0].param_groups[0]['lr'])

    def state_dict(self) -> Dict[str, Any]:
        return {
            'optimizers': [o.state_dict() for o in self.optimizers],
            'schedulers': [s.state_dict() for s in self.schedulers],
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        if 'optimizers' not in state:  # a checkpoint of one bare optimiser
            state = {'optimizers': [state], 'schedulers': []}
        if len(state['optimizers']) != len(self.optimizers) or len(state['schedulers']) != len(self.schedulers):
            raise ValueError(
                f'The checkpoint holds {len(state["optimizers"])} optimizer(s) and '
                f'{len(state["schedulers"])} scheduler(s); the run has {len(self.optimizers)} and '
                f'{len(self.schedulers)}: was it started with another config?'
            )
        for obj, st in zip(self.optimizers + self.schedulers, state['optimizers'] + state['schedulers']):
            obj.load_state_dict(st)

    def __repr__(self) -> str:
        names = [type(o).__name__ for o in self.optimizers + self.schedulers]
        return f'{self.__class__.__name__}({", ".join(names)})'


def make_scheduler(
    optimizer: torch.optim.Optimizer, name: Optional[str], epochs: int, step_size: int = 50, gamma: float = 0.5
) -> List[Any]:
    r"""The learning-rate scheduler :obj:`name` of :obj:`optimizer` as a list (empty for :obj:`None`):
    ``'step'`` multiplies the rate by :obj:`gamma` every :obj:`step_size` epochs, ``'cosine'`` anneals it to 0
    over :obj:`epochs` (:class:`torch.optim.lr_scheduler.CosineAnnealingLR`)."""
    if name is None:
        return []
    if name == 'step':
        return [torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)]
    if name == 'cosine':
        return [torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))]
    raise ValueError(f"'scheduler' must be null, 'step' or 'cosine' (got {name!r})")
