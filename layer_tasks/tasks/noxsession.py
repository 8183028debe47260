"""The size-budget check as a nox session for the user's own ``noxfile.py``.

    # noxfile.py
    from layer_tasks.tasks.noxsession import size_budget

    size_budget()  # nox -s layer_size_budget

The session builds the layer (``layer-tasks build``), prints the ten largest
distributions (``size-report --top 10``) and fails when the layer plus the Chalice app's
package exceed ``layer.budget_mb`` (``layer-tasks budget``, exit 1 naming the app's share).
It uses a state folder of its own inside the session's temporary folder, so that CI never
reuses a build from a developer's tree, while a second run of the session reuses its own.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def _program() -> str:
    """``layer-tasks`` beside the interpreter that imported this (the environment that
    runs nox), or the one on PATH: a session without a virtualenv of its own runs it."""
    beside = os.path.join(os.path.dirname(sys.executable), "layer-tasks")
    return beside if os.access(beside, os.X_OK) else shutil.which("layer-tasks") or "layer-tasks"


def size_budget(
    name: str = "layer_size_budget",
    *,
    python: Any = False,
    install: Sequence[str] = (),
    top: int = 10,
    env: Mapping[str, str] | None = None,
) -> Callable[..., None]:
    """Register the session ``name`` with nox and return it.

    ``python``: nox's own argument; the default, ``False``, runs in the environment that
    runs nox (where layer-tasks is installed, since the noxfile imports it). With a
    version (``"3.12"``), nox makes a virtualenv and ``install`` is what goes into it
    (e.g. ``["layer-tasks"]``). ``env``: more variables for the three commands
    (``INVOKE_LAYER_*`` settings).
    """
    import nox

    def session(s: Any) -> None:
        if install:
            s.install(*install)
        program = "layer-tasks" if python is not False else _program()
        variables = {
            "INVOKE_LAYER_STATE_DIR": os.path.join(s.create_tmp(), "layer-state"),
            **(env or {}),
        }
        for args in (["build"], ["size-report", "--top", str(top)], ["budget"]):
            s.run(program, *args, env=variables, external=True)

    session.__doc__ = "Build the Lambda layer and fail above layer.budget_mb (layer-tasks)."
    session.__name__ = name
    registered: Callable[..., None] = nox.session(name=name, python=python)(session)
    return registered
