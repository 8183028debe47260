"""Glue shared by the task modules: settings from the Context, errors to exit codes.

Only the modules in this package import Invoke. Every task body is wrapped so that a
`LayerError` (a failure the user can fix) ends as one ``error: ...`` line on stderr and
exit status 1, never a traceback.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from invoke import Context, Exit, task

from layer_tasks.config.settings import DEFAULTS, RANGES, LayerSettings
from layer_tasks.errors import LayerError
from layer_tasks.tasks.env import check_environment, name_env_source
from layer_tasks.tasks.yaml_numbers import check_number_forms
from layer_tasks.util.redact import redact
from layer_tasks.util.terminal import (
    INTERRUPTED,
    INTERRUPTED_MESSAGE,
    interrupts_raise,
    quiet_pipes,
)

F = TypeVar("F", bound=Callable[..., Any])


def plain(value: Any) -> Any:
    """Invoke's DataProxy (and nested ones) as plain dicts and lists."""
    if isinstance(value, Mapping) or hasattr(value, "_config"):
        return {str(k): plain(value[k]) for k in value}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def runtime_files(c: Context) -> list[Path]:
    """The runtime configuration file Invoke read (``inv -f``, INVOKE_RUNTIME_CONFIG)."""
    runtime = getattr(c.config, "_runtime_path", None)
    return [Path(os.path.expanduser(runtime))] if runtime else []


def settings_from(c: Context, **overrides: Any) -> LayerSettings:
    """`LayerSettings` from ``c.layer``, with task flags (not None) taking precedence.

    Settings under which the tool would write over a file it manages or reads (the ARN
    file named as the Chalice config, ...) are refused here, before any task's work."""
    from layer_tasks.report.output_path import check_settings

    # Invoke skips a runtime file (-f, INVOKE_RUNTIME_CONFIG) that does not exist.
    runtime = getattr(c.config, "_runtime_path", None)
    if runtime and not os.path.exists(os.path.expanduser(runtime)):
        raise LayerError(f"configuration file {runtime} (inv -f) not found: check the path")
    raw = plain(c.config.get("layer", {}))
    for path in _yaml_files(c):
        check_number_forms(path, RANGES)
    check_environment(os.environ, raw)
    flags = {k: v for k, v in overrides.items() if v is not None}
    raw.update(flags)
    # The keys set to something else than their default: a clash is blamed on them.
    given = {k for k, v in raw.items() if v is not None and v != DEFAULTS.get(k)}
    try:
        settings = LayerSettings.from_mapping(raw, base_dir=Path.cwd())
        check_settings(settings, also_read=runtime_files(c), given=given)
    except LayerError as exc:
        raise LayerError(name_env_source(exc.message, os.environ, flags)) from None
    return settings


def _yaml_files(c: Context) -> list[Path]:
    """The YAML files Invoke read the configuration from (system, user, project, -f)."""
    found = []
    for level in ("system", "user", "project", "runtime"):
        path = getattr(c.config, f"_{level}_path", None)
        if getattr(c.config, f"_{level}_found", False) and str(path).endswith((".yaml", ".yml")):
            found.append(Path(os.path.expanduser(str(path))))
    return found


def to_exit(error: BaseException) -> Exit:
    return Exit(redact(f"error: {error}"), code=1)


def translate(exc: BaseException) -> LayerError | None:
    """A user-fixable error from a library exception, or None for a real bug.

    The AWS modules raise `LayerError` kinds already (aws/errors.py is the boundary);
    this is the net under them for what boto3 raises lazily (credentials, region).
    """
    from layer_tasks.aws.errors import translate as aws_translate

    return aws_translate(exc)


def layer_task(*args: Any, **kwargs: Any) -> Any:
    """``@task`` whose user-fixable failures become ``error: ...`` and exit 1."""

    def decorate(body: F) -> Any:
        @functools.wraps(body)
        def wrapper(*a: Any, **kw: Any) -> Any:
            try:
                # `| head -1`: the output ends, the task does not; Ctrl-C: see below.
                with quiet_pipes(), interrupts_raise():
                    return body(*a, **kw)
            except KeyboardInterrupt:
                raise Exit(f"error: {INTERRUPTED_MESSAGE}", code=INTERRUPTED) from None
            except Exit:
                raise
            except Exception as exc:
                error = translate(exc)
                if error is None:
                    raise
                raise to_exit(error) from None

        return task(wrapper, **kwargs)

    if len(args) == 1 and callable(args[0]) and not kwargs:
        return decorate(args[0])
    return decorate
