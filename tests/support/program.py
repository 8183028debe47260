"""`layer-tasks` (the console script) as a user types it, like `support.cli.inv`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

_SCRIPT = Path(sys.executable).parent / "layer-tasks"
# The installed script when this venv has it (what users run), else the same entry point.
LAYER_TASKS = (
    [str(_SCRIPT)]
    if os.access(_SCRIPT, os.X_OK)
    else [sys.executable, "-c", "from layer_tasks.tasks.program import main; main()"]
)


def layer_tasks(
    folder: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``layer-tasks ARGS`` in ``folder``, with ``env`` on top of this process's."""
    return subprocess.run(
        [*LAYER_TASKS, *args],
        cwd=folder,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )
