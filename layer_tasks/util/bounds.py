"""Bounds on what the tool reads from files a user gives it, and the one-line refusals.

Without them a bad input ends in a traceback far from its cause: ``/dev/zero`` as the
requirements file fills memory (MemoryError, or the OOM killer), a Chalice config
nested 200,000 levels deep or a ``-r`` chain of ~450 files exhausts Python's stack
(RecursionError). The bounds are far above anything real: a requirements file with a
hash for each of a few hundred packages is well under 1 MiB, a Chalice config nests
about 5 levels, and pip users chain a handful of files.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from layer_tasks.errors import LayerError

MAX_TEXT_FILE_BYTES = 16 * 1024 * 1024
MAX_JSON_DEPTH = 100
# A PEP 751 lock nests about 5 levels (packages, wheels, hashes; [tool.x] tables).
MAX_TOML_DEPTH = 100
MAX_INCLUDE_DEPTH = 50

# A JSON string literal, escapes included: brackets inside strings do not nest.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
# TOML's tokens that can hold a bracket without nesting, and the brackets themselves
# (what `tomllib` recurses on); the longer string forms first.
_TOML_TOKEN = re.compile(
    "|".join(
        (
            r"'''.*?'''",  # a multi-line literal string
            r'"""(?:[^\\]|\\.)*?"""',  # a multi-line basic string
            r'"(?:[^"\\\n]|\\.)*"',  # a basic string
            r"'[^'\n]*'",  # a literal string
            r"#[^\n]*",  # a comment
            r"[\[\]{}]",  # what nests
        )
    ),
    re.DOTALL,
)


def read_bounded(path: Path, what: str, limit: int = MAX_TEXT_FILE_BYTES) -> bytes:
    """The bytes of ``path``; a file larger than ``limit`` is a `LayerError` naming ``what``.

    Reads at most ``limit + 1`` bytes, so an endless source (``/dev/zero``) costs no
    more memory than a file at the limit. OSError is left to the caller, which knows
    how to describe a missing or unreadable file.
    """
    with open(path, "rb") as fh:
        return read_at_most(fh, path, what, limit)


def read_at_most(fh: Any, path: Path, what: str, limit: int = MAX_TEXT_FILE_BYTES) -> bytes:
    """Read an open file up to ``limit`` bytes; more is a `LayerError` naming ``what``."""
    data: bytes = fh.read(limit + 1)
    if len(data) > limit:
        raise LayerError(
            f"{what} {path} is larger than {limit:,} bytes, which no real one is: "
            "check that the setting names the right file"
        )
    return data


def check_json_depth(text: str, what: str, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON nested deeper than ``limit`` before `json.loads` recurses into it."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    depth = deepest = 0
    for char in brackets:
        depth += 1 if char in "[{" else -1
        deepest = max(deepest, depth)
        if deepest > limit:
            raise LayerError(
                f"{what} nests arrays or objects more than {limit} levels deep; no real one "
                "does: check the file"
            )


def check_toml_depth(text: str, what: str, limit: int = MAX_TOML_DEPTH) -> None:
    """Refuse TOML whose arrays and inline tables nest deeper than ``limit`` before
    `tomllib` recurses into them (a RecursionError, not a TOMLDecodeError). Brackets in
    strings and comments do not count; a table header's ``[[`` ``]]`` close on their line."""
    depth = 0
    for token in _TOML_TOKEN.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > limit:
                raise LayerError(
                    f"{what} nests arrays or tables more than {limit} levels deep; no real "
                    "one does: check the file"
                )
        elif char in "]}":
            depth -= 1


def check_nesting(data: Any, what: str, limit: int = MAX_TOML_DEPTH) -> None:
    """Refuse parsed data (dicts and lists) nested deeper than ``limit``, walked without
    recursion. TOML nests tables by their names too (``[a.b.c...]``, ``a.b.c = 1``),
    which no bracket count sees, and every reader of the data after the parser recurses."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if not isinstance(value, (dict, list)):
            continue
        if depth > limit:
            raise LayerError(
                f"{what} nests arrays or tables more than {limit} levels deep; no real one "
                "does: check the file"
            )
        items = value.values() if isinstance(value, dict) else value
        stack.extend((item, depth + 1) for item in items)
