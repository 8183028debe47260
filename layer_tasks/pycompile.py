"""Compile a layer's sources into checked-hash ``.pyc`` whose bytes depend on the source only.

``marshal`` marks an object as shared, or a string as interned, by the state of the
process that writes it: the same source compiled twice in one process, or after another
file, can give other bytes (measured on python3.11-3.13; e.g. pycparser's c_parser.py).
So each file is compiled in a child forked from one process that only ever reads
requests: every child starts from the same state, whatever was compiled before it, in
whatever order and however many at a time. The import check uses the same server for
what it imports (so that work is done once and is the layer's bytecode), and the build
for the rest.

`SERVER` runs in the target interpreter (``-s -S -B``, ``PYTHONHASHSEED=0`` for set
constants) with the number of children at once as its argument. It reads lines
``id<TAB>source<TAB>display name<TAB>pyc path`` and answers ``id<TAB>status`` per line:
``cached`` (the pyc there is a valid checked-hash pyc of this source), ``compiled``,
``invalid`` (not Python this version compiles), or ``error``. The display name is baked
into ``co_filename``: the path Lambda will show in tracebacks.
"""

from __future__ import annotations

import os
import subprocess

from .errors import LayerError

SERVER = r"""
import sys
sys.path[:] = [p for p in sys.path if p]  # never the cwd: the stdlib must be the stdlib
import os, _imp
external = sys.modules["_frozen_importlib_external"]
to_code = external.SourceLoader.source_to_code
header = external.MAGIC_NUMBER + b"\x03\x00\x00\x00"  # flags: hash-based, checked
limit = max(1, int(sys.argv[1]))
running = {}


def reply(rid, status):
    sys.stdout.write(rid + "\t" + status + "\n")
    sys.stdout.flush()


def reap():
    pid, status = os.waitpid(-1, 0)
    code = os.waitstatus_to_exitcode(status)
    reply(running.pop(pid), {0: "compiled", 3: "invalid"}.get(code, "error"))


def compile_one(source, display, pyc, data, key):
    try:
        code = to_code(None, data, display)
    except (SyntaxError, ValueError):
        return 3
    try:
        os.makedirs(os.path.dirname(pyc), exist_ok=True)
        external._write_atomic(pyc, external._code_to_hash_pyc(code, key, True), 0o644)
    except OSError:
        return 4
    return 0


for line in sys.stdin:
    rid, source, display, pyc = line.rstrip("\n").split("\t")
    try:
        with open(source, "rb") as fh:
            data = fh.read()
    except OSError:
        reply(rid, "error")
        continue
    key = _imp.source_hash(external._RAW_MAGIC_NUMBER, data)
    try:
        with open(pyc, "rb") as fh:
            if fh.read(16) == header + key:
                reply(rid, "cached")
                continue
    except OSError:
        pass
    pid = os.fork()
    if pid == 0:
        status = 4
        try:
            status = compile_one(source, display, pyc, data, key)
        finally:
            os._exit(status)
    running[pid] = rid
    while len(running) >= limit:  # with 1, each answer comes before the next request
        reap()
while running:
    reap()
"""


def server_env() -> dict[str, str]:
    """A clean environment with the one variable the bytes depend on."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "LANG": "C.UTF-8",
        "HOME": os.environ.get("HOME", "/"),
        "PYTHONHASHSEED": "0",
    }


def compile_many(
    interpreter: str,
    items: list[tuple[str, str, str]],
    *,
    workers: int = 1,
    timeout: float = 900,
) -> list[str]:
    """Ensure a pyc for each ``(source, display name, pyc path)``; the status of each."""
    if not items:
        return []
    lines = "".join(f"{i}\t{src}\t{shown}\t{pyc}\n" for i, (src, shown, pyc) in enumerate(items))
    try:
        proc = subprocess.run(
            [interpreter, "-s", "-S", "-B", "-c", SERVER, str(max(1, workers))],
            input=lines, capture_output=True, text=True, env=server_env(), cwd="/",
            timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise LayerError(f"bytecode: compiling took more than {timeout:.0f} s") from None
    statuses = ["error"] * len(items)
    for line in proc.stdout.splitlines():
        rid, _, status = line.partition("\t")
        if rid.isdigit() and int(rid) < len(items):
            statuses[int(rid)] = status
    return statuses
