"""A PEP 751 lock (``pylock.<name>-<arch>.toml``) so that every machine builds the same bytes.

``inv layer.lock`` resolves the requirements for the Lambda target with
``uv pip compile --format pylock.toml`` and appends a ``[tool.layer-tasks]`` table
saying what the lock was made from: the requirement lines (normalised by
``packaging``) and the target. A build then installs exactly the locked wheels, by
URL and with every sha256 checked, with no resolution, and refuses a lock that no
longer matches the requirements, naming the lines that differ.

The lock is read with ``packaging.pylock`` (the PyPA's PEP 751 reader), which also
picks each package's wheel for the target's tags and markers.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import canonicalize_name

from layer_tasks.build.install import (
    UV_ENV,
    IndexConfig,
    Target,
    failure_line,
    uv_binary,
    uv_python,
)
from layer_tasks.build.requirements import RequirementSet, read_requirements
from layer_tasks.config.platform import ARCHITECTURES, PYTHON_GLIBC
from layer_tasks.config.settings import LayerSettings
from layer_tasks.config.validate import shown
from layer_tasks.errors import LayerError
from layer_tasks.util import redact
from layer_tasks.util.bounds import MAX_TOML_DEPTH, check_nesting, check_toml_depth, read_bounded
from layer_tasks.util.fsutil import atomic_write_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# packaging.pylock and tomli_w are imported by the functions that read or write a lock:
# this module is loaded with the build pipeline, also where there is no lock to read,
# and a no-change build reads none (`lock_sha256`; see bench/startup_bench.py).
if TYPE_CHECKING:
    from packaging.markers import Environment
    from packaging.pylock import PackageWheel

TOOL = "layer-tasks"
# A PEP 508 distribution name, ASCII only (what --upgrade-package accepts).
_NAME_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?", re.ASCII)
# uv resolves over the network; its own HTTP timeout (UV_HTTP_TIMEOUT) applies to
# each request, this bounds the whole resolution.
_COMPILE_TIMEOUT_S = 900
_SHOWN_CHANGES = 8  # in the lock task's one-line summary


@dataclass(frozen=True)
class LockedPackage:
    """One locked wheel: what the build installs, and what an SBOM can cite."""

    name: str  # canonical
    version: str
    url: str
    sha256: str

    @property
    def filename(self) -> str:
        return unquote(urlsplit(self.url).path.rsplit("/", 1)[-1])


@dataclass(frozen=True)
class LockFile:
    path: Path
    packages: tuple[LockedPackage, ...]
    # What it was made from ([tool.layer-tasks]); empty when the table is missing.
    requirements: tuple[str, ...]
    python: str
    architecture: str
    platform: str
    sha256: str  # of the file's bytes: the build key's share of the lock
    made_by_us: bool


def lock_path(settings: LayerSettings) -> Path:
    """``pylock.<layer name>-<architecture>.toml`` beside the requirements file.

    PEP 751 allows ``pylock.<name>.toml`` with a dot-free name. The layer name keeps
    two layers built from one folder apart, the architecture keeps the x86_64 and
    arm64 locks of one layer apart (their wheels differ); the Python version is one
    per layer and is recorded inside, so a change of it shows as a stale lock.
    """
    return (
        settings.requirements.parent
        / f"pylock.{settings.family or settings.name}-{settings.architecture}.toml"
    )


def lock_exists(path: Path) -> bool:
    """Whether there is a lock at ``path``: False when nothing is there. Anything there
    that is not a regular file (a folder, a FIFO, a dangling symlink) is a `LayerError`:
    taken for "no lock", it would build without the lock and skip its proof that every
    requirement is locked."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if not path.is_symlink():
            return False
        raise LayerError(
            f"lock file {path} is a symlink to nothing: remove it, or point it at the lock"
        ) from None
    except OSError as exc:
        raise LayerError(f"cannot read lock file {path}: {exc.strerror}") from None
    if stat.S_ISREG(mode):
        return True
    kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, device or socket)"
    raise LayerError(
        f"lock file {path} is {kind}: remove it and run `inv layer.lock` to write the lock"
    )


def lock_sha256(settings: LayerSettings) -> str:
    """sha256 (hex) of the layer's lock file, "" without one: what a build key holds of
    the lock. Nothing is parsed, so a no-change build never loads packaging.pylock."""
    path = lock_path(settings)
    try:
        if not lock_exists(path):
            return ""
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()
    except (OSError, LayerError):
        return "unreadable"  # no build has this key: `lock_for_build` then says why


def normalized_requirements(reqs: RequirementSet) -> tuple[str, ...]:
    """The requirement lines as packaging reads them (spelling, spaces and order do not count)."""
    lines = {_normalize(line.requirement) for line in reqs.requirements}
    return tuple(sorted(lines))


def _normalize(req: Requirement) -> str:
    copy = Requirement(str(req))
    copy.name = canonicalize_name(copy.name)
    if copy.url:
        # The lock records what it was made from without credentials (it is committed).
        copy.url = redact.for_storage(copy.url)
    return str(copy)


def target_environment(target: Target) -> Environment:
    """PEP 508 marker values of the Lambda runtime (CPython on Amazon Linux)."""
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{target.python}.0",
        "os_name": "posix",
        "platform_machine": target.cpu,
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": f"{target.python}.0",
        "platform_python_implementation": "CPython",
        "python_version": target.python,
        "sys_platform": "linux",
    }


def target_tags(target: Target) -> list[Tag]:
    """The wheel tags the target accepts, most specific first."""
    version = tuple(int(part) for part in target.python.split("."))
    platforms = target.pip_platforms()
    return [
        *cpython_tags(version, abis=[target.abi, "abi3", "none"], platforms=platforms),
        *compatible_tags(version, interpreter=target.abi, platforms=platforms),
    ]


def _read_toml(path: Path) -> tuple[bytes, dict[str, Any]]:
    """The lock's bytes and its TOML, within the bounds of every text file the tool reads
    (docs/security.md): its size, and its nesting, which `tomllib` and every reader of
    the parsed data recurse into."""
    if not lock_exists(path):
        raise LayerError(f"lock file {path} not found: run `inv layer.lock`")
    try:
        data = read_bounded(path, "lock file")
    except OSError as exc:
        raise LayerError(f"cannot read lock file {path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
        check_toml_depth(text, f"lock file {path.name}")
        parsed = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LayerError(
            f"{path.name} is not valid TOML ({exc}): run `inv layer.lock` to write it again"
        ) from None
    except RecursionError:
        # Tables nested by name (a header, a dotted key) are counted after parsing, but
        # tomli (Python 3.10) recurses on them first: the same line either way.
        raise LayerError(
            f"lock file {path.name} nests arrays or tables more than {MAX_TOML_DEPTH} levels "
            "deep; no real one does: check the file"
        ) from None
    check_nesting(parsed, f"lock file {path.name}")
    return data, parsed


def _strings(value: Any) -> Iterator[str]:
    """Every string in parsed TOML, at any depth."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _refuse_credentials(path: Path, data: Mapping[str, Any]) -> None:
    """A lock holds no credentials: it is committed, and what it names reaches the SBOM,
    the state folder and S3. Refused, not cleaned: a cleaned URL would fail later, at
    the index, with a message far from here."""
    for text in _strings(data):
        if redact.has_userinfo(text):
            raise LayerError(
                f"{path.name} holds credentials in a URL ({redact.redact(text)}): a lock is "
                "shared (git, the SBOM, S3) and must not; give the index's credentials to "
                "pip's configuration, UV_INDEX_URL or ~/.netrc instead, and run "
                "`inv layer.lock` (it writes URLs without them)"
            )


def _wheel_url(path: Path, wheel: PackageWheel) -> str:
    if wheel.url:
        return wheel.url
    # PEP 751: a path is relative to the lock file's folder.
    return (path.parent / (wheel.path or "")).resolve().as_uri()


def _recorded_target(meta: Mapping[str, Any]) -> Target | None:
    python, architecture = str(meta.get("python", "")), str(meta.get("architecture", ""))
    if python not in PYTHON_GLIBC or architecture not in ARCHITECTURES:
        return None
    return Target(python, architecture, PYTHON_GLIBC[python])


def load_lock(path: Path, target: Target | None = None) -> LockFile:
    """Read and validate ``path`` and pick each package's wheel for ``target`` (by default
    the target the lock records; a lock from elsewhere without one gives its first wheel)."""
    from packaging.pylock import (
        Package,
        PackageWheel,
        Pylock,
        PylockSelectError,
        PylockValidationError,
    )

    raw, data = _read_toml(path)
    _refuse_credentials(path, data)
    try:
        pylock = Pylock.from_dict(data)
    except PylockValidationError as exc:
        raise LayerError(
            f"{path.name} is not a valid PEP 751 lock ({exc}): run `inv layer.lock`"
        ) from None
    tool = (pylock.tool or {}).get(TOOL)
    meta: Mapping[str, Any] = tool if isinstance(tool, Mapping) else {}
    if target is None:
        target = _recorded_target(meta)
    packages = []
    chosen: list[tuple[Package, object]]
    if target is None:
        chosen = [
            (package, package.wheels[0] if package.wheels else None) for package in pylock.packages
        ]
    else:
        try:
            chosen = list(
                pylock.select(environment=target_environment(target), tags=target_tags(target))
            )
        except PylockSelectError as exc:
            raise LayerError(
                f"{path.name} has nothing to install for {target.describe()} ({exc}): "
                "run `inv layer.lock`"
            ) from None
    for package, dist in chosen:
        if not isinstance(dist, PackageWheel):
            raise LayerError(
                f"{path.name} locks {package.name} as a source, not a wheel; a layer takes "
                "binary wheels only: pin a version that has a wheel, then `inv layer.lock`"
            )
        sha256 = dist.hashes.get("sha256")
        if sha256 is None:
            raise LayerError(
                f"{path.name} has no sha256 for {dist.filename}: run `inv layer.lock` "
                "(it writes every wheel's hash)"
            )
        # Hex digits in either case are the same digest (PEP 751 does not fix the case;
        # installers compare it lower-cased): kept in one spelling.
        if not (isinstance(sha256, str) and re.fullmatch(r"[0-9a-fA-F]{64}", sha256, re.ASCII)):
            raise LayerError(
                f"{path.name} has a sha256 for {dist.filename} that is not 64 hex digits "
                f"({shown(sha256)}): run `inv layer.lock` (it writes every wheel's hash)"
            )
        sha256 = sha256.lower()
        packages.append(
            LockedPackage(
                name=package.name,
                version=str(package.version or ""),
                url=_wheel_url(path, dist),
                sha256=sha256,
            )
        )
    return LockFile(
        path=path,
        packages=tuple(packages),
        requirements=tuple(str(r) for r in meta.get("requirements", ())),
        python=str(meta.get("python", "")),
        architecture=str(meta.get("architecture", "")),
        platform=str(meta.get("platform", "")),
        sha256=hashlib.sha256(raw).hexdigest(),
        made_by_us=bool(meta),
    )


def read_lock(path: Path) -> list[LockedPackage]:
    """The wheel a build installs for each locked package (name, version, URL, sha256),
    e.g. for an SBOM."""
    return list(load_lock(Path(path)).packages)


def _by_name(lines: Iterable[str]) -> dict[str, set[str]]:
    grouped: dict[str, set[str]] = {}
    for line in lines:
        grouped.setdefault(canonicalize_name(Requirement(line).name), set()).add(line)
    return grouped


def stale_reason(lock: LockFile, reqs: RequirementSet, target: Target) -> str | None:
    """Why ``lock`` does not fit these requirements and target, or None when it does."""
    name = lock.path.name
    fix = f"run `inv layer.lock` to update {name}"
    if not lock.made_by_us:
        return f"{name} was not made by `inv layer.lock` (it has no [tool.{TOOL}] table): {fix}"
    made_for = f"python{lock.python} {lock.architecture} ({lock.platform})"
    wanted = f"python{target.python} {target.architecture} ({target.uv_platform()})"
    if made_for != wanted:
        return f"{name} was made for {made_for}, this build is for {wanted}: {fix}"
    old, new = _by_name(lock.requirements), _by_name(normalized_requirements(reqs))
    changes = []
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key, set()), new.get(key, set())
        if before == after:
            continue
        if not before:
            changes.append(f"added {', '.join(sorted(after))}")
        elif not after:
            changes.append(f"removed {', '.join(sorted(before))}")
        else:
            changes.append(f"changed {', '.join(sorted(before))} -> {', '.join(sorted(after))}")
    if not changes:
        return None
    return f"{name} is stale: {reqs.path.name} {'; '.join(changes)} since the lock was made: {fix}"


_SHOWN_GAPS = 3  # in the one line that says what the lock does not cover


def _gaps_line(lock: LockFile, gaps: list[str]) -> str:
    more = len(gaps) - _SHOWN_GAPS
    listed = "; ".join(gaps[:_SHOWN_GAPS]) + (f"; and {more} more" if more > 0 else "")
    return f"{lock.path.name} does not cover the layer: {listed}: run `inv layer.lock`"


def _applies(req: Requirement, target: Target, extras: Iterable[str] = ()) -> bool:
    """Whether ``req`` applies on the target, for the distribution's asked ``extras``."""
    if req.marker is None:
        return True
    base = {str(k): str(v) for k, v in target_environment(target).items()}
    return any(req.marker.evaluate({**base, "extra": extra}) for extra in ("", *extras))


def _locked_as(lock: LockFile, req: Requirement) -> str | None:
    """Why no locked package satisfies ``req``, or None when one does."""
    versions = {p.name: p.version for p in lock.packages}
    name = canonicalize_name(req.name)
    if name not in versions:
        return "which it does not lock"
    if req.url is None and not req.specifier.contains(versions[name], prereleases=True):
        return f"which it locks at {versions[name]}"
    return None


def uncovered_requirements(lock: LockFile, reqs: RequirementSet, target: Target) -> list[str]:
    """Each requirement that applies to the target (its markers evaluated there) and that
    no locked package satisfies: the lock's own record of the requirement lines can be
    intact while a package's block was deleted from it."""
    gaps = []
    for line in reqs.requirements:
        req = line.requirement
        if not _applies(req, target):
            continue
        why = _locked_as(lock, req)
        if why:
            gaps.append(f"{line.source.name}:{line.lineno} asks for {req}, {why}")
    return gaps


def _requires(tree: Path) -> dict[str, tuple[str, list[Requirement]]]:
    """canonical name -> (version, Requires-Dist) of every distribution in ``tree``."""
    found: dict[str, tuple[str, list[Requirement]]] = {}
    for info in sorted(tree.glob("*.dist-info")):
        metadata = info / "METADATA"
        try:
            with open(metadata, encoding="utf-8", errors="replace") as fh:
                headers = HeaderParser().parse(fh, headersonly=True)
        except OSError:
            continue
        requires = []
        for text in headers.get_all("Requires-Dist") or ():
            try:
                requires.append(Requirement(text))
            except InvalidRequirement:
                continue  # the installer accepted it; not ours to judge
        stem = info.name[: -len(".dist-info")]
        name = headers.get("Name") or stem.partition("-")[0]
        found[canonicalize_name(name)] = (str(headers.get("Version", "")), requires)
    return found


def unlocked_dependencies(
    lock: LockFile, reqs: RequirementSet, tree: Path, target: Target
) -> list[str]:
    """Each dependency that an installed (locked) distribution declares for the target,
    with the extras asked of it, and that no locked package satisfies. The install runs
    with ``--no-deps`` (exactly the lock), so nothing else would notice it missing."""
    installed = _requires(tree)
    extras: dict[str, set[str]] = {}
    for line in reqs.requirements:
        extras.setdefault(line.key, set()).update(line.requirement.extras)
    gaps: list[str] = []
    queue = sorted(installed)
    seen: dict[str, frozenset[str]] = {}
    while queue:
        name = queue.pop()
        wanted = frozenset(extras.get(name, set()))
        if name not in installed or seen.get(name) == wanted:
            continue
        seen[name] = wanted
        version, requires = installed[name]
        for req in requires:
            if not _applies(req, target, wanted):
                continue
            why = _locked_as(lock, req)
            gap = f"{name} {version} requires {req}, {why}"
            if why and gap not in gaps:
                gaps.append(gap)
            dep = canonicalize_name(req.name)
            if req.extras - extras.get(dep, set()):
                extras.setdefault(dep, set()).update(req.extras)
                queue.append(dep)
    return sorted(gaps)


def check_dependencies_locked(
    lock: LockFile, reqs: RequirementSet, tree: Path, target: Target
) -> None:
    """After the install: every dependency of what was installed is locked too."""
    gaps = unlocked_dependencies(lock, reqs, tree, target)
    if gaps:
        raise LayerError(_gaps_line(lock, gaps))


def lock_for_build(settings: LayerSettings, reqs: RequirementSet) -> LockFile | None:
    """The lock a build must install, None without one; `LayerError` when it is stale or
    does not cover every requirement that applies to the target."""
    path = lock_path(settings)
    if not lock_exists(path):
        return None
    target = Target(settings.python, settings.architecture, settings.glibc)
    lock = load_lock(path, target)
    reason = stale_reason(lock, reqs, target)
    if reason:
        raise LayerError(reason)
    gaps = uncovered_requirements(lock, reqs, target)
    if gaps:
        raise LayerError(_gaps_line(lock, gaps))
    return lock


def lock_problem(settings: LayerSettings, reqs: RequirementSet) -> str | None:
    """Why the layer's lock cannot be built from (stale, unreadable), or None (fine or absent)."""
    try:
        lock_for_build(settings, reqs)
    except LayerError as exc:
        return exc.message
    return None


def pinned_requirements(lock: LockFile) -> str:
    """A requirements file for uv or pip: each wheel by URL with its sha256, nothing else."""
    return "".join(
        f"{package.name} @ {package.url} --hash=sha256:{package.sha256}\n"
        for package in lock.packages
    )


def check_installed(lock: LockFile, installed: Mapping[str, str]) -> None:
    """The installer put exactly the locked distributions into the tree."""
    wanted = {package.name: package.version for package in lock.packages}
    got = {str(canonicalize_name(name)): version for name, version in installed.items()}
    if got != wanted:
        extra = sorted(f"{n} {v}" for n, v in got.items() if wanted.get(n) != v)
        missing = sorted(f"{n} {v}" for n, v in wanted.items() if got.get(n) != v)
        raise LayerError(
            f"the install from {lock.path.name} does not match it (installed but not "
            f"locked: {', '.join(extra) or 'none'}; locked but not installed: "
            f"{', '.join(missing) or 'none'}): run `inv layer.lock`"
        )


def unpinned_warning(settings: LayerSettings) -> str | None:
    """One line for deploy when no lock pins the layer's dependencies."""
    path = lock_path(settings)
    if os.path.lexists(path):
        return None  # a lock, or something in its place that the build refuses
    return (
        f"warning: no lock file ({path.name}): dependencies that "
        f"{settings.requirements.name} does not pin can change between builds; "
        "`inv layer.lock` pins every wheel"
    )


@dataclass(frozen=True)
class LockResult:
    path: Path
    packages: tuple[LockedPackage, ...]
    changes: tuple[str, ...]  # "beta 2.0 -> 2.1", "added x 1.0", "removed y 1.0"
    new: bool = False  # there was no (readable) lock before

    def portability_warning(self) -> str | None:
        """Wheels that only this machine has (a find-links folder or a file:// index)."""
        local = [p.filename for p in self.packages if p.url.startswith("file:")]
        if not local:
            return None
        return (
            f"warning: {len(local)} of the {len(self.packages)} locked wheels are local files "
            f"({', '.join(local[:3])}{', …' if len(local) > 3 else ''}): a build from this lock "
            "works only where those files are; check pip's find-links/index settings"
        )

    def summary(self, target: Target) -> str:
        if self.new:
            what = "new lock"
        elif not self.changes:
            what = "no version changed"
        else:
            shown = "; ".join(self.changes[:_SHOWN_CHANGES])
            more = len(self.changes) - _SHOWN_CHANGES
            what = shown + (f"; and {more} more" if more > 0 else "")
        return (
            f"{self.path.name}: {len(self.packages)} wheels for {target.describe()}, "
            f"each with its URL and sha256 ({what})"
        )


def _version_changes(old: Iterable[LockedPackage], new: Iterable[LockedPackage]) -> tuple[str, ...]:
    before = {p.name: p for p in old}
    after = {p.name: p for p in new}
    changes = []
    for name in sorted(before.keys() | after.keys()):
        if name not in before:
            changes.append(f"added {name} {after[name].version}")
        elif name not in after:
            changes.append(f"removed {name} {before[name].version}")
        elif before[name].version != after[name].version:
            changes.append(f"{name} {before[name].version} -> {after[name].version}")
        elif before[name].sha256 != after[name].sha256:
            changes.append(f"{name} {after[name].version}: another file ({after[name].filename})")
    return tuple(changes)


def compile_command(
    requirements: Path,
    output: Path,
    target: Target,
    index: IndexConfig,
    *,
    upgrade: bool = False,
    upgrade_packages: Iterable[str] = (),
) -> list[str]:
    command = [
        uv_binary(), "pip", "compile",
        "--quiet",
        "--format", "pylock.toml",
        "--python-platform", target.uv_platform(),
        "--python-version", target.python,
        "--only-binary", ":all:",
        "--generate-hashes",
        # Resolving for another platform needs no interpreter of the target's version:
        # never spend seconds trying to download one.
        "--no-python-downloads",
        # Without it uv looks for a python of the target's version and fails where
        # there is none: any interpreter describes "an environment" here.
        *uv_python(),
        "--custom-compile-command", "inv layer.lock",
        *index.uv_args(),
    ]  # fmt: skip
    if upgrade:
        command.append("--upgrade")
    for name in upgrade_packages:
        command += ["--upgrade-package", name]
    return [*command, "--output-file", str(output), str(requirements)]


def write_lock(
    settings: LayerSettings,
    index: IndexConfig,
    *,
    upgrade: bool = False,
    upgrade_packages: Iterable[str] = (),
) -> LockResult:
    """Resolve the requirements for the target and write the lock (atomically).

    Without ``upgrade`` uv keeps the versions of the existing lock that still satisfy
    the requirements, so a re-lock after a one-line change moves only what it must.
    """
    reqs = read_requirements(settings.requirements)
    target = Target(settings.python, settings.architecture, settings.glibc)
    path = lock_path(settings)
    exists = lock_exists(path)  # a folder in its place is not replaced: said first
    try:
        previous = load_lock(path) if exists else None
    except LayerError:
        previous = None  # a broken lock is replaced, not read
    # A lock for another target (a changed python) shares few files with the new one:
    # it is reported as new, not as a list of every wheel that changed.
    same_target = previous is not None and (previous.python, previous.architecture) == (
        target.python,
        target.architecture,
    )
    old = previous.packages if previous is not None else ()
    names = [str(n) for n in upgrade_packages]
    for name in names:
        if not _NAME_RE.fullmatch(name):
            raise LayerError(f"--upgrade-package {name!r} is not a distribution name")
        known = {p.name for p in old} | {line.key for line in reqs.requirements}
        if old and canonicalize_name(name) not in known:
            raise LayerError(
                f"--upgrade-package {name}: neither {path.name} nor "
                f"{settings.requirements.name} has such a package"
            )
    # uv writes to a file named like the lock (it insists on pylock names) in a private
    # folder of the state folder (so a killed run leaves nothing in the project),
    # starting from a copy of the current lock so that its pins are kept; the real file
    # is replaced only once the new one is complete.
    try:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LayerError(
            f"cannot create layer.state_dir {settings.state_dir}: {exc.strerror}"
        ) from None
    with tempfile.TemporaryDirectory(prefix="pylock-", dir=settings.state_dir) as tmp:
        scratch = Path(tmp) / path.name
        if old:
            scratch.write_bytes(path.read_bytes())
        command = compile_command(
            settings.requirements,
            scratch,
            target,
            index,
            upgrade=upgrade,
            upgrade_packages=names,
        )
        try:
            proc = subprocess.run(
                command,
                capture_output=True,
                text=True,
                env={**os.environ, **UV_ENV},
                stdin=subprocess.DEVNULL,
                timeout=_COMPILE_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise LayerError(
                f"uv pip compile took more than {_COMPILE_TIMEOUT_S} s: check the network "
                "and the index settings, then run `inv layer.lock` again"
            ) from None
        except OSError as exc:
            raise LayerError(f"cannot run uv: {exc}") from None
        if proc.returncode != 0:
            reason = failure_line(proc.stdout + proc.stderr, target)
            raise LayerError(reason.replace("cannot install", "cannot lock", 1))
        provenance = {
            "tool": {
                TOOL: {
                    "requirements-file": settings.requirements.name,
                    "requirements": list(normalized_requirements(reqs)),
                    "python": target.python,
                    "architecture": target.architecture,
                    "platform": target.uv_platform(),
                }
            }
        }
        # uv copies a requirement's wheel URL as given, password and all: the lock is
        # committed and its URLs go into the SBOM, so it keeps none (credentials come from
        # netrc, a keyring or the index configuration, as for any index).
        text = redact.for_storage(scratch.read_text(encoding="utf-8")).rstrip("\n") + "\n\n"
        text += (
            "# What this lock was made from: `inv layer.build` refuses it once the\n"
            "# requirements or the target no longer match.\n"
        )
        import tomli_w  # only here: writing a lock is the one use

        text += tomli_w.dumps(provenance)
        scratch.write_text(text, encoding="utf-8")
        new = load_lock(scratch, target)
        atomic_write_text(path, text)
    return LockResult(path, new.packages, _version_changes(old, new.packages), new=not same_target)
