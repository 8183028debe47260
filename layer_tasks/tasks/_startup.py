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

import os
import re
import stat
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any

from layer_tasks.util.bounds import MAX_TEXT_FILE_BYTES
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


# A YAML file whose aliases (&a / *a) stand for more values than this: Invoke copies
# every value when it merges the file (a "billion laughs" file held it for minutes).
MAX_EXPANDED_VALUES = 100_000


def _expanded_values(path: str) -> int | None:
    """How many values a YAML file stands for once every alias is copied out; None
    when it cannot be composed (Invoke then reports the error itself, through the hook)."""
    from invoke.util import yaml

    try:
        with open(path, "rb") as fh:
            root = yaml.compose(fh, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, ValueError, OSError, RecursionError):
        return None
    sizes: dict[int, int] = {}

    def size(node: Any, depth: int = 0) -> int:
        if id(node) in sizes or depth > 200:
            return sizes.get(id(node), 1)
        children: list[Any] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [item for pair in node.value for item in pair]
        total = 1 + sum(size(child, depth + 1) for child in children)
        sizes[id(node)] = total
        return total

    return 0 if root is None else size(root)


def config_file_problem(path: str) -> str | None:
    """Why Invoke would hang or run out of memory reading ``path``, or None: a FIFO, a
    device or a socket (it would wait on it, or read forever), a file larger than any
    configuration, YAML aliases that expand past `MAX_EXPANDED_VALUES`."""
    try:
        info = os.stat(path)
    except OSError:
        return None  # missing, or unreadable: Invoke says so itself (through the hook)
    if stat.S_ISDIR(info.st_mode):
        return None
    if not stat.S_ISREG(info.st_mode):
        return (
            f"configuration file {path} is not a regular file (a FIFO, device or socket), "
            "which Invoke would wait on or read forever: replace it with a file"
        )
    if info.st_size > MAX_TEXT_FILE_BYTES:
        return (
            f"configuration file {path} is larger than {MAX_TEXT_FILE_BYTES:,} bytes, which "
            "no real one is: check that it is the right file"
        )
    if path.endswith((".yaml", ".yml")):
        values = _expanded_values(path)
        if values is not None and values > MAX_EXPANDED_VALUES:
            return (
                f"configuration file {path} stands for more than {MAX_EXPANDED_VALUES:,} "
                "values once its YAML aliases (*name) are copied out, which Invoke would do: "
                "write the values out instead of nesting aliases"
            )
    return None


def _local(function: str, module: str, name: str) -> Any:
    """A local variable of the innermost running Invoke ``module.function``, or None."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == function and code.co_filename.replace("\\", "/").endswith(module):
            return frame.f_locals.get(name)
        frame = frame.f_back
    return None


def check_config_files() -> None:
    """Before Invoke reads the project's ``invoke.*`` and the runtime file (``-f``,
    ``INVOKE_RUNTIME_CONFIG``): one line for a file it would hang or choke on.

    Invoke imports ``tasks.py`` (so this package) before it reads those two. The system
    and user files (``/etc/invoke.yaml``, ``~/.invoke.yaml``) are read earlier, before
    any code of ours runs: they are out of reach (docs/security.md)."""
    from invoke.exceptions import Exit

    program = _local("load_collection", "/invoke/program.py", "self")
    project = _local("load", "/invoke/loader.py", "module_parent")
    config = getattr(program, "config", None)
    paths = []
    if project is not None and config is not None:
        prefix = config.file_prefix or config.prefix
        paths += [os.path.join(str(project), f"{prefix}.{ext}") for ext in config._file_suffixes]
    try:
        runtime = program.args.config.value if program is not None else None
    except (AttributeError, KeyError):
        runtime = None
    runtime = runtime or os.environ.get("INVOKE_RUNTIME_CONFIG")
    if runtime:
        paths.append(os.path.expanduser(runtime))
    for path in paths:
        problem = config_file_problem(path)
        if problem:
            raise Exit(redact(f"error: {problem}"), code=1)


_FLAG_RE = re.compile(r"<Argument: ([A-Za-z0-9_]+)")


def parse_error_line(exc: BaseException, binary: str) -> str:
    """Invoke's parser message as one ``error:`` line that says what to do: its own words
    ("No idea what '5' is!", "Flag <Argument: version (v)> needed value ...") name
    neither the flag nor the cure."""
    text = " ".join(str(exc).split())
    flag = _FLAG_RE.search(text)
    name = f"--{flag[1].replace('_', '-')}" if flag else ""
    if name and "needed value" in text:
        text = f"{name} needs a value ({name} VALUE)"
    elif name and "doesn't take any value" in text:
        text = f"{name} takes no value"
    elif text.startswith("No idea what"):
        word = text[len("No idea what ") : -len(" is!")] if text.endswith(" is!") else text
        text = (
            f"{word} is not a task, a flag, or a flag's value here (a flag given twice?): "
            f"see `{binary} --list` and `{binary} --help TASK`"
        )
    return redact(f"error: {text}")


@contextmanager
def parse_errors_as_lines(binary: str) -> Iterator[None]:
    """Invoke's ``Program`` prints a `ParseError` as its bare message: within this, it
    ends in one ``error:`` line instead (the exit status stays 1)."""
    from invoke.exceptions import Exit, ParseError

    try:
        yield
    except ParseError as exc:
        raise Exit(parse_error_line(exc, binary), code=1) from None


def check_repeatable_flags(program: Any) -> None:
    """A repeatable flag (``--arn``) given without a value: Invoke's parser leaves its
    list empty without a word, as if the flag were absent, and the task would fall back
    to its default. Its list is empty only then, so a name of it on the command line
    with an empty list means exactly that case."""
    from invoke.exceptions import ParseError

    given = set(getattr(program.core, "unparsed", None) or [])
    for context in getattr(program, "tasks", None) or []:
        for arg in context.args.values():
            if arg.kind is list and not arg.value:
                names = {f"--{n}" if len(n) > 1 else f"-{n}" for n in arg.names}
                names |= {name.replace("_", "-") for name in names}
                if names & given:
                    raise ParseError(
                        f"Flag <Argument: {arg.name}> needed value and was not given one!"
                    )


def one_line_parse_errors(program: Any) -> None:
    """``inv``'s own `Program` parses the tasks' flags after importing ``tasks.py``: that
    step of this one program gets `parse_errors_as_lines`."""
    parse_tasks = program.parse_tasks

    def parse() -> None:
        names = program.binary_names or ["inv"]
        with parse_errors_as_lines("inv" if "inv" in names else names[0]):
            parse_tasks()
            check_repeatable_flags(program)

    program.parse_tasks = parse


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
        check_config_files()
        program = _local("load_collection", "/invoke/program.py", "self")
        if program is not None:  # `inv`: the flags of the tasks are parsed after this
            one_line_parse_errors(program)
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
