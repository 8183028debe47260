"""One line, not a traceback, for the bad inputs Invoke itself fails on before a task runs.

Invoke reads the configuration files, casts ``INVOKE_*`` variables and parses task
flags outside any task body, so `layer_task`'s wrapper cannot see those failures: a
``-f`` file whose ``layer:`` is not a mapping, a YAML syntax error, a file type Invoke
does not read, ``INVOKE_LAYER_LIFECYCLE_DAYS=1.5`` when ``invoke.yaml`` holds an int,
``--top abc``. Invoke imports ``tasks.py`` (and so this package) before any of that,
so `install` puts a `sys.excepthook` in place then. It recognises only those failures,
by the Invoke function they were raised in, and prints one ``error:`` line (exit
status 1, as for any uncaught exception); everything else, a real bug included, goes
to the previous hook with its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any

from layer_tasks.util.redact import redact
from layer_tasks.util.terminal import exit_on_interrupt, silence_output

_KINDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}


def _frames(tb: TracebackType | None) -> list[tuple[str, str, dict[str, Any]]]:
    """(file, function, locals) from the outermost frame to the one that raised."""
    out = []
    while tb is not None:
        code = tb.tb_frame.f_code
        out.append((code.co_filename.replace("\\", "/"), code.co_name, tb.tb_frame.f_locals))
        tb = tb.tb_next
    return out


def _find(
    frames: list[tuple[str, str, dict[str, Any]]], module: str, function: str
) -> dict[str, Any] | None:
    for filename, name, local in reversed(frames):
        if filename.endswith(f"/invoke/{module}") and name == function:
            return local
    return None


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), f"a {type(value).__name__}")


def _env_cast(frames: list[tuple[str, str, dict[str, Any]]]) -> str | None:
    local = _find(frames, "env.py", "_path_set")
    cast = _find(frames, "env.py", "_cast")
    if local is None or cast is None:
        return None
    path = [str(part) for part in local.get("key_path", ())]
    var = "INVOKE_" + "_".join(path).upper()
    old = cast.get("old")
    key = ".".join(path)
    if isinstance(old, (list, tuple)):
        return (
            f"{var} cannot override {key}: a configuration file sets it as a list, which "
            "an environment variable cannot replace; remove it from that file, or change "
            "it there"
        )
    return (
        f"{var}={local.get('value')!r} is not {_kind(old)}: a configuration file sets "
        f"{key} to {old!r}, so Invoke reads the variable as {type(old).__name__}"
    )


def _flag(frames: list[tuple[str, str, dict[str, Any]]]) -> str | None:
    local = _find(frames, "parser/argument.py", "set_value")
    if local is None:
        return None
    arg = local.get("self")
    name = getattr(arg, "name", "?")
    kind = getattr(arg, "kind", str)
    flag = ("-" if len(name) == 1 else "--") + name.replace("_", "-")
    return f"{flag} must be {_KINDS.get(kind, kind.__name__)}, got {local.get('value')!r}"


def _config_file(exc: BaseException, frames: list[tuple[str, str, dict[str, Any]]]) -> str | None:
    from invoke.config import AmbiguousMergeError
    from invoke.exceptions import UnknownFileType
    from invoke.util import yaml  # Invoke's own (possibly vendored) PyYAML

    if isinstance(exc, UnknownFileType):
        return str(exc)
    load = _find(frames, "config.py", "_load_file")
    # A .py configuration file is the user's own code: its failures keep their traceback.
    user_code = _find(frames, "config.py", "_load_py") is not None
    if (
        load is not None
        and not user_code
        and isinstance(exc, (yaml.YAMLError, ValueError, OSError, RecursionError))
    ):
        reason = " ".join(str(exc).split())
        if isinstance(exc, RecursionError):  # the YAML parser recurses per nesting level
            reason = f"it is nested too deeply to read ({reason})"
        return f"cannot read the configuration file {load.get('filepath')}: {reason}"
    merge = _find(frames, "config.py", "_merge_file")
    if merge is None or not isinstance(exc, (AmbiguousMergeError, AttributeError)):
        return None
    path = merge.get("path")
    keys = [
        str(local["key"])
        for filename, name, local in frames
        if filename.endswith("/invoke/config.py") and name == "merge_dicts" and "key" in local
    ]
    if isinstance(exc, AttributeError) and not keys:
        return f"{path} must hold a mapping at the top level (e.g. layer: ...)"
    key = ".".join(keys) or "a key"
    return (
        f"{path}: {key} must be a mapping of settings, as in invoke.yaml, got "
        f"{_value_at(merge.get('data'), keys)!r}; write `{key}:` followed by indented "
        "`key: value` lines"
    )


def _value_at(data: Any, keys: list[str]) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def message(exc: BaseException, tb: TracebackType | None) -> str | None:
    """The one-line message for a known Invoke start-up failure, or None."""
    if not isinstance(exc, Exception):
        return None
    frames = _frames(tb)
    if not any(filename.endswith("/invoke/program.py") for filename, _, _ in frames):
        return None
    for probe in (_env_cast, _flag):
        found = probe(frames)
        if found is not None and isinstance(exc, (ValueError, TypeError, _uncastable())):
            return found
    return _config_file(exc, frames)


def _uncastable() -> type[Exception]:
    from invoke.exceptions import UncastableEnvVar

    return UncastableEnvVar


def _run_by_invoke() -> bool:
    """Whether this import happens inside Invoke's `Program` (``inv``, a console script),
    not in a program that imports the package (a test run, a notebook)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename.replace("\\", "/").endswith("/invoke/program.py"):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def install() -> None:
    """Put the hook in place once; the previous hook handles everything else. Under
    Invoke's `Program`, Ctrl-C before a task runs also ends in one line (exit 130)."""
    if _run_by_invoke():
        exit_on_interrupt()
    previous: Callable[..., Any] = sys.excepthook
    if getattr(previous, "_layer_tasks", False):
        return

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if isinstance(exc, BrokenPipeError):
            # Invoke's own output (--list, --help) into `| head -1`: it ends, quietly.
            silence_output()
            return
        try:
            text = message(exc, tb)
        except Exception:  # the net must never hide the original failure
            text = None
        if text is None:
            previous(kind, exc, tb)
            return
        print(redact(f"error: {' '.join(text.split())}"), file=sys.stderr)

    hook._layer_tasks = True  # type: ignore[attr-defined]
    sys.excepthook = hook
