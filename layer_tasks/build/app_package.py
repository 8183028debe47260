"""The Chalice app next to the layer (found by `project.app`, handed in as plain data):
what its ``requirements.txt`` installs for the layer's target, the distributions both
would ship, and the app's imports that are modules of the layer.

Chalice installs ``requirements.txt`` into the function's own package, and Lambda counts
that package with every layer against one limit. So the app's requirements are
installed here once per target, as the layer's are (same installer, index and binary
wheels), and measured; the answer is kept in ``<state_dir>/app/`` under a key of
everything it depends on, so a no-change build or budget does not install again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterable
from dataclasses import asdict, replace
from pathlib import Path

from packaging.utils import canonicalize_name as canonical

from layer_tasks import __version__
from layer_tasks.build.footprint import distributions_footprint, naturalsize
from layer_tasks.build.install import IndexLimits, Target, run_install, settings_index
from layer_tasks.build.requirements import read_requirements
from layer_tasks.build.verify import read_records
from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError
from layer_tasks.model.app import App, AppPackage
from layer_tasks.model.manifest import Distribution
from layer_tasks.util.fsutil import atomic_write_text, ensure_folder

Log = Callable[[str], None]


def measure_app(settings: LayerSettings, app: App, *, log: Log = print) -> AppPackage:
    """The function's own package for this target: the app's code (already measured)
    and what its requirements.txt installs for ``settings``' Python and architecture."""
    if app.requirements is None:
        return AppPackage(app)
    reqs = read_requirements(app.requirements)
    if not reqs.requirements:
        return AppPackage(app)
    index = settings_index(settings.installer, settings.state_dir)
    key = hashlib.sha256(
        json.dumps(
            [__version__, reqs.sha256, settings.python, settings.architecture,
             settings.installer, index.as_key()]
        ).encode()
    ).hexdigest()[:32]  # fmt: skip
    folder = ensure_folder(settings.state_dir / "app", "layer.state_dir")
    cache = folder / f"{settings.architecture}-{key}.json"
    cached = _read_cache(cache)
    if cached is not None:
        return AppPackage(app, cached)
    tree = folder / f"install-{settings.architecture}"
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir()
    target = Target(settings.python, settings.architecture, settings.glibc)
    try:
        try:
            run_install(
                settings.installer, app.requirements, tree, target, index,
                limits=IndexLimits(settings.index_timeout, settings.index_retries), log=log,
            )  # fmt: skip
        except LayerError as exc:  # the installer's reason, said of the app's file
            message = exc.message.replace(
                "cannot install the layer for", f"cannot install the app's {app.requirements} for"
            ).replace("a layer takes binary wheels only", "the app is measured from binary wheels")
            raise LayerError(message) from None
        dists, _, _ = distributions_footprint(tree, read_records(tree))
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    # Only what the size and duplicate checks need; folders are the layer's business.
    dists = [replace(d, folders={}) for d in dists]
    atomic_write_text(cache, json.dumps([asdict(d) for d in dists], indent=1) + "\n")
    log(
        f"app: {app.requirements.name} installs {len(dists)} distribution(s) for "
        f"{target.describe()}, {sum(d.unzipped_bytes for d in dists):,} bytes"
    )
    return AppPackage(app, tuple(dists))


def _read_cache(path: Path) -> tuple[Distribution, ...] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return tuple(
            Distribution(
                name=str(d["name"]),
                version=str(d["version"]),
                unzipped_bytes=int(d["unzipped_bytes"]),
                files=int(d["files"]),
                top_level=tuple(d.get("top_level", ())),
            )
            for d in data
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def duplicates(
    layer: Iterable[Distribution], package: AppPackage, allowed: Iterable[str] = ()
) -> list[Distribution]:
    """The layer's distributions that the app's requirements.txt installs too, less the
    ``allowed`` names (canonical), largest first."""
    app_names = {canonical(d.name) for d in package.distributions}
    skip = {canonical(name) for name in allowed}
    both = [d for d in layer if canonical(d.name) in app_names - skip]
    return sorted(both, key=lambda d: (-d.unzipped_bytes, canonical(d.name)))


def check_duplicates(
    layer: Iterable[Distribution],
    package: AppPackage | None,
    settings: LayerSettings,
) -> None:
    """A `LayerError` naming each distribution both would install, with its bytes in
    the layer, unless ``layer.allow_duplicates`` names it."""
    if package is None or package.app.requirements is None:
        return
    both = duplicates(layer, package, settings.allow_duplicates)
    if not both:
        return
    listed = ", ".join(f"{d.name} ({naturalsize(d.unzipped_bytes)} in the layer)" for d in both)
    total = sum(d.unzipped_bytes for d in both)
    raise LayerError(
        f"the layer and the app's {package.app.requirements} both install {listed}: Chalice "
        f"puts requirements.txt into the function, so {naturalsize(total)} would ship twice. "
        f"Remove them from one of the two (the layer's is {settings.requirements.name}), or "
        "allow them by name in layer.allow_duplicates"
    )


def app_modules(tree: Path, records: dict[str, list[str]], imports: Iterable[str]) -> list[str]:
    """The app's imports (dotted names) that are modules or packages of the layer's
    distributions in ``tree``: ``x.y`` is kept when ``x`` is a RECORD's top level and
    ``x/y`` is a package folder, ``x/y.py`` or an extension module."""
    tops = {_module_name(rel.split("/", 1)[0]) for paths in records.values() for rel in paths}
    return sorted(name for name in imports if name.split(".")[0] in tops and _is_module(tree, name))


def _module_name(first: str) -> str:
    return first.split(".", 1)[0] if first.endswith((".py", ".so", ".pyd")) else first


def _is_module(tree: Path, name: str) -> bool:
    *packages, last = name.split(".")
    folder = tree.joinpath(*packages)
    if packages and not folder.is_dir():
        return False
    if (folder / last).is_dir() or (folder / f"{last}.py").is_file():
        return True
    return any(folder.glob(f"{last}.*.so")) or (folder / f"{last}.so").is_file()
