"""Compile a layer's sources into checked-hash ``.pyc`` whose bytes depend on the source only.

``marshal`` writes an object with the "shared" flag when its reference count is above
one, and a string as interned when it is; both depend on the process, not only on the
source. Three ways, each measured on python3.10-3.13 (see `CANONICAL`):

- an object referenced from outside the code (a cache, an earlier compile) is flagged
  as shared;
- a frozenset constant is rebuilt, unshared, when one of its strings was interned
  before (python/cpython#129724); on 3.13 a ``__qualname__`` constant is interned or
  not for the same reason;
- a one-character string is a process-wide singleton that any code may have interned.

So each code object is put into one canonical form before it is written: every tuple
and frozenset constant rebuilt fresh (a frozenset from its elements in sorted order),
every string of two or more characters a fresh copy (the code constructor interns
again exactly those that look like names), the 256 one-character strings and ``""``
interned up front, and the result marshalled, loaded and marshalled again, which drops
every shared flag that only an outside reference caused. What remains depends on the
source, the display name and the interpreter's version only: the same bytes whatever
was compiled or imported before in the process, in any order, with any number of
processes (tests/unit/test_bytecode.py checks every file of each interpreter's standard
library in three process states against a fresh process). That lets the import check
compile in its own process what it imports, as the interpreter would, with no process
per file.

`SERVER` runs in the target interpreter (``-s -S -B``, ``PYTHONHASHSEED=0`` for set
constants). It reads lines ``id<TAB>source<TAB>display name<TAB>pyc path`` and answers
``id<TAB>status`` per line: ``cached`` (the pyc there is a valid checked-hash pyc of
this source), ``compiled``, ``invalid`` (not Python this version compiles), or
``error``. The display name is baked into ``co_filename``: the path Lambda will show in
tracebacks.
"""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

from layer_tasks.errors import LayerError

# The form of the bytes: in the build key, and the name of the build's pyc cache, so a
# cache or a build from another form is never mixed into this one.
PYC_FORMAT = "canonical-1"

# Executed at the start of every process that writes layer bytecode (the servers below
# and the import check); defines ``canonical_pyc(data, display)``.
CANONICAL = r"""
import marshal as _marshal, sys as _sys, _imp
_external = _sys.modules["_frozen_importlib_external"]
_to_code = _external.SourceLoader.source_to_code
_CODE = type(compile("", "", "exec"))
for _i in range(256):
    _sys.intern(chr(_i))  # one-character strings are singletons: interned in every state
_sys.intern("")


def _sort_key(value):
    return (type(value).__name__, repr(value))


def _canonical(value):
    kind = type(value)
    if kind is _CODE:
        return value.replace(co_consts=tuple(_canonical(v) for v in value.co_consts))
    if kind is tuple:
        return tuple(_canonical(v) for v in value)
    if kind is frozenset:
        return frozenset(sorted((_canonical(v) for v in value), key=_sort_key))
    if kind is str and len(value) > 1:
        return value[:1] + value[1:]  # a new, uninterned object
    return value


def canonical_pyc(data, display):
    '''The checked-hash pyc of source bytes ``data``; SyntaxError/ValueError if not Python.'''
    code = _canonical(_to_code(None, data, display))
    key = _imp.source_hash(_external._RAW_MAGIC_NUMBER, data)
    body = _marshal.dumps(_marshal.loads(_marshal.dumps(code)))
    return _external.MAGIC_NUMBER + b"\x03\x00\x00\x00" + key + body  # flags: checked hash
"""

SERVER = (
    CANONICAL
    + r"""
import os
header = _external.MAGIC_NUMBER + b"\x03\x00\x00\x00"


def reply(rid, status):
    _sys.stdout.write(rid + "\t" + status + "\n")
    _sys.stdout.flush()


for line in _sys.stdin:
    rid, source, display, pyc = line.rstrip("\n").split("\t")
    try:
        with open(source, "rb") as fh:
            data = fh.read()
    except OSError:
        reply(rid, "error")
        continue
    key = _imp.source_hash(_external._RAW_MAGIC_NUMBER, data)
    try:
        with open(pyc, "rb") as fh:
            if fh.read(16) == header + key:
                reply(rid, "cached")
                continue
    except OSError:
        pass
    try:
        out = canonical_pyc(data, display)
    except (SyntaxError, ValueError):
        reply(rid, "invalid")
        continue
    try:
        os.makedirs(os.path.dirname(pyc), exist_ok=True)
        _external._write_atomic(pyc, out, 0o644)
    except OSError:
        reply(rid, "error")
        continue
    reply(rid, "compiled")
"""
)


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
    """Ensure a pyc for each ``(source, display name, pyc path)``; the status of each.

    ``workers`` processes share the list; the bytes do not depend on which one compiles
    what (see the module docstring)."""
    if not items:
        return []
    count = max(1, min(workers, len(items)))
    # Every count-th item: the large files of one package spread over the workers.
    shares = [list(range(i, len(items), count)) for i in range(count)]

    def run(share: list[int]) -> str:
        lines = "".join(f"{i}\t{items[i][0]}\t{items[i][1]}\t{items[i][2]}\n" for i in share)
        proc = subprocess.run(
            [interpreter, "-s", "-S", "-B", "-c", SERVER],
            input=lines, capture_output=True, text=True, env=server_env(), cwd="/",
            timeout=timeout, check=False,
        )  # fmt: skip
        return proc.stdout

    try:
        with ThreadPoolExecutor(max_workers=count) as pool:
            outputs = list(pool.map(run, shares))
    except subprocess.TimeoutExpired:
        raise LayerError(f"bytecode: compiling took more than {timeout:.0f} s") from None
    statuses = ["error"] * len(items)
    for line in "".join(outputs).splitlines():
        rid, _, status = line.partition("\t")
        if rid.isdigit() and int(rid) < len(items):
            statuses[int(rid)] = status
    return statuses
