"""Verify that a layer tree still imports, the way Lambda will load it.

The check runs in a fresh interpreter of the *target* Python (when this host has one
and the target's CPU is this host's): ``-I -S`` so neither the host's site-packages
nor its ``PYTHON*`` variables take part, and the tree is put on ``sys.path`` as a plain
entry, as Lambda does with ``/opt/python`` (so ``.pth`` files in it are not processed).
It imports every top-level module and asks ``importlib.metadata.version()`` of every
distribution, and reports failures as data; deciding what a failure means (pruning
broke it, or it was already broken) is the build's job.
"""

from __future__ import annotations

import csv
import functools
import glob
import json
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layer_tasks.build.pycompile import CANONICAL

_CHECK_SCRIPT = r"""
import importlib, importlib.metadata, json, os, sys
tree, modules, dists = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
prefix = sys.argv[4]
opts = json.loads(sys.stdin.read() or "{}")
inside = os.path.join(tree, "")
display = opts.get("display", "")  # the tree as Lambda will see it: /opt/python/
expect = set(opts.get("expect", ()))  # tree-relative sources that must load from .pyc
ship = bool(opts.get("ship")) and bool(prefix and display and sys.argv[5])
sys.path[:] = [p for p in sys.path if p]  # no '' (the cwd): only the tree and the stdlib
external = sys.modules.get("_frozen_importlib_external")
from_source = []
placed = {}  # tree-relative source -> [its pyc, tree-relative; compiled now (not cached)]
names = {}  # tree-relative source placed -> the module name it was imported as
place_errors = []
if external is not None and hasattr(external, "SourceLoader"):
    import _imp, marshal
    plain_to_code = external.SourceLoader.source_to_code
    if sys.argv[5]:
        exec(sys.argv[5])  # pycompile.CANONICAL: defines canonical_pyc

    def compiled_here(path, display_name, cached, data):
        try:
            pyc = canonical_pyc(data, display_name)
            os.makedirs(os.path.dirname(cached), exist_ok=True)
            external._write_atomic(cached, pyc, 0o644)
        except (SyntaxError, ValueError, OSError):
            return None  # compiled as usual; the bytecode step reports what it cannot write
        return marshal.loads(memoryview(pyc)[16:])

    def source_to_code(self, data, path, *, _optimize=-1):
        if not path.startswith(inside):
            return plain_to_code(self, data, path, _optimize=_optimize)
        rel = path[len(inside):]
        if rel in expect:
            from_source.append(rel)
        if ship or not (prefix and display) or _optimize != -1:
            return plain_to_code(self, data, path, _optimize=_optimize)
        # The learning run: the module must be compiled to be imported, and that is the
        # layer's bytecode too: compiled here in canonical form (the bytes then depend on
        # the source only, see pycompile) into the mirror, and loaded from those bytes.
        code = compiled_here(path, display + rel, external.cache_from_source(path), data)
        if code is None:  # not Python this version compiles: let compile() say why
            return plain_to_code(self, data, path, _optimize=_optimize)
        _imp._fix_co_filename(code, path)
        return code

    external.SourceLoader.source_to_code = source_to_code

if ship:
    # The pyc of each tree module goes into the tree's own __pycache__ just before the
    # interpreter's unchanged loader looks for it there (writing nothing itself: -B).
    # So this one run is the learning run (the set is what it imports) and the proof
    # (each of the set is loaded from its pyc, where Lambda's Python will look, or is
    # reported in from_source). The pyc comes from the mirror (prefix) when an earlier
    # build left a valid one there, else it is compiled into the mirror first.
    plain_get_code = external.SourceLoader.get_code
    plain_cache = external.cache_from_source
    pyc_header = external.MAGIC_NUMBER + b"\x03\x00\x00\x00"

    def place(path, rel):
        target = plain_cache(path)
        if os.path.lexists(target):
            return  # a wheel's own pyc, kept by the prune rules: never replaced
        mirror = os.path.join(prefix, os.path.dirname(path).lstrip(os.sep), os.path.basename(target))
        with open(path, "rb") as fh:
            data = fh.read()
        key = _imp.source_hash(external._RAW_MAGIC_NUMBER, data)
        compiled = False
        try:
            with open(mirror, "rb") as fh:
                cached = fh.read(16) == pyc_header + key
        except OSError:
            cached = False
        if not cached:
            try:
                pyc = canonical_pyc(data, display + rel)
            except (SyntaxError, ValueError):
                return  # not Python this version compiles: the import says why
            os.makedirs(os.path.dirname(mirror), exist_ok=True)
            external._write_atomic(mirror, pyc, 0o644)
            compiled = True
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            os.link(mirror, target)
        except OSError:  # another file system
            with open(mirror, "rb") as src, open(target, "wb") as dst:
                dst.write(src.read())
        placed[rel] = [target[len(inside):], compiled]
        expect.add(rel)

    def get_code(self, fullname):
        path = self.get_filename(fullname)
        if path.startswith(inside) and path.endswith(".py") and path[len(inside):] not in placed:
            names[path[len(inside):]] = fullname
            try:
                place(path, path[len(inside):])
            except OSError as exc:
                place_errors.append(path[len(inside):] + ": " + str(exc))
        return plain_get_code(self, fullname)

    external.SourceLoader.get_code = get_code
elif prefix:
    # The layer's bytecode goes to a mirror of its folders under prefix, never into the
    # layer; the interpreter's own stays in its __pycache__, compiled long ago.
    # (-X pycache_prefix would move both: ~1.4 s more to a first check, compiling the
    # standard library again.)
    if external is None or not hasattr(external, "cache_from_source"):
        sys.pycache_prefix = prefix
    else:
        plain = external.cache_from_source

        def cache_from_source(path, debug_override=None, *, optimization=None):
            cached = plain(path, debug_override, optimization=optimization)
            if not path.startswith(inside):
                return cached
            source_dir = os.path.dirname(os.path.dirname(cached))  # <dir>/__pycache__/x.pyc
            return os.path.join(prefix, source_dir.lstrip(os.sep), os.path.basename(cached))

        external.cache_from_source = cache_from_source
sys.path.insert(0, tree)
failures = {}
for name in modules:
    try:
        importlib.import_module(name)
    except BaseException as exc:  # SystemExit and friends count as failures too
        failures["import " + name] = (type(exc).__name__ + ": " + str(exc))[:300]
for dist in dists:
    try:
        if not importlib.metadata.version(dist):
            failures["version " + dist] = "metadata has no Version (METADATA missing?)"
    except BaseException as exc:
        failures["version " + dist] = (type(exc).__name__ + ": " + str(exc))[:300]
loaded = set()
for module in list(sys.modules.values()):
    spec = getattr(module, "__spec__", None)
    origin = getattr(spec, "origin", None)
    if isinstance(origin, str) and origin.startswith(inside) and origin.endswith(".py"):
        if getattr(spec, "cached", None):
            loaded.add(origin[len(inside):])
for rel, name in names.items():
    # A module that put another object in its place in sys.modules (cryptography's
    # deprecation proxies: a module without __spec__) was imported all the same.
    if rel in placed and sys.modules.get(name) is not None:
        loaded.add(rel)
for rel in [rel for rel in placed if rel not in loaded]:
    # Its import failed (it is not in sys.modules): not part of the imported set.
    os.unlink(os.path.join(tree, placed.pop(rel)[0]))
result = {"failures": failures, "loaded": sorted(loaded), "from_source": sorted(set(from_source)),
          "placed": sorted([rel, *placed[rel]] for rel in placed), "place_errors": place_errors}
sys.stdout.write("\n@@RESULT@@" + json.dumps(result))
"""

# Top-level folders that hold data or vendored libraries, never importable modules.
_NOT_MODULES = {"bin", "include", "share", "lib", "__pycache__"}


@dataclass(frozen=True)
class CheckResult:
    ran: bool
    modules: tuple[str, ...] = ()
    distributions: tuple[str, ...] = ()
    failures: dict[str, str] = field(default_factory=dict)
    skipped_reason: str = ""
    interpreter: str = ""
    # Tree-relative .py files the check imported (the ``imported`` bytecode set), and
    # those of ``expect_bytecode`` that were compiled from source at import.
    loaded: tuple[str, ...] = ()
    from_source: tuple[str, ...] = ()
    # With ``ship_bytecode``: (source, pyc, compiled now) of each pyc the check put into
    # the tree and imported from there, and the pycs it could not write.
    shipped: bool = False
    placed: tuple[tuple[str, str, bool], ...] = ()
    place_errors: tuple[str, ...] = ()


def _module_name(first_part: str) -> str | None:
    name = first_part
    if name.endswith(".py"):
        name = name[:-3]
    elif ".so" in name or name.endswith(".pyd"):
        name = name.split(".", 1)[0]
    elif "." in name:
        return None  # foo.libs, foo.dist-info, foo.data, foo.pth: not modules
    if not name.isidentifier() or name in _NOT_MODULES:
        return None
    return name


def top_level_modules(tree: Path, records: dict[str, list[str]] | None = None) -> list[str]:
    """Importable top-level names present in ``tree``.

    From each distribution's RECORD when given (what the installer put there), else from
    the tree itself: packages (with or without ``__init__``), modules and extensions.
    """
    names: set[str] = set()
    if records:
        for paths in records.values():
            for rel in paths:
                parts = rel.split("/")
                first = parts[0]
                if len(parts) == 1:
                    if first.endswith((".py", ".so", ".pyd")) or ".so." in first:
                        name = _module_name(first)
                        if name and (tree / first).exists():
                            names.add(name)
                    continue  # otherwise a top-level data file, not a module
                if not first.isidentifier() or first in _NOT_MODULES or not (tree / first).is_dir():
                    continue
                if (tree / first / "__init__.py").exists() or len(parts) == 2:
                    names.add(first)
                    continue
                # A namespace package (google/, no __init__): importing it alone checks
                # nothing, so import each package or module below it instead.
                second = parts[1] if len(parts) > 2 else _module_name(parts[1])
                if second and second.isidentifier() and second != "__pycache__":
                    names.add(f"{first}.{second}")
    else:
        for entry in sorted(tree.iterdir()):
            if entry.is_dir():
                if entry.name.isidentifier() and entry.name not in _NOT_MODULES:
                    names.add(entry.name)
            else:
                name = _module_name(entry.name)
                if name and entry.suffix in (".py", ".so", ".pyd"):
                    names.add(name)
    return sorted(names)


def read_records(tree: Path) -> dict[str, list[str]]:
    """dist-info folder name -> the files its RECORD lists, relative to ``tree``."""
    records: dict[str, list[str]] = {}
    for info in sorted(tree.glob("*.dist-info")):
        record = info / "RECORD"
        if not record.is_file():
            continue
        paths = []
        with open(record, newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                if not row or not row[0]:
                    continue
                rel = os.path.normpath(row[0]).replace(os.sep, "/")
                if rel.startswith("../") or rel.startswith("/"):
                    continue  # scripts installed outside the target folder
                paths.append(rel)
        records[info.name] = paths
    return records


@functools.lru_cache(maxsize=16)
def interpreter_version(interpreter: str) -> str:
    """``3.12.1`` ("" when it does not run): the patch release matters to bytecode,
    marshalled code can change between them. Every build asks, a no-change one too:
    ``sys.version``'s first word is what ``platform.python_version()`` says for CPython,
    and reading it skips importing ``platform``, half of what this process costs."""
    try:
        proc = subprocess.run(
            [interpreter, "-I", "-S", "-c", "import sys; print(sys.version.split()[0])"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _is_version(candidate: str, python: str) -> bool:
    return ".".join(interpreter_version(candidate).split(".")[:2]) == python


def find_interpreter(python: str) -> str | None:
    """A working interpreter of the target version here: PATH first, then pyenv's versions.

    Each candidate is run once, since a version may be listed without working. A pyenv
    shim is passed over: it is a shell script that runs pyenv to pick one of the
    versions looked at next, and costs ~0.3 s a start, or fails when that version is
    not selected. The answer is kept for the life of the process (a build asks twice).
    """
    roots = tuple(filter(None, (os.environ.get("PYENV_ROOT", ""), os.path.expanduser("~/.pyenv"))))
    return _find_interpreter(python, os.environ.get("PATH", ""), roots)


@functools.lru_cache(maxsize=16)
def _find_interpreter(python: str, path: str, pyenv_roots: tuple[str, ...]) -> str | None:
    candidates = []
    found = shutil.which(f"python{python}", path=path)
    shims = {os.path.realpath(os.path.join(root, "shims")) for root in pyenv_roots}
    if found and os.path.realpath(os.path.dirname(found)) not in shims:
        candidates.append(found)
    for root in pyenv_roots:
        candidates += sorted(
            glob.glob(os.path.join(root, "versions", f"{python}.*", "bin", "python"))
        )[::-1]
    for candidate in candidates:
        if _is_version(candidate, python):
            return candidate
    return None


def host_runs(architecture: str) -> bool:
    machine = platform.machine().lower()
    return {"x86_64": ("x86_64", "amd64"), "arm64": ("aarch64", "arm64")}[
        architecture
    ].__contains__(machine) and platform.system() == "Linux"


def _bytecode_args(
    pycache_prefix: Path | None, display_root: str
) -> tuple[list[str], dict[str, str], str]:
    """Importing must never write ``__pycache__`` into the layer being checked.

    With a prefix, the layer's bytecode goes to a mirror tree outside the layer and is
    reused by the next check: compiling the sources is most of an import check's time
    (google's generated protobuf modules alone take seconds). With a ``display_root``,
    what the check has to compile is compiled in its process in `pycompile.CANONICAL`
    form into the mirror as checked-hash pycs the layer can ship (see `bytecode`), and
    loaded from those bytes; the interpreter itself writes nothing (``-B``), and runs
    with ``PYTHONHASHSEED=0`` (set constants), so ``-s`` instead of ``-I``, which would
    ignore it (the environment is built from nothing either way). Without one, the
    interpreter writes its own pycs there. Returns the interpreter's flags, extra
    environment and the script's prefix argument.
    """
    if pycache_prefix is None:
        return ["-I", "-B"], {}, ""
    if display_root:
        return ["-s", "-B"], {"PYTHONHASHSEED": "0"}, os.path.abspath(pycache_prefix)
    return ["-I"], {}, os.path.abspath(pycache_prefix)


def check_tree(
    tree: Path,
    python: str,
    architecture: str,
    modules: list[str],
    distributions: list[str],
    *,
    timeout: float = 600,
    pycache_prefix: Path | None = None,
    display_root: str = "",
    expect_bytecode: frozenset[str] = frozenset(),
    ship_bytecode: bool = False,
) -> CheckResult:
    """Import ``modules`` and read ``distributions``' versions from ``tree`` in the target Python.

    With ``pycache_prefix``, compiled modules are cached there; with ``display_root``
    (e.g. ``/opt/python/``) too, each is compiled under that root as a checked-hash pyc
    whose bytes depend on the source only (see `pycompile`), for the layer to ship; with
    ``ship_bytecode`` too, each goes into the tree's own ``__pycache__`` just before the
    module is loaded from there by the interpreter's loader, so the run also proves it
    (``placed``). Every path in ``expect_bytecode`` (and of ``placed``) that is compiled
    from source at import is reported in ``from_source``.
    """
    if not host_runs(architecture):
        return CheckResult(
            ran=False,
            skipped_reason=f"this host ({platform.machine()}) cannot run {architecture} code",
        )
    interpreter = find_interpreter(python)
    if not interpreter:
        return CheckResult(ran=False, skipped_reason=f"no python{python} on this host")
    flags, extra_env, prefix_arg = _bytecode_args(pycache_prefix, display_root)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "LANG": "C.UTF-8",
        "HOME": os.environ.get("HOME", "/"),
        **extra_env,
    }
    ship = ship_bytecode and bool(display_root) and pycache_prefix is not None
    options = {"display": display_root, "expect": sorted(expect_bytecode), "ship": ship}
    try:
        proc = subprocess.run(
            [
                interpreter, "-S", *flags, "-c", _CHECK_SCRIPT,
                os.path.abspath(tree), json.dumps(modules), json.dumps(distributions), prefix_arg,
                CANONICAL if display_root and pycache_prefix is not None else "",
            ],
            input=json.dumps(options),  # stdin: the expected set can exceed one argv string
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=tree,
            check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return CheckResult(
            ran=True, modules=tuple(modules), distributions=tuple(distributions),
            failures={"import (all)": f"timed out after {timeout:.0f} s"}, interpreter=interpreter,
        )  # fmt: skip
    marker = proc.stdout.rfind("@@RESULT@@")
    if marker == -1:
        # The interpreter died (e.g. a segfault in an extension) before reporting.
        detail = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        report: dict[str, Any] = {
            "failures": {"import (all)": f"the check process died: {detail}"[:300]}
        }
    else:
        report = json.loads(proc.stdout[marker + len("@@RESULT@@") :])
    return CheckResult(
        ran=True,
        modules=tuple(modules),
        distributions=tuple(distributions),
        failures=report["failures"],
        interpreter=interpreter,
        loaded=tuple(report.get("loaded", ())),
        from_source=tuple(report.get("from_source", ())),
        shipped=ship and marker != -1,
        placed=tuple((src, pyc, bool(now)) for src, pyc, now in report.get("placed", ())),
        place_errors=tuple(report.get("place_errors", ())),
    )
