"""Tests marked ``once`` run in one tests session of a nox run, not in all four.

What such a test checks does not change with the Python that runs pytest (see the
marker's description in pyproject.toml). nox shares them out among its tests sessions
(``--once-shard I/N``, from the noxfile): each session runs its share, so every one of
them runs exactly once per ``nox``, on one of the Pythons, and no session carries all of
them. Without the option (a plain ``pytest``) every test runs.

A test's share is fixed by its file and its place among that file's ``once`` tests, so
the parametrized cases of one file spread over the sessions, and the same test lands in
the same session on every Python (the collections are the same: nothing is collected
conditionally on the Python).
"""

from __future__ import annotations

import re
import zlib
from collections import Counter

import pytest

OPTION = "--once-shard"


def add_option(parser: pytest.Parser) -> None:
    parser.addoption(
        OPTION,
        default="",
        metavar="I/N",
        help="run only share I (0-based) of N of the tests marked `once` (nox sets it)",
    )


def parse(text: str) -> tuple[int, int] | None:
    if not text:
        return None
    match = re.fullmatch(r"([0-9]+)/([0-9]+)", text)
    if not match or not 0 <= int(match[1]) < int(match[2]):
        raise pytest.UsageError(f"{OPTION} takes I/N with 0 <= I < N, got {text!r}")
    return int(match[1]), int(match[2])


def share_of(items: list[pytest.Item], count: int) -> dict[str, int]:
    """Each ``once`` test's share (0 .. count-1), by node id."""
    seen: Counter[str] = Counter()
    shares = {}
    for item in items:
        if item.get_closest_marker("once") is None:
            continue
        path = item.nodeid.split("::")[0]
        shares[item.nodeid] = (zlib.crc32(path.encode()) + seen[path]) % count
        seen[path] += 1
    return shares


def deselect(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the ``once`` tests of the other shares (reported as deselected)."""
    shard = parse(config.getoption(OPTION))
    if shard is None:
        return
    index, count = shard
    shares = share_of(items, count)
    keep = [item for item in items if shares.get(item.nodeid, index) == index]
    dropped = [item for item in items if shares.get(item.nodeid, index) != index]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
