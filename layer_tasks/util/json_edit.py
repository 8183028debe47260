"""Set one value in a JSON document's text, leaving every other byte as it was.

Parsing and dumping again would rewrite what the edit never meant to touch: ``1e999``
becomes ``Infinity`` (not JSON), ``1E3`` becomes ``1000.0``, ``"\\u00e9"`` becomes
``"é"``, hand-made line breaks move. Here the document is scanned for the text span
of the value at a key path (with the standard library's own decoder, so a span is
exactly what `json.loads` read) and only that span is replaced; a missing member is
inserted after the object's last one. New text is laid out the way the file is
(indentation, separators, line endings, ASCII escaping), so a file formatted as
``json.dumps(indent=...)`` formats it comes out as ``json.dumps`` would write it.

The text must already have been parsed by `json.loads` (well-formed, no duplicate
keys, nesting bounded): this module finds spans, it does not validate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class Style:
    """How the file was written, so new text looks the same."""

    indent: str | None
    separators: tuple[str, str]
    newline: str
    ensure_ascii: bool

    @classmethod
    def of(cls, text: str) -> Style:
        newline = "\r\n" if "\r\n" in text else "\n"
        # The first indented line is a top-level member: its leading whitespace is one level.
        match = re.search(r"\n([ \t]+)\S", text)
        indent = match.group(1) if match else None
        if indent is not None:
            separators = (",", ": ")
        elif re.search(r'"\s*:\s', text):
            separators = (", ", ": ")
        else:
            separators = (",", ":")
        # Keep non-ASCII text literal unless the file is pure ASCII (maybe \u escapes).
        return cls(indent, separators, newline, ensure_ascii=text.isascii())


@dataclass(frozen=True)
class _Member:
    key: str
    key_start: int  # the key's opening quote
    value_start: int
    value_end: int


def _skip(text: str, i: int) -> int:
    return _WS.match(text, i).end()  # type: ignore[union-attr]  # [ \t..]* always matches


def _members(text: str, brace: int) -> tuple[list[_Member], int]:
    """The members of the object whose ``{`` is at ``brace``, and where its ``}`` is."""
    members: list[_Member] = []
    i = _skip(text, brace + 1)
    if text[i] == "}":
        return members, i
    while True:
        key_start = i
        key, i = json.decoder.scanstring(text, i + 1)  # type: ignore[attr-defined]
        i = _skip(text, _skip(text, i) + 1)  # the ':' and the space around it
        _, end = _DECODER.raw_decode(text, i)
        members.append(_Member(key, key_start, i, end))
        i = _skip(text, end)
        if text[i] == "}":
            return members, i
        i = _skip(text, i + 1)  # the ','


def _line_indent(text: str, at: int) -> str:
    start = text.rfind("\n", 0, at) + 1
    return text[start : _skip_blanks(text, start)]


def _skip_blanks(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


def _own_line(text: str, at: int) -> bool:
    """Whether only blanks precede ``at`` on its line (dumps' layout, not hand-made)."""
    start = text.rfind("\n", 0, at) + 1
    return _skip_blanks(text, start) == at


def _render(value: Any, style: Style, line_indent: str | None) -> str:
    """``value`` as JSON text on a line indented by ``line_indent``; None: inline."""
    if style.indent is None or line_indent is None:
        separators = style.separators if style.indent is None else (", ", ": ")
        return json.dumps(value, separators=separators, ensure_ascii=style.ensure_ascii)
    dumped = json.dumps(value, indent=style.indent, ensure_ascii=style.ensure_ascii)
    return dumped.replace("\n", style.newline + line_indent)


def _nested(keys: Sequence[str], value: Any) -> Any:
    for key in reversed(keys):
        value = {key: value}
    return value


def set_value(text: str, keys: Sequence[str], value: Any, style: Style | None = None) -> str:
    """``text`` with the value at ``keys`` (object members from the top) set to ``value``.

    Missing objects along the path are created. Everything outside the replaced span
    (or the inserted member) keeps its bytes.
    """
    style = style or Style.of(text)
    brace = _skip(text, 0)
    for depth, key in enumerate(keys):
        members, close = _members(text, brace)
        found = next((m for m in members if m.key == key), None)
        rest = keys[depth + 1 :]
        if found is None:
            return _insert(text, brace, members, close, key, _nested(rest, value), style)
        if not rest:
            own = _own_line(text, found.key_start)
            new = _render(value, style, _line_indent(text, found.key_start) if own else None)
            return text[: found.value_start] + new + text[found.value_end :]
        brace = found.value_start
        if text[brace] != "{":
            raise ValueError(f"{'.'.join(keys[: depth + 1])} is not an object")
    raise ValueError("no key path given")


def _insert(
    text: str,
    brace: int,
    members: list[_Member],
    close: int,
    key: str,
    value: Any,
    style: Style,
) -> str:
    key_text = json.dumps(key, ensure_ascii=style.ensure_ascii)
    if not members:
        # `{}` becomes the object holding the one member, laid out as dumps would.
        new = _render({key: value}, style, _line_indent(text, brace))
        return text[:brace] + new + text[close + 1 :]
    last = members[-1]
    indent: str | None = None
    if style.indent is not None and _own_line(text, last.key_start):
        indent = _line_indent(text, last.key_start)
        gap = style.newline + indent
    else:
        gap = " " if style.indent is not None or style.separators[0] == ", " else ""
    colon = style.separators[1] if style.indent is None else ": "
    member = f",{gap}{key_text}{colon}{_render(value, style, indent)}"
    return text[: last.value_end] + member + text[last.value_end :]
