"""nox shares the `once` tests out among its tests sessions: each runs in exactly one."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from support import once


@dataclass
class Item:
    nodeid: str
    marked: bool

    def get_closest_marker(self, name: str) -> object | None:
        return name if self.marked and name == "once" else None


ITEMS = [
    Item(f"tests/{folder}/test_{n}.py::test_case[{k}]", marked=(n + k) % 3 != 0)
    for folder in ("unit", "aws")
    for n in range(4)
    for k in range(5)
]


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_each_once_test_has_one_share_and_the_shares_are_even(count: int) -> None:
    shares = once.share_of(ITEMS, count)  # type: ignore[arg-type]
    assert set(shares) == {item.nodeid for item in ITEMS if item.marked}
    assert set(shares.values()) <= set(range(count))
    sizes = [list(shares.values()).count(share) for share in range(count)]
    # Each file's cases go round the shares: no share gets more than one extra per file.
    assert max(sizes) - min(sizes) <= 8


def test_the_same_test_keeps_its_share_whatever_else_is_collected() -> None:
    # Another file's tests (a Python that collected one more module) do not move it.
    alone = once.share_of(ITEMS[:20], 4)  # type: ignore[arg-type]
    together = once.share_of(ITEMS, 4)  # type: ignore[arg-type]
    assert all(together[nodeid] == share for nodeid, share in alone.items())


@pytest.mark.parametrize("text", ["4/4", "1", "-1/4", "a/b", "0/0"])
def test_a_bad_shard_is_a_usage_error(text: str) -> None:
    with pytest.raises(pytest.UsageError, match="I/N"):
        once.parse(text)
    assert once.parse("") is None and once.parse("3/4") == (3, 4)
