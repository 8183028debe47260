"""The local sandbox: ``local.up``, ``local.down``, ``local.status``."""

from __future__ import annotations

from invoke import Context

from layer_tasks.tasks._common import layer_task, settings_from


@layer_task
def up(c: Context) -> None:
    """Start the local moto server on 127.0.0.1 (kept running across commands)."""
    # Each task imports the sandbox when it runs, not for `inv --list`.
    from layer_tasks.local import sandbox

    settings = settings_from(c)
    box, started = sandbox.up(settings.state_dir)
    state = "started" if started else "already running"
    print(f"local sandbox {state} on {box.endpoint} (pid {box.pid})")


@layer_task
def down(c: Context) -> None:
    """Stop the local moto server; everything published to it is gone."""
    from layer_tasks.local import sandbox

    settings = settings_from(c)
    box = sandbox.down(settings.state_dir)
    print(f"local sandbox stopped (pid {box.pid})" if box else "local sandbox was not running")


@layer_task
def status(c: Context) -> None:
    """Say whether the local moto server runs, and where."""
    from layer_tasks.local import sandbox

    settings = settings_from(c)
    box = sandbox.status(settings.state_dir)
    if box is None:
        print("local sandbox is not running (`inv local.up` starts it)")
    else:
        print(
            f"local sandbox running on {box.endpoint} (pid {box.pid}); state in "
            f"{sandbox.sandbox_dir(settings.state_dir)}"
        )
