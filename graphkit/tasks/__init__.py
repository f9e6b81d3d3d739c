"""Task runners: build data, model, train, evaluate, write the run directory."""

from graphkit.tasks import cluster, graph, link, node, recommend  # noqa: F401  (registers the tasks)
from graphkit.tasks.callbacks import Callback, Suspended
from graphkit.tasks.options import TrainOptions
from graphkit.tasks.registry import TASKS
from graphkit.tasks.run import Optimizers, Task, load_run

__all__ = ['TASKS', 'Task', 'Optimizers', 'TrainOptions', 'Callback', 'Suspended', 'load_run']
