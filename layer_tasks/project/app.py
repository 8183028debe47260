"""Find the user's Chalice app and read it: its own package's size and what it imports.

The app is the folder that holds ``.chalice/config.json`` (``layer.chalice_config``) and
``app.py``: what ``chalice deploy`` and ``chalice package`` run in. Nothing here changes
a file, installs or imports anything: the imports are read statically (`ast`).
"""

from __future__ import annotations

import ast
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from layer_tasks.model.app import App

# The parts of the function's own package that come from the app folder, as Chalice's
# packager puts them in: app.py, chalicelib/ (a package) and vendor/ (copied to the root).
OWN_PARTS = ("app.py", "chalicelib", "vendor")
# Modules that are the app's own or Chalice's (its runtime goes into the function).
_OWN_MODULES = {"app", "chalicelib", "chalice", "__future__"}


def app_files(root: Path) -> list[tuple[Path, str, bool]]:
    """(path, what it is, whether a folder) of the app's own files in ``root`` that the
    tasks read, existing or not: the duplicates check reads ``requirements.txt``, the
    budget sizes every part, the bytecode follows the imports of app.py and chalicelib/."""
    parts = [(root / "requirements.txt", "the Chalice app's requirements.txt", False)]
    for part in OWN_PARTS:
        path = root / part
        if part.endswith(".py"):
            parts.append((path, f"the Chalice app's {part}", False))
        else:
            parts.append((path, f"the Chalice app's {part}/ ({path})", True))
    return parts


def app_root(chalice_config: Path) -> Path | None:
    """The folder holding ``.chalice/`` when ``chalice_config`` is ``<root>/.chalice/...``."""
    parent = chalice_config.parent
    return parent.parent if parent.name == ".chalice" else None


def find_app(chalice_config: Path) -> App | None:
    """The Chalice app that ``chalice_config`` belongs to, or None when there is none
    (no config, or no ``app.py`` beside ``.chalice/``): then nothing knows an app."""
    root = app_root(chalice_config)
    if root is None or not chalice_config.is_file() or not (root / "app.py").is_file():
        return None
    requirements = root / "requirements.txt"
    own = []
    for part in OWN_PARTS:
        path = root / part
        if path.is_file() or path.is_dir():
            label = part if path.is_file() else f"{part}/"
            own.append((label, sum(os.lstat(f).st_size for f in _package_files(path))))
    return App(
        root=root,
        requirements=requirements if requirements.is_file() else None,
        own=tuple(own),
        imports=tuple(static_imports(root)),
    )


def _package_files(path: Path) -> Iterator[Path]:
    """The files Chalice packages from ``path`` (no ``__pycache__``, no ``.pyc``)."""
    if path.is_file():
        yield path
        return
    for folder, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            if not name.endswith(".pyc"):
                yield Path(folder, name)


def _module_of(filename: str) -> str:
    return filename.split(".", 1)[0]


def _stdlib() -> set[str]:
    return set(sys.stdlib_module_names) | set(sys.builtin_module_names)


def static_imports(root: Path) -> list[str]:
    """Dotted names imported by ``app.py`` and ``chalicelib/``, anywhere in a file (an
    import inside a handler loads at its first call, still in the cold start's process).

    ``import x.y`` gives ``x.y``; ``from x.y import z`` gives ``x.y`` and ``x.y.z`` (``z``
    may be a module; the build keeps only names that are modules of the layer). Relative
    imports, the app's own modules, the vendor folder's and the standard library's are
    left out; a file that does not parse here (newer syntax?) is skipped.
    """
    vendored = {_module_of(p.name) for p in (root / "vendor").glob("*")}
    skip = _OWN_MODULES | vendored | _stdlib()
    found: set[str] = set()
    for path in _app_sources(root):
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names if a.name != "*")
    return sorted(name for name in found if name.split(".")[0] not in skip)


def _app_sources(root: Path) -> Iterator[Path]:
    if (root / "app.py").is_file():
        yield root / "app.py"
    lib = root / "chalicelib"
    if lib.is_dir():
        yield from (p for p in _package_files(lib) if p.suffix == ".py")
