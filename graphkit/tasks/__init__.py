"""Task runners: build data, model, train, evaluate, write the run directory."""

from graphkit.tasks import link, node, recommend  # noqa: F401  (register the 'link', 'node', 'recommend' tasks)
from graphkit.tasks.options import TrainOptions
from graphkit.tasks.registry import TASKS
from graphkit.tasks.run import Optimizers, Task, load_run

__all__ = ['TASKS', 'Task', 'Optimizers', 'TrainOptions', 'load_run']
