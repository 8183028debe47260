"""Invoke entry point: ``inv --list`` shows the ``layer.*`` and ``local.*`` tasks."""

from layer_tasks.tasks import ns

__all__ = ["ns"]
