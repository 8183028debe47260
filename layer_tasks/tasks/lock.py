"""The lock task: pin every wheel of the layer for its target (PEP 751)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from invoke import Context

from layer_tasks.tasks._common import layer_task, settings_from

if TYPE_CHECKING:
    from layer_tasks.build.pylock import LockResult


@layer_task(
    iterable=["upgrade_package"],
    help={
        "upgrade": "Take the newest versions the requirements allow (default: keep locked ones).",
        "upgrade_package": "Take the newest version of this package only (repeatable).",
    },
)
def lock(
    c: Context, upgrade: bool = False, upgrade_package: list[str] | None = None
) -> list[LockResult]:
    """Resolve for the Lambda target and write pylock.<name>-<arch>.toml beside the requirements."""
    # Imported when the task runs, not for `inv --list` (see bench/startup_bench.py).
    from layer_tasks.build.install import Target, pip_index_config
    from layer_tasks.build.pylock import write_lock

    results = []
    for settings in settings_from(c).per_architecture():  # one lock per architecture
        # uv resolves whatever the installer is: pip then installs the same locked wheels.
        index = pip_index_config(cache_dir=settings.state_dir / "cache")
        result = write_lock(
            settings, index, upgrade=upgrade, upgrade_packages=upgrade_package or ()
        )
        print(result.summary(Target(settings.python, settings.architecture, settings.glibc)))
        if warning := result.portability_warning():
            print(warning, file=sys.stderr)
        results.append(result)
    return results
