"""The local half of the pipeline: install -> prune -> verify -> zip -> manifest.

Work happens under ``<state_dir>/build/<name>/``: the installer writes ``python/`` and
pruning edits it in place, moving what it removes to ``pruned/`` (links are moved or
replaced, never written through). Only when an import check fails is the tree as
installed put back together in ``unpruned/`` (hard links), to tell whether pruning
caused the failure. The zip and manifest are written to temporary files and renamed,
so a failed build never leaves a half zip at ``<dist_dir>/<name>.zip``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from layer_tasks import __version__
from layer_tasks.build.app_package import app_modules, check_duplicates
from layer_tasks.build.archive import build_epoch, code_sha256, deflate_backend, write_layer_zip
from layer_tasks.build.install import (
    IndexConfig,
    IndexLimits,
    Target,
    run_install,
    settings_index,
)
from layer_tasks.build.pycompile import PYC_FORMAT
from layer_tasks.build.pylock import (
    LockFile,
    check_dependencies_locked,
    check_installed,
    lock_for_build,
    lock_sha256,
    pinned_requirements,
)
from layer_tasks.build.requirements import RequirementSet, read_requirements, require_non_empty
from layer_tasks.build.sbom import ensure_sbom
from layer_tasks.build.verify import (
    CheckResult,
    check_tree,
    find_interpreter,
    interpreter_version,
    read_records,
    top_level_modules,
)
from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError
from layer_tasks.model.app import AppPackage
from layer_tasks.model.manifest import Manifest
from layer_tasks.util.fsutil import atomic_write_text, ensure_folder, remove_in_background

# What only a real build uses (pruning, the ELF check, bytecode, progress bars) is
# imported by `_build` and the functions it calls: a no-change build (`build_layer`
# reusing the zip) stops before them, and `inv layer.build` with nothing to do should
# start about as fast as Invoke itself (see bench/startup_bench.py).
if TYPE_CHECKING:
    from layer_tasks.build.bytecode import BytecodeResult

Log = Callable[[str], None]


@dataclass(frozen=True)
class BuildResult:
    zip_path: Path
    manifest_path: Path
    manifest: Manifest
    reused: bool


def _index_config(settings: LayerSettings) -> IndexConfig:
    return settings_index(settings.installer, settings.state_dir)


def build_key(
    settings: LayerSettings,
    reqs: RequirementSet,
    index: IndexConfig,
    lock_sha256: str = "",
    app: AppPackage | None = None,
) -> str:
    """A hash of every input that can change the zip's bytes (and of the verify setting).
    The app's imports join the check (and so the bytecode) where there are any."""
    inputs = {
        "tool": __version__,
        "requirements": reqs.sha256,
        "lock": lock_sha256,
        "python": settings.python,
        "architecture": settings.architecture,
        "installer": settings.installer,
        "index": index.as_key(),
        "prune": sorted(settings.prune.items()),
        "prune_custom": [asdict(rule) for rule in settings.prune_custom],
        "compression_level": settings.compression_level,
        # zlib-ng and zlib give different (equally valid) deflate bytes.
        "deflate": deflate_backend(),
        "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH", ""),
        "verify": settings.verify,
        # A build from before the static ELF check is not reused unchecked.
        "elf_check": 1,
        "pyc_format": PYC_FORMAT,
        "bytecode": settings.bytecode,
        # A new patch release of the target Python can marshal code differently.
        "bytecode_python": _bytecode_python(settings),
    }
    if app is not None and app.app.imports:
        inputs["app_imports"] = list(app.app.imports)
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def _bytecode_python(settings: LayerSettings) -> str:
    if settings.bytecode == "none":
        return ""
    interpreter = find_interpreter(settings.python)
    return interpreter_version(interpreter) if interpreter else ""


def prepare_dist_dir(dist_dir: Path) -> None:
    if dist_dir.exists() and not dist_dir.is_dir():
        raise LayerError(
            f"layer.dist_dir {dist_dir} is a file, not a folder: remove it or change dist_dir"
        )
    try:
        dist_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LayerError(f"cannot create layer.dist_dir {dist_dir}: {exc.strerror}") from None
    if not os.access(dist_dir, os.W_OK | os.X_OK):
        raise LayerError(
            f"layer.dist_dir {dist_dir} is not writable: fix its permissions or change dist_dir"
        )


def reusable_build(settings: LayerSettings, key: str) -> Manifest | None:
    """The existing build when it was made from the same inputs and its zip is intact."""
    if not (settings.manifest_path.is_file() and settings.zip_path.is_file()):
        return None
    try:
        manifest = Manifest.load(settings.manifest_path)
    except LayerError:
        return None
    if manifest.build_key != key or settings.zip_path.stat().st_size != manifest.zip_bytes:
        return None
    if code_sha256(settings.zip_path) != manifest.code_sha256:
        return None
    return manifest


def _timed(log: Log, label: str) -> Callable[[str], None]:
    start = time.perf_counter()

    def done(detail: str) -> None:
        log(f"{label}: {detail} ({time.perf_counter() - start:.1f} s)")

    return done


def _verify(
    settings: LayerSettings,
    unpruned: Callable[[], Path],
    stage: Path,
    modules: list[str],
    dist_names: list[str],
    rules_for: Callable[[str], list[str]],
    log: Log,
    expect: frozenset[str] = frozenset(),
) -> CheckResult:
    """The import check on ``stage``. With ``layer.bytecode: imported`` it also puts the
    pycs of what it imports into the tree and proves them (``ship_bytecode``); with
    ``expect`` (``all``: already in the tree) it proves those."""
    from layer_tasks.build.bytecode import DISPLAY_ROOT

    pycache = _pycache_mirror(settings)

    def check(tree: Path, names: list[str], dists: list[str], first: bool) -> CheckResult:
        ship = first and settings.bytecode == "imported"
        return check_tree(
            tree,
            settings.python,
            settings.architecture,
            names,
            dists,
            pycache_prefix=None if first and expect else pycache,
            display_root=DISPLAY_ROOT if ship else "",
            ship_bytecode=ship,
            expect_bytecode=expect if first else frozenset(),
        )

    after = check(stage, modules, dist_names, True)
    if not after.ran:
        log(
            f"verify: imports not run ({after.skipped_reason}); checked statically instead: "
            "the ELF files (`elf:` above)"
        )
        return after
    if not after.failures:
        return after
    # Something fails: was it already failing before pruning? Only the failing names are
    # checked again, on the unpruned tree.
    failing_modules = [k.split(" ", 1)[1] for k in after.failures if k.startswith("import ")]
    failing_dists = [k.split(" ", 1)[1] for k in after.failures if k.startswith("version ")]
    if "import (all)" in after.failures:
        failing_modules, failing_dists = modules, dist_names
    before = check(unpruned(), failing_modules, failing_dists, False)
    introduced = {k: v for k, v in after.failures.items() if k not in before.failures}
    already = {k: v for k, v in after.failures.items() if k in before.failures}
    if already:
        listed = "; ".join(
            f"{what.split(' ', 1)[1]} ({why})" for what, why in sorted(already.items())
        )
        log(
            f"warning: {len(already)} check(s) fail even without pruning (an optional dependency?): {listed}"
        )
    if introduced:
        what, why = sorted(introduced.items())[0]
        top = what.split(" ", 1)[1].split(".")[0]
        rules = rules_for(top) or ["(a rule removing files elsewhere)"]
        more = f" (and {len(introduced) - 1} more)" if len(introduced) > 1 else ""
        raise LayerError(
            f"pruning broke `{what}`{more}: {why}; rule(s) that removed files in {top}: "
            f"{', '.join(rules)}. Turn the rule off or add a keep pattern"
        )
    return after


def _pycache_mirror(settings: LayerSettings) -> Path:
    return settings.state_dir / "cache" / f"pycache-{PYC_FORMAT}"


def _check_and_compile(
    settings: LayerSettings,
    stage: Path,
    verify: Callable[[frozenset[str]], CheckResult],
    log: Log,
    added: Future[list[str]],
    scanned: threading.Event,
    stop: threading.Event,
) -> tuple[CheckResult, BytecodeResult, bool]:
    """Verify (``verify``: `_verify` with its arguments but ``expect``) and add the
    bytecode (handed to the zip through ``added``) in one import run that also proves it:
    ``imported`` is put in place by the check as it imports; ``all`` is compiled first
    and the check expects it. Nothing is written into the tree before the zip has listed
    it (``scanned``); ``stop`` means the zip failed or was interrupted: nothing runs."""
    from layer_tasks.build.bytecode import layer_bytecode, prove_layer_bytecode

    mirror = _pycache_mirror(settings)
    not_run = CheckResult(ran=False, skipped_reason="layer.verify is false")
    try:
        scanned.wait()
        if stop.is_set():
            raise LayerError("the build stopped before the import check")
        if settings.bytecode == "all" and settings.verify:
            bytecode = layer_bytecode(settings, stage, not_run, mirror, log)
            added.set_result(list(bytecode.files))
            check = verify(frozenset(bytecode.sources))
        else:
            check = verify(frozenset()) if settings.verify else not_run
            bytecode = layer_bytecode(settings, stage, check, mirror, log)
            added.set_result(list(bytecode.files))
    except BaseException as exc:
        if not added.done():
            added.set_exception(exc)
        raise
    return check, bytecode, prove_layer_bytecode(settings, check, bytecode, log)


def build_layer(
    settings: LayerSettings,
    *,
    force: bool = False,
    log: Log = print,
    app: AppPackage | None = None,
) -> BuildResult:
    """Build ``<dist_dir>/<name>.zip`` and its manifest, or reuse an unchanged build.

    With ``app`` (the Chalice app beside the layer, measured for this target): a
    distribution both install fails the build before the zip is written, and the app's
    imports that are modules of the layer are imported by the check too (their
    bytecode is the ``imported`` set's)."""
    reqs = read_requirements(settings.requirements)
    require_non_empty(reqs)
    build_epoch()  # a bad SOURCE_DATE_EPOCH is refused now, not once the zip is written
    for output in (settings.zip_path, settings.manifest_path):
        if output.is_dir() and not output.is_symlink():
            raise LayerError(f"{output} is a folder: the build writes a file there; remove it")
    ensure_folder(settings.state_dir, "layer.state_dir")
    index = _index_config(settings)
    lock_digest = lock_sha256(settings)
    key = build_key(settings, reqs, index, lock_digest, app)
    cached = None if force else reusable_build(settings, key)
    # Only a build reads the lock, and fails here, before any change, when it is stale.
    # Reuse needs no check of it: its bytes, the requirements and the target are all in
    # the key, so the build being reused was made from this very lock once it passed.
    locked = lock_for_build(settings, reqs) if cached is None else None
    prepare_dist_dir(settings.dist_dir)
    if cached is not None:
        check_duplicates(cached.distributions, app, settings)
        log(f"build: unchanged, reusing {settings.zip_path} (--force rebuilds)")
        ensure_sbom(settings, cached)
        return BuildResult(settings.zip_path, settings.manifest_path, cached, reused=True)
    if locked is not None and locked.sha256 != lock_digest:  # rewritten since it was hashed
        key = build_key(settings, reqs, index, locked.sha256, app)

    folders = _work_folders(settings)
    work = folders[0].parent
    # "install/" held a second, unpruned install in earlier versions: removed if left over.
    clearing = remove_in_background((*folders, work / "install"), work / ".trash")
    try:
        return _build(settings, reqs, index, key, log, locked, app)
    finally:
        clearing.join()


def _work_folders(settings: LayerSettings) -> tuple[Path, Path, Path]:
    """The tree being pruned and zipped, what pruning removed, the unpruned tree."""
    work = settings.state_dir / "build" / settings.name
    return work / "python", work / "pruned", work / "unpruned"


def _build(
    settings: LayerSettings,
    reqs: RequirementSet,
    index: IndexConfig,
    key: str,
    log: Log,
    locked: LockFile | None = None,
    app: AppPackage | None = None,
) -> BuildResult:
    from layer_tasks.build.elf_check import check_elf_tree
    from layer_tasks.build.footprint import distribution_name, distributions_footprint
    from layer_tasks.build.prune import (
        apply_prune,
        plan_prune,
        strip_shared_objects,
        strip_tool,
        unpruned_copy,
    )
    from layer_tasks.util.progress import byte_progress, spinner

    target = Target(settings.python, settings.architecture, settings.glibc)
    stage, aside, raw = _work_folders(settings)
    stage.mkdir(parents=True)

    def unpruned() -> Path:
        # Only when a check fails. The same tree the installer wrote, not a second
        # install: that would cost seconds and could resolve other versions.
        if not raw.exists():
            unpruned_copy(stage, aside, raw)
        return raw

    done = _timed(log, "install")
    source = settings.requirements
    if locked is not None:
        # Exactly the locked wheels, by URL and hash: nothing is resolved.
        source = stage.parent / "locked-requirements.txt"
        atomic_write_text(source, pinned_requirements(locked))
    with spinner(f"install ({settings.installer})"):
        installed = run_install(
            settings.installer,
            source,
            stage,
            target,
            index,
            limits=IndexLimits(settings.index_timeout, settings.index_retries),
            log=log,
            pinned=locked is not None,
        )
    if locked is not None:
        # Exactly the lock's set, and what that set depends on is locked too.
        check_installed(locked, installed.distributions)
        check_dependencies_locked(locked, reqs, stage, target)
    done(
        f"{len(installed.distributions)} distributions for {target.describe()} with {settings.installer}"
        + (f" from {locked.path.name}" if locked else "")
    )
    records = read_records(stage)
    modules = top_level_modules(stage, records)
    from_app = _app_imports(stage, records, modules, app, log)
    modules += from_app
    dist_names = [distribution_name(stage / info)[0] for info in sorted(records)]

    done = _timed(log, "prune")
    plan = plan_prune(stage, settings.prune, settings.prune_custom)
    installed_bytes = plan.scanned_bytes
    apply_prune(stage, plan, set_aside=aside)
    pruned = plan.bytes_by_rule()
    if settings.prune.get("strip_so") and plan.strip:
        tool = strip_tool(settings.architecture)
        if tool is None:
            log(
                f"warning: strip_so: no strip tool for {settings.architecture} on this host; skipped"
            )
        else:
            pruned["strip_so"] = strip_shared_objects(
                stage, plan.strip, tool, warn=lambda m: log(f"warning: {m}"), set_aside=aside
            )
    dists, unowned, unzipped = distributions_footprint(stage, records)
    done(
        f"{installed_bytes:,} bytes installed, {sum(pruned.values()):,} removed, {unzipped:,} left"
    )
    check_duplicates(dists, app, settings)  # before the zip: nothing changed yet

    elf = None
    if settings.verify:
        # Before the import check: a wrong-CPU or too-new-glibc file gets its own message
        # rather than an import error, and arm64 layers built here are checked at all.
        done = _timed(log, "elf")
        elf = check_elf_tree(stage, settings.architecture, settings.glibc)
        if elf.findings:
            raise LayerError(elf.error())
        done(elf.summary())

    # Verify (a subprocess, mostly one core) while the zip is written (the other cores):
    # the zip goes to a partial file and only becomes <name>.zip once verify passed. The
    # bytecode the check leaves is zipped last; the proof runs beside that.
    partial = settings.dist_dir / f".{settings.name}.zip.partial"
    added: Future[list[str]] = Future()
    scanned, stop = threading.Event(), threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        done_verify = _timed(log, "verify")
        run_check = functools.partial(
            _verify, settings, unpruned, stage, modules, dist_names, plan.rule_for, log
        )
        try:
            # Inside the try: Ctrl-C can land in submit() after the thread has started.
            verifying = pool.submit(
                _check_and_compile, settings, stage, run_check, log, added, scanned, stop
            )
            done = _timed(log, "zip")
            with byte_progress("zip", unzipped) as advance:
                archive = write_layer_zip(
                    stage,
                    partial,
                    level=settings.compression_level,
                    workers=settings.effective_workers,
                    progress=advance,
                    nice=10 if settings.verify or settings.bytecode != "none" else 0,
                    then=added.result,
                    listed=scanned.set,
                )
            done(f"{archive.entries:,} files, {archive.zip_bytes:,} bytes")
            check, bytecode, proven = verifying.result()
        except BaseException:
            stop.set()  # the check, waiting or not yet started, ends without running
            scanned.set()
            partial.unlink(missing_ok=True)
            raise
    if check.ran:
        ok = len(check.modules) - sum(k.startswith("import ") for k in check.failures)
        done_verify(
            f"{ok} of {len(check.modules)} modules import and {len(dist_names)} distributions "
            f"report their version in python{settings.python} ({check.interpreter})"
        )
    try:
        os.replace(partial, settings.zip_path)
    except OSError as exc:  # checked up front; this is the race after the check
        partial.unlink(missing_ok=True)
        raise LayerError(f"cannot write {settings.zip_path}: {exc.strerror or exc}") from None

    manifest = Manifest(
        name=settings.name,
        python=settings.python,
        architecture=settings.architecture,
        code_sha256=archive.code_sha256,
        zip_bytes=archive.zip_bytes,
        unzipped_bytes=archive.unzipped_bytes,
        files=archive.entries,
        requirements_sha256=reqs.sha256,
        distributions=tuple(dists),
        pruned=pruned,
        unowned_bytes=unowned,
        installed_bytes=installed_bytes,
        build_key=key,
        tool_version=__version__,
        installer=settings.installer,
        compression_level=settings.compression_level,
        verify={
            "checked": check.ran,
            "modules": len(check.modules),
            "distributions": len(check.distributions),
            "warnings": sorted(check.failures),
            "skipped_reason": check.skipped_reason,
            **({"app_modules": from_app} if from_app else {}),
        },
        elf=elf.as_manifest() if elf else {},
        lock={"file": locked.path.name, "sha256": locked.sha256} if locked else {},
        bytecode={**bytecode.for_manifest(), "proven": proven},
    )
    manifest.write(settings.manifest_path)
    ensure_sbom(settings, manifest)
    return BuildResult(settings.zip_path, settings.manifest_path, manifest, reused=False)


def current_manifest(settings: LayerSettings, app: AppPackage | None = None) -> Manifest | None:
    """The manifest of the current build, if its zip is still the one it describes
    (and was built with ``app``'s imports)."""
    try:
        reqs = read_requirements(settings.requirements)
    except LayerError:
        return None
    # A stale or broken lock gives a key no build was made with (see build_layer).
    index = _index_config(settings)
    key = build_key(settings, reqs, index, lock_sha256(settings), app)
    return reusable_build(settings, key)


def _app_imports(
    tree: Path,
    records: dict[str, list[str]],
    modules: list[str],
    app: AppPackage | None,
    log: Log,
) -> list[str]:
    """The app's imports that are modules of the layer and not already imported by the
    check (a top-level module), for the check to import too."""
    if app is None or not app.app.imports:
        return []
    found = app_modules(tree, records, app.app.imports)
    extra = [name for name in found if name not in modules]
    if found:
        log(
            f"app: {len(found)} of its imports are modules of the layer"
            + (f", the check also imports {', '.join(extra)}" if extra else "")
        )
    return extra
