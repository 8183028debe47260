"""Progress bars for the long steps, shown only on an interactive terminal.

In CI (stderr not a TTY) tqdm is disabled and the steps print one line each instead.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator


def interactive() -> bool:
    return sys.stderr.isatty()


@contextlib.contextmanager
def byte_progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n_bytes)``; a tqdm bar on a terminal, a no-op elsewhere."""
    if not interactive():
        yield lambda _n: None
        return
    from tqdm import tqdm  # only on a terminal: tqdm costs ~80 ms to import

    bar = tqdm(
        total=total,
        desc=label,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        leave=False,
        disable=not interactive(),
        file=sys.stderr,
    )
    try:
        yield bar.update
    finally:
        bar.close()


@contextlib.contextmanager
def spinner(label: str) -> Iterator[None]:
    """An elapsed-time bar for a step with no countable progress (install, verify)."""
    if not interactive():
        yield
        return
    import threading

    from tqdm import tqdm

    bar = tqdm(desc=label, bar_format="{desc}: {elapsed}", leave=False, file=sys.stderr)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(0.2):
            bar.refresh()

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        yield
    finally:
        stop.set()
        ticker.join()
        bar.close()
