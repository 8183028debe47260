"""``layer-tasks``: the console script a Chalice project uses without a ``tasks.py``.

It is Invoke's own `Program` with the ``layer.*`` tasks at its root (``layer-tasks
build``, ``layer-tasks deploy --local``, ``layer-tasks size-report --top 10``) and the
sandbox's as ``local.*`` (``layer-tasks local.up``): the same tasks, flags, help, exit
codes and one-line errors as ``inv layer.*`` in a folder with a ``tasks.py``. It reads
the configuration as ``inv`` does: ``invoke.yaml`` (``.yml``, ``.json``, ``.py``) from
the folder it runs in, ``-f FILE``, and ``INVOKE_*`` variables (``INVOKE_LAYER_BUCKET``).
"""

from __future__ import annotations

import os

import invoke
from invoke import Collection, Config, Program

from layer_tasks import __version__
from layer_tasks.tasks._startup import check_repeatable_flags, parse_errors_as_lines


class ProjectConfig(Config):
    """Invoke's configuration under its own prefix: ``invoke.yaml``, ``INVOKE_*``."""

    prefix = "invoke"


class LayerTasksProgram(Program):
    """A `Program` with a bundled namespace that still reads the project's ``invoke.yaml``.

    ``inv`` loads the project file from the folder that holds ``tasks.py`` as soon as it
    has found the collection; with a bundled namespace Invoke loads none, so here the
    project is the folder the command runs in, loaded at the same step."""

    def parse_core(self, argv: list[str] | None) -> None:
        with parse_errors_as_lines(self.binary or "layer-tasks"):
            super().parse_core(argv)

    def parse_collection(self) -> None:
        with parse_errors_as_lines(self.binary or "layer-tasks"):
            super().parse_collection()
        self.config.set_project_location(os.getcwd())
        self.config.load_project()

    def parse_tasks(self) -> None:
        with parse_errors_as_lines(self.binary or "layer-tasks"):
            super().parse_tasks()
            check_repeatable_flags(self)

    def print_version(self) -> None:
        print(f"{self.name} {self.version} (invoke {invoke.__version__})")


def namespace() -> Collection:
    """The ``layer`` collection's tasks at the root, ``local`` below it, and the same
    configuration defaults (every ``layer.*`` key, so ``INVOKE_LAYER_*`` works)."""
    from layer_tasks.tasks import ns

    root = Collection()
    for task in ns.collections["layer"].tasks.values():
        root.add_task(task)
    root.add_collection(ns.collections["local"])
    root.configure(ns.configuration())
    return root


def make_program() -> LayerTasksProgram:
    return LayerTasksProgram(
        name="layer-tasks",
        binary="layer-tasks",
        binary_names=["layer-tasks"],
        version=__version__,
        namespace=namespace(),
        config_class=ProjectConfig,
    )


def main() -> None:
    """The ``layer-tasks`` entry point (``[project.scripts]``)."""
    make_program().run()
