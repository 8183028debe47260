"""What this pytest session collected, before ``-m``, ``-k`` or ``--deselect`` narrowed it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

COLLECTED = pytest.StashKey[list[str]]()


def record(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep every collected test's node id (conftest calls this first of the hook)."""
    config.stash[COLLECTED] = [item.nodeid for item in items]


def collected_in(config: pytest.Config, folders: Iterable[Path]) -> list[str] | None:
    """The node ids of the tests in ``folders``, or None when this session did not collect
    every test module there (e.g. ``pytest one_file.py``): the caller collects them itself."""
    folders = [folder.resolve() for folder in folders]
    modules = {module for folder in folders for module in folder.rglob("test_*.py")}
    ids = config.stash.get(COLLECTED, [])
    seen = {(config.rootpath / nodeid.split("::")[0]).resolve(): nodeid for nodeid in ids}
    if not modules or not modules <= set(seen):
        return None
    return [
        nodeid for nodeid in ids if (config.rootpath / nodeid.split("::")[0]).resolve() in modules
    ]
