"""The task registry: each model class names its task (``Model.task``), resolved here."""

from graphkit.registry import Registry

TASKS = Registry('task')

__all__ = ['TASKS']
