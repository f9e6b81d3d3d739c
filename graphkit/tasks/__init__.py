"""Task runners: build data, model, train, evaluate, write the run directory."""
from graphkit.tasks.options import TrainOptions
from graphkit.tasks.registry import TASKS
from graphkit.tasks import link  # noqa: F401  (registers the 'link' task)

__all__ = ['TASKS', 'TrainOptions']
