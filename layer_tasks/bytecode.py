"""Bytecode in the layer: checked-hash ``.pyc`` beside each source, as Lambda's Python reads it.

Lambda mounts ``/opt`` read-only, so a layer without bytecode is compiled again on every
cold start. The build adds, after pruning, ``<dir>/__pycache__/<mod>.cpython-3XY.pyc``
for the modules of ``layer.bytecode``:

- ``imported``: what the import check loaded while importing every top-level module;
- ``all``: every ``.py`` file;
- ``none``: nothing.

Each pyc is what ``py_compile`` writes with ``CHECKED_HASH`` (PEP 552): valid as long as
the source's bytes are, whatever the zip's fixed timestamps say. It is compiled by the
target version's interpreter (bytecode depends on the version, not the CPU) with a fixed
``PYTHONHASHSEED`` and under the path Lambda will see (``/opt/python/...``), so the bytes
do not depend on the build folder or the run: that path is baked into every code
object's ``co_filename``. The sources stay, for tracebacks.

The import check compiles the imported set anyway; it writes those pycs to its mirror
outside the layer (``verify.check_tree`` with a ``display_root``), and this module only
validates them by hash and links them into the tree. Whatever else is needed (``all``,
or a mirror pyc gone stale) is compiled here, in the same mirror, so a rebuild compiles
only what changed. A pyc already in the tree (a wheel's, when the prune rules keep them)
is never replaced.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import LayerError

MODES = ("imported", "all", "none")
# Lambda puts the layer's python/ folder here; tracebacks name files under it.
DISPLAY_ROOT = "/opt/python/"

# Runs in the target interpreter: for each source, a valid mirror pyc is reused (same
# magic, checked-hash flags, same source hash), else py_compile writes it; then it is
# linked (or copied) into the tree's __pycache__.
_COMPILE_SCRIPT = r"""
import sys
sys.path[:] = [p for p in sys.path if p]  # never the cwd: the stdlib must be the stdlib
import importlib.util, json, os, py_compile, shutil
job = json.loads(sys.stdin.read())
tree, prefix, display = job["tree"], job["prefix"], job["display"]
added, compiled, failed, present = [], 0, [], []
for rel in job["items"]:
    source = os.path.join(tree, rel)
    dest = importlib.util.cache_from_source(source)
    if os.path.lexists(dest):
        present.append(rel)
        continue
    mirror = os.path.join(prefix, os.path.dirname(source).lstrip(os.sep), os.path.basename(dest))
    with open(source, "rb") as fh:
        data = fh.read()
    wanted = importlib.util.MAGIC_NUMBER + b"\x03\x00\x00\x00" + importlib.util.source_hash(data)
    try:
        with open(mirror, "rb") as fh:
            valid = fh.read(16) == wanted
    except OSError:
        valid = False
    if not valid:
        try:
            py_compile.compile(
                source, cfile=mirror, dfile=display + rel, doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
            )
        except (py_compile.PyCompileError, ValueError, OSError) as exc:
            failed.append(rel)  # not Python this version can compile (a template, py2)
            continue
        compiled += 1
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    try:
        os.link(mirror, dest)
    except OSError:
        shutil.copyfile(mirror, dest)
    added.append([os.path.relpath(dest, tree), os.path.getsize(dest)])
sys.stdout.write("\n@@RESULT@@" + json.dumps(
    {"added": added, "compiled": compiled, "failed": failed, "present": present}
))
"""


@dataclass(frozen=True)
class BytecodeResult:
    """What the build added; ``mode`` is what was shipped ("none" when skipped)."""

    mode: str
    requested: str
    python: str = ""  # the compiling interpreter's version, e.g. 3.12.1
    files: tuple[str, ...] = ()  # tree-relative .pyc paths, sorted
    sources: tuple[str, ...] = ()  # the sources they were compiled from
    bytes: int = 0
    compiled: int = 0  # compiled by this step (the rest came from the check or the cache)
    failed: tuple[str, ...] = ()  # sources that do not compile: shipped without bytecode
    skipped_reason: str = ""
    notes: tuple[str, ...] = field(default=())

    def for_manifest(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "requested": self.requested,
            "python": self.python,
            "files": len(self.files),
            "bytes": self.bytes,
            "not_compilable": list(self.failed),
            "skipped_reason": self.skipped_reason,
        }


def skipped(requested: str, reason: str) -> BytecodeResult:
    return BytecodeResult(mode="none", requested=requested, skipped_reason=reason)


@functools.lru_cache(maxsize=16)
def interpreter_version(interpreter: str) -> str:
    """``3.12.1``: the patch release matters, marshalled code can change between them."""
    try:
        proc = subprocess.run(
            [interpreter, "-I", "-S", "-c", "import platform; print(platform.python_version())"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def python_sources(tree: Path) -> list[str]:
    """Every regular ``.py`` file below ``tree``, tree-relative POSIX paths, sorted."""
    found = []
    for root, dirs, names in os.walk(tree, followlinks=False):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.endswith(".dist-info")]
        for name in names:
            if name.endswith(".py") and not os.path.islink(os.path.join(root, name)):
                found.append(os.path.relpath(os.path.join(root, name), tree).replace(os.sep, "/"))
    return sorted(found)


def _run_chunk(interpreter: str, job: dict[str, Any], timeout: float) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "LANG": "C.UTF-8",
        "HOME": os.environ.get("HOME", "/"),
        "PYTHONHASHSEED": "0",  # set and frozenset constants: their order follows the hash
    }
    try:
        proc = subprocess.run(
            [interpreter, "-s", "-S", "-B", "-c", _COMPILE_SCRIPT],
            input=json.dumps(job), capture_output=True, text=True, env=env, cwd=job["prefix"],
            timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise LayerError(f"bytecode: compiling timed out after {timeout:.0f} s") from None
    marker = proc.stdout.rfind("@@RESULT@@")
    if marker == -1:
        detail = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise LayerError(f"bytecode: the compile process failed: {detail[:300]}")
    result: dict[str, Any] = json.loads(proc.stdout[marker + len("@@RESULT@@") :])
    return result


def add_bytecode(
    tree: Path,
    interpreter: str,
    sources: list[str],
    mirror: Path,
    *,
    mode: str,
    requested: str,
    workers: int = 1,
    timeout: float = 900,
) -> BytecodeResult:
    """Put checked-hash pycs for ``sources`` (tree-relative) into ``tree``'s ``__pycache__``."""
    mirror.mkdir(parents=True, exist_ok=True)
    tree_abs = os.path.abspath(tree)
    # Chunks by position, so each worker gets a similar share of every package.
    count = max(1, min(workers, len(sources) // 200 or 1))
    jobs = [
        {
            "tree": tree_abs,
            "prefix": os.path.abspath(mirror),
            "display": DISPLAY_ROOT,
            "items": sources[i::count],
        }
        for i in range(count)
    ]
    with ThreadPoolExecutor(max_workers=count) as pool:
        parts = list(pool.map(lambda job: _run_chunk(interpreter, job, timeout), jobs))
    added = sorted((rel, size) for part in parts for rel, size in part["added"])
    skipped_sources = {rel for part in parts for rel in part["failed"] + part["present"]}
    return BytecodeResult(
        mode=mode,
        requested=requested,
        python=interpreter_version(interpreter),
        files=tuple(rel for rel, _ in added),
        sources=tuple(s for s in sources if s not in skipped_sources),
        bytes=sum(size for _, size in added),
        compiled=sum(part["compiled"] for part in parts),
        failed=tuple(sorted(rel for part in parts for rel in part["failed"])),
    )
