"""How a run ends when its reader goes away: a closed pipe, or Ctrl-C.

A closed pipe (``inv layer.versions | head -3``): writing to it raises
`BrokenPipeError`, which would end the task with a traceback, halfway through what it
was doing. `quiet_pipes` wraps ``sys.stdout`` and ``sys.stderr`` for the length of a
task: once the reader has gone, what is still written is dropped (the file descriptor
is pointed at ``/dev/null``, so Python's own flush at exit cannot fail either) and the
task runs to its end with its usual exit status, as Unix tools end their output.

Ctrl-C: the task wrapper turns `KeyboardInterrupt` into one line and exit status
`INTERRUPTED` (130, 128 + SIGINT, what a shell reports). The processes the tool starts
must say nothing: the zip's worker processes are started with SIGINT blocked
(`interrupts_blocked`) and ignore it (`ignore_interrupts`), so only the parent, which
stops them, reports. Every other child runs with its output captured.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any, TextIO

INTERRUPTED = 130
INTERRUPTED_MESSAGE = "interrupted (Ctrl-C): stopped before the task finished; run it again"


def _silence(stream: Any) -> None:
    """Point the stream's file descriptor at /dev/null (nothing if it has none)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)


class _QuietPipe:
    """A text stream that drops its output once the reader has closed the pipe."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.closed_by_reader = False

    def _gone(self) -> None:
        self.closed_by_reader = True
        _silence(self._stream)

    def write(self, text: str) -> int:
        if not self.closed_by_reader:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._gone()
        return len(text)

    def flush(self) -> None:
        if not self.closed_by_reader:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._gone()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def quiet_pipes() -> Iterator[None]:
    """``sys.stdout``/``sys.stderr`` that never raise `BrokenPipeError`, for a task's run."""
    saved = sys.stdout, sys.stderr
    out, err = _QuietPipe(saved[0]), _QuietPipe(saved[1])
    sys.stdout, sys.stderr = out, err
    try:
        yield
    finally:
        out.flush()
        err.flush()
        sys.stdout, sys.stderr = saved


def silence_output() -> None:
    """After a broken pipe outside a task: later writes, and the flush at exit, vanish."""
    for stream in (sys.stdout, sys.stderr):
        _silence(stream)


def _interrupted(signum: int, frame: Any) -> None:
    print(f"error: {INTERRUPTED_MESSAGE}", file=sys.stderr, flush=True)
    raise SystemExit(INTERRUPTED)


def exit_on_interrupt() -> None:
    """Ctrl-C outside a task (Invoke reading its configuration, parsing flags): one line
    and exit 130. Invoke would catch a `KeyboardInterrupt` and exit 1 without a word."""
    with contextlib.suppress(ValueError):  # only the main thread may set handlers
        signal.signal(signal.SIGINT, _interrupted)


@contextlib.contextmanager
def interrupts_raise() -> Iterator[None]:
    """Inside a task: Ctrl-C is a `KeyboardInterrupt`, so that every ``finally`` runs
    (the deploy lock is released, a partial zip removed) before the task reports it."""
    try:
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread: its handler is not ours to change
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def ignore_interrupts(*_: Any) -> None:
    """In a worker process: Ctrl-C is the parent's to report (it stops the workers)."""
    with contextlib.suppress(ValueError, OSError, AttributeError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def interrupts_blocked() -> Iterator[None]:
    """SIGINT held back in this thread while it starts processes: they inherit the
    blocked mask, so a Ctrl-C in the moment before they ignore it reaches only the
    parent (after the block, as soon as it ends)."""
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None:  # not on POSIX: nothing to hold back
        yield
        return
    previous = mask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        mask(signal.SIG_SETMASK, previous)
