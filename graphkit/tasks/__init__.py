"""Task runners: build data, model, train, evaluate, write the run directory."""
from graphkit.tasks import link, recommend  # noqa: F401  (register the 'link' and 'recommend' tasks)
from graphkit.tasks.options import TrainOptions
from graphkit.tasks.registry import TASKS
from graphkit.tasks.run import Task, load_run

__all__ = ['TASKS', 'Task', 'TrainOptions', 'load_run']
