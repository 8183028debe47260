"""Work done in every region at once: a bounded thread pool, results in region order.

A deploy's regions and `layer.versions --all-regions` both wait on AWS in each region;
threads overlap those waits, and ``publish_concurrency`` bounds how many at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def each_region(concurrency: int, regions: Sequence[str], work: Callable[[str], T]) -> list[T]:
    """``work(region)`` for every region, at most ``concurrency`` at once, in order."""
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(regions)))) as pool:
        return list(pool.map(work, regions))
