"""The ``INVOKE_LAYER_*`` environment: the defaults Invoke is given, and the checks of
what it would otherwise get wrong without a word.

Invoke only applies an ``INVOKE_LAYER_<KEY>`` override to a key that already exists in
the configuration: `INVOKE_DEFAULTS` (every key of `DEFAULTS`) is what the ``layer``
collection registers. Only the task modules read the environment for settings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from layer_tasks.config.settings import DEFAULTS, RANGES, check_setting
from layer_tasks.errors import LayerError

ENV_PREFIX = "INVOKE_LAYER_"


def _for_invoke(value: Any) -> Any:
    # Invoke casts an INVOKE_LAYER_* string to the type of the default it replaces:
    # int("lots") would end in a traceback before any task runs, bool("false") is True,
    # and a list cannot be set at all. Registering None for every non-string value makes
    # Invoke pass the raw string through, and `from_mapping` parses it with a clear error.
    if isinstance(value, dict):
        return {k: _for_invoke(v) for k, v in value.items()} if value else {}
    return value if isinstance(value, str) else None


# What is registered on the `layer` collection: every key present, so every key can be
# overridden from the environment; None means "the default in DEFAULTS".
INVOKE_DEFAULTS: dict[str, Any] = {key: _for_invoke(value) for key, value in DEFAULTS.items()}


def name_env_source(
    message: str, environ: Mapping[str, str], overridden: Iterable[str] = ()
) -> str:
    """``message`` about ``layer.<key>``, saying which ``INVOKE_LAYER_*`` variable set it.

    A value from the environment is easy to forget: the error names the variable to
    change, not only the key. ``overridden`` keys came from a task flag instead.
    """
    for key in sorted(DEFAULTS, key=len, reverse=True):  # prune_custom before prune
        var = ENV_PREFIX + key.upper()
        if var in environ and key not in overridden and re.match(rf"layer\.{key}\b", message):
            return f"{message} (set by {var})"
    return message


def check_environment(environ: Mapping[str, str], layer: Mapping[str, Any]) -> None:
    """Refuse ``INVOKE_LAYER_*`` variables that Invoke would silently ignore.

    Invoke only reads a variable that names a leaf of the merged ``layer`` config
    (``layer`` is that config, as plain data): ``INVOKE_LAYER_PRUNE=off`` (a mapping) or
    a misspelt key would otherwise leave the setting as it was without a word.
    """
    leaves: set[str] = set()
    booleans: dict[str, str] = {}
    mappings: dict[str, str] = {}

    def walk(path: tuple[str, ...], value: Any) -> None:
        name = ENV_PREFIX + "_".join(path).upper()
        if isinstance(value, Mapping):
            mappings[name] = ".".join(path)
            for key, item in value.items():
                walk((*path, str(key)), item)
        else:
            leaves.add(name)
            if isinstance(value, bool):
                booleans[name] = ".".join(path)

    for key, value in layer.items():
        walk((str(key),), value)
    for key in RANGES:
        var = ENV_PREFIX + key.upper()
        if var in environ:
            # Invoke casts the string with int() or float() where invoke.yaml gave the key
            # a number, and they take '\u0662' and '1_0': the one rule for numbers is
            # applied to the string as it was typed.
            try:
                check_setting(key, environ[var])
            except LayerError as exc:
                raise LayerError(name_env_source(exc.message, environ)) from None
    for var in sorted(environ):
        if var in booleans and environ[var].strip().lower() in ("false", "no", "off"):
            # Invoke casts to the type a configuration file gave the key: for a bool,
            # every string but '' and '0' is true.
            raise LayerError(
                f"{var}={environ[var]!r} would be read as true: a configuration file sets "
                f"layer.{booleans[var]} to a boolean, and Invoke reads any text but '' or "
                "'0' as true; use 0 or 1"
            )
        if not var.startswith(ENV_PREFIX) or var in leaves:
            continue
        if var in mappings:
            key = mappings[var]
            entries = [n for n in sorted(leaves) if n.startswith(var + "_")]
            hint = (
                f"set one entry instead, e.g. {entries[0]}=..."
                if entries
                else "set it under layer: in invoke.yaml"
            )
            raise LayerError(
                f"{var} cannot be used: layer.{key} is a mapping, which one environment "
                f"variable cannot hold; {hint}"
            )
        raise LayerError(
            f"{var} is not a layer setting, and Invoke would ignore it; the variables are "
            f"{ENV_PREFIX}<KEY> for the keys {', '.join(DEFAULTS)}"
        )
