"""Bytecode in the layer: checked-hash ``.pyc`` beside each source, as Lambda's Python reads it.

Lambda mounts ``/opt`` read-only, so a layer without bytecode is compiled again on every
cold start. The build adds, after pruning, ``<dir>/__pycache__/<mod>.cpython-3XY.pyc``
for the modules of ``layer.bytecode``:

- ``imported``: what the import check loaded while importing every top-level module;
- ``all``: every ``.py`` file;
- ``none``: nothing.

Each is a ``CHECKED_HASH`` pyc (PEP 552), as ``py_compile`` writes it: valid as long as
the source's bytes are, whatever the zip's fixed timestamps say. It is compiled by the
target version's interpreter (bytecode depends on the version, not the CPU) with a fixed
``PYTHONHASHSEED``, in a canonical form whose bytes do not depend on the process (see
`pycompile`), and under the path Lambda will see (``/opt/python/...``, baked into
``co_filename``), so the bytes depend on neither the build folder nor the run. The
sources stay, for tracebacks.

The import check compiles the imported set anyway: it writes each pyc into a mirror
outside the layer (the cache a rebuild reuses), links it into the tree just before it
imports the module from there, and reports what it placed (`placed_bytecode`); that
same run is the proof. ``all`` is compiled into the same mirror and linked by
`add_bytecode` before the check, which then expects it. Either way `prove_layer_bytecode`
turns what that one run reports into the build's verdict: no second import.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layer_tasks.build.pycompile import PYC_FORMAT, compile_many
from layer_tasks.build.verify import CheckResult, find_interpreter, interpreter_version
from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError

Log = Callable[[str], None]

# Lambda puts the layer's python/ folder here; tracebacks name files under it.
DISPLAY_ROOT = "/opt/python/"


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


def python_sources(tree: Path) -> list[str]:
    """Every regular ``.py`` file below ``tree``, tree-relative POSIX paths, sorted."""
    found = []
    for root, dirs, names in os.walk(tree, followlinks=False):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.endswith(".dist-info")]
        for name in names:
            if name.endswith(".py") and not os.path.islink(os.path.join(root, name)):
                found.append(os.path.relpath(os.path.join(root, name), tree).replace(os.sep, "/"))
    return sorted(found)


def mirror_path(mirror: Path, source: str, tag: str) -> str:
    """Where the import check keeps ``source``'s pyc: its folders mirrored under ``mirror``."""
    folder, name = os.path.split(source)
    return os.path.join(mirror, folder.lstrip(os.sep), f"{name[:-3]}.{tag}.pyc")


def add_bytecode(
    tree: Path,
    interpreter: str,
    python: str,
    sources: list[str],
    mirror: Path,
    *,
    mode: str,
    requested: str,
    workers: int = 1,
) -> BytecodeResult:
    """Put checked-hash pycs for ``sources`` (tree-relative) into ``tree``'s ``__pycache__``.

    Each comes from ``mirror`` when the import check (or an earlier build) left a valid
    one there, else it is compiled into the mirror first; then it is hard-linked into
    the tree (copied across file systems). A pyc already in the tree is left alone.
    """
    tag = "cpython-" + python.replace(".", "")
    tree_abs = os.path.abspath(tree)
    todo: list[tuple[str, str, str]] = []  # (source, display name, mirror pyc)
    for rel in sources:
        source = os.path.join(tree_abs, rel)
        folder, name = os.path.split(rel)
        if os.path.lexists(os.path.join(tree_abs, folder, "__pycache__", f"{name[:-3]}.{tag}.pyc")):
            continue  # a wheel's own, kept by the prune rules: never replaced
        todo.append((source, DISPLAY_ROOT + rel, mirror_path(mirror, source, tag)))
    statuses = compile_many(interpreter, todo, workers=workers)
    errors = [src for (src, _, _), status in zip(todo, statuses, strict=True) if status == "error"]
    if errors:
        raise LayerError(
            f"bytecode: could not compile {len(errors)} file(s) with {interpreter}, e.g. "
            f"{errors[0]}; check free space in {mirror}, or set layer.bytecode: none"
        )
    added: list[tuple[str, int]] = []
    shipped, failed = [], []
    for (source, _shown, pyc), status in zip(todo, statuses, strict=True):
        rel = os.path.relpath(source, tree_abs).replace(os.sep, "/")
        if status not in ("cached", "compiled"):
            failed.append(rel)
            continue
        folder, name = os.path.split(rel)
        dest_rel = f"{folder}/__pycache__/{name[:-3]}.{tag}.pyc".lstrip("/")
        dest = os.path.join(tree_abs, dest_rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        try:
            os.link(pyc, dest)
        except OSError:
            shutil.copyfile(pyc, dest)
        added.append((dest_rel, os.path.getsize(dest)))
        shipped.append(rel)
    order = sorted(range(len(added)), key=lambda i: added[i][0])
    return BytecodeResult(
        mode=mode,
        requested=requested,
        python=interpreter_version(interpreter),
        files=tuple(added[i][0] for i in order),
        sources=tuple(shipped),
        bytes=sum(size for _, size in added),
        compiled=statuses.count("compiled"),
        failed=tuple(sorted(failed)),
    )


def placed_bytecode(
    tree: Path, check: CheckResult, python: str, interpreter: str
) -> BytecodeResult:
    """The ``imported`` set as the import check put it into the tree (``ship_bytecode``)."""
    if check.place_errors:
        raise LayerError(
            f"bytecode: could not write {len(check.place_errors)} pyc(s) with {interpreter}, "
            f"e.g. {check.place_errors[0]}; check free space, or set layer.bytecode: none"
        )
    placed = sorted(check.placed, key=lambda p: p[1])
    return BytecodeResult(
        mode="imported",
        requested="imported",
        python=interpreter_version(interpreter),
        files=tuple(pyc for _, pyc, _ in placed),
        sources=tuple(sorted(source for source, _, _ in placed)),
        bytes=sum(os.path.getsize(tree / pyc) for _, pyc, _ in placed),
        compiled=sum(now for _, _, now in placed),
    )


def layer_bytecode(
    settings: LayerSettings, stage: Path, check: CheckResult, mirror: Path, log: Log
) -> BytecodeResult:
    """The pycs of ``layer.bytecode`` into the build's tree, or the reason there are none."""
    mode = settings.bytecode
    if mode == "none":
        return skipped(mode, "")
    interpreter = find_interpreter(settings.python)
    if interpreter is None:
        reason = f"no python{settings.python} on this host to compile it"
        log(f"bytecode: skipped, {reason}; the layer ships no bytecode")
        return skipped(mode, reason)
    shipped = mode
    if mode == "imported" and check.shipped:
        result = placed_bytecode(stage, check, settings.python, interpreter)
        log(
            f"bytecode: imported: {len(result.files):,} checked-hash .pyc, {result.bytes:,} "
            f"bytes, {result.compiled:,} compiled now (the rest by an earlier build), put in "
            f"place by the import check, python {result.python}"
        )
        return result
    if mode == "all":
        sources = python_sources(stage)
    elif check.ran:
        sources = list(check.loaded)
    elif not settings.verify:
        reason = "layer.verify is false, and `imported` is what the import check loads"
        log(f"bytecode: skipped, {reason}; the layer ships no bytecode")
        return skipped(mode, reason)
    else:
        # Another CPU: nothing can be imported here, but bytecode does not depend on
        # the CPU, and compiling everything is the one set known without importing.
        log(
            f"bytecode: the import check did not run ({check.skipped_reason}): compiling every module"
        )
        sources, shipped = python_sources(stage), "all"
    start = time.perf_counter()
    result = add_bytecode(
        stage, interpreter, settings.python, sources, mirror,
        mode=shipped, requested=mode, workers=settings.effective_workers,
    )  # fmt: skip
    failed = f", {len(result.failed)} source(s) do not compile" if result.failed else ""
    log(
        f"bytecode: {shipped}: {len(result.files):,} checked-hash .pyc, {result.bytes:,} bytes, "
        f"{result.compiled:,} compiled now (the rest by the import check or an earlier "
        f"build){failed}, python {result.python} ({time.perf_counter() - start:.1f} s)"
    )
    return result


def prove_layer_bytecode(
    settings: LayerSettings, check: CheckResult, result: BytecodeResult, log: Log
) -> bool:
    """Whether the import check ``check``, which ran on the tree with ``result``'s pycs in
    place and expected them, proved them: a `LayerError` when any of them was compiled
    from source at import instead (a stale, misplaced or unreadable pyc)."""
    if not (result.files and check.ran and (check.shipped or result.mode == "all")):
        return False
    if check.from_source:
        shown = ", ".join(check.from_source[:3])
        more = f" (and {len(check.from_source) - 3} more)" if len(check.from_source) > 3 else ""
        raise LayerError(
            f"bytecode: {len(check.from_source)} module(s) of the compiled set were compiled "
            f"from source at import, their .pyc was not used: {shown}{more}; remove "
            f"{settings.state_dir / 'cache' / f'pycache-{PYC_FORMAT}'} and run "
            "`inv layer.build --force`"
        )
    compiled = set(result.sources)
    from_pyc = sum(rel in compiled for rel in check.loaded)
    log(
        f"bytecode proof: {from_pyc:,} modules imported from the layer's .pyc by the import "
        "check, none compiled at import"
    )
    return True
