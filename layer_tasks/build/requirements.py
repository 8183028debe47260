"""Requirement files: read (with ``-r``/``-c`` includes), validate, compare as sets.

The installer reads the file itself (uv and pip both understand includes, markers,
hashes and index options); this module exists so that a bad file fails before any
install with a line that names the file and line, so that the build cache can hash
everything the install depends on, and so that ``check-requirements`` compares parsed
requirements with ``packaging`` rather than text.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shlex
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from layer_tasks.errors import LayerError
from layer_tasks.util import redact
from layer_tasks.util.bounds import MAX_INCLUDE_DEPTH, read_at_most

# Options that take a value and may appear on their own line in a requirements file.
_VALUE_OPTIONS = {
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--trusted-host",
    "--only-binary",
    "--no-binary",
    "--prefer-binary",
    "-c",
    "--constraint",
    "-r",
    "--requirement",
    "--use-feature",
    "--config-settings",
    "--global-option",
}
_FLAG_OPTIONS = {"--no-index", "--pre", "--prefer-binary", "--require-hashes"}
# A URL, as pip tells one from a path for -r/-c (``https:``, ``file:``): a scheme and a
# slash. ``reqs:v2.txt`` stays a file name; ``https:/host/r.txt`` is a URL too.
_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:/", re.ASCII)


def is_url(value: str) -> bool:
    """Whether pip takes ``value`` for a URL rather than a path."""
    return bool(_URL_RE.match(value))


@dataclass(frozen=True)
class RequirementLine:
    source: Path
    lineno: int
    text: str
    requirement: Requirement

    @property
    def key(self) -> str:
        return canonicalize_name(self.requirement.name)


@dataclass
class RequirementSet:
    """Everything one requirements file pulls in, in order."""

    path: Path
    requirements: list[RequirementLine] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    # Every file read (the root, its -r includes and -c constraints) and its bytes,
    # so the build cache notices a change in an included file too.
    sources: dict[Path, bytes] = field(default_factory=dict)
    # The local --find-links places the files name (a folder or one file), as the
    # installer finds them: beside the file that names it, or where the install runs
    # (pip tries the first, then the second; both are listed). URLs are not.
    find_links: list[Path] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for path in sorted(self.sources, key=str):
            digest.update(str(path.name).encode() + b"\0" + self.sources[path] + b"\0")
        return digest.hexdigest()

    def by_name(self) -> dict[str, list[RequirementLine]]:
        grouped: dict[str, list[RequirementLine]] = {}
        for line in self.requirements:
            grouped.setdefault(line.key, []).append(line)
        return grouped


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """Join backslash continuations and drop comments, as pip does."""
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not buffer:
            start = number
        line = raw
        # A comment starts at '#' at the line start or after whitespace (URLs keep '#').
        if line.lstrip().startswith("#"):
            line = ""
        elif " #" in line or "\t#" in line:
            line = line[: min(i for i in (line.find(" #"), line.find("\t#")) if i >= 0)]
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        if buffer.strip():
            yield start, buffer.strip()
        buffer = ""
    if buffer.strip():
        yield start, buffer.strip()


def read_requirements(path: Path, *, _seen: frozenset[Path] = frozenset()) -> RequirementSet:
    """Parse ``path`` and its includes; raise `LayerError` with file and line on a bad one."""
    path = Path(path)
    result = RequirementSet(path=path)
    _read_into(result, path, _seen, constraint=False)
    return result


def _read_into(
    result: RequirementSet, path: Path, seen: frozenset[Path], *, constraint: bool
) -> None:
    resolved = path.resolve()
    if resolved in seen:
        raise LayerError(f"{path}: includes itself through -r/-c; remove the loop")
    if len(seen) >= MAX_INCLUDE_DEPTH:
        raise LayerError(
            f"{path}: -r/-c includes nest more than {MAX_INCLUDE_DEPTH} files deep; "
            "flatten them into fewer files"
        )
    try:
        data = _read_regular_file(path)
    except FileNotFoundError:
        raise LayerError(
            f"requirements file {path} not found: create it or set layer.requirements"
        ) from None
    except IsADirectoryError:
        raise LayerError(f"requirements path {path} is a folder, not a file") from None
    except PermissionError:
        raise LayerError(
            f"requirements file {path} is not readable: check its permissions"
        ) from None
    except OSError as exc:  # e.g. a socket (ENXIO), a dangling mount
        raise LayerError(
            f"cannot read requirements path {path}: {exc.strerror}; point "
            "layer.requirements (or the -r/-c line) at a regular file"
        ) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LayerError(f"{path} is not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
    result.sources[resolved] = data
    for lineno, line in _logical_lines(text):
        # Every URL the line holds may carry a password (``--index-url https://u:pw@host``,
        # ``name @ https://u:pw@host/``): registered before anything parses the line, so
        # that no error about it (shlex's included) can print the password. Found by
        # splitting on whitespace: a quote in a password is what stops shlex.
        redact.add_url(line)
        where = f"{path}:{lineno}"
        if line.startswith("-"):
            _read_option(result, path, where, line, seen | {resolved})
            continue
        if line.startswith(("http://", "https://", "file:", "git+", ".", "/")):
            raise LayerError(
                f"{where}: {line!r} is a bare URL or path; write it as 'name @ URL' so the "
                "layer's contents are known by name"
            )
        # Per-requirement options (--hash=...) follow the requirement itself.
        spec, _, _ = line.partition(" --")
        try:
            requirement = Requirement(spec.strip())
        except InvalidRequirement as exc:
            raise LayerError(f"{where}: invalid requirement {line!r}: {exc}") from None
        if not constraint:
            result.requirements.append(RequirementLine(path, lineno, line, requirement))


def _read_regular_file(path: Path) -> bytes:
    """The file's bytes; a FIFO, a device or a socket is refused before it is read.

    Opened without blocking (a FIFO with no writer would wait forever in open()), then
    checked on the open descriptor, so what is checked is what would be read.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(mode):
            raise LayerError(
                f"requirements path {path} is not a regular file (a FIFO, device or "
                "socket): point layer.requirements (or the -r/-c line) at a file"
            )
        return read_at_most(handle, path, "requirements file")


def _read_option(
    result: RequirementSet, path: Path, where: str, line: str, seen: frozenset[Path]
) -> None:
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise LayerError(f"{where}: cannot parse option line {line!r}: {exc}") from None
    name, _, inline_value = words[0].partition("=")
    value = inline_value or (words[1] if len(words) > 1 else "")
    if name in ("-r", "--requirement", "-c", "--constraint"):
        if not value:
            raise LayerError(f"{where}: {name} needs a file name")
        if _URL_RE.match(value):
            # pip would download it; read here as a path it became a file name holding
            # the URL's password. A remote file is not read: what the layer holds must
            # be known, and hashed for the build cache, before the install. (The value as
            # shlex unescaped it may differ from the line's word: registered as well.)
            redact.add_url(value)
            raise LayerError(
                f"{where}: {name} {redact.redact_url(value)} is a URL, and -r/-c files are "
                f"read from disk only: download it beside {path.name} and give its path"
            )
        included = (path.parent / value) if not Path(value).is_absolute() else Path(value)
        _read_into(result, included, seen, constraint=name in ("-c", "--constraint"))
        return
    if name in ("-e", "--editable"):
        raise LayerError(f"{where}: editable installs (-e) cannot go into a Lambda layer")
    if name not in _VALUE_OPTIONS and name not in _FLAG_OPTIONS:
        raise LayerError(f"{where}: unknown option {name!r} in a requirements file")
    if name in ("-i", "--index-url", "--extra-index-url", "-f", "--find-links"):
        redact.add_url(value)  # a private index's password must not reach any output
    if name in ("-f", "--find-links") and value and not is_url(value):
        link = Path(os.path.expanduser(value))
        result.find_links += [link] if link.is_absolute() else [path.parent / link, link.absolute()]
    result.options.append(line)


_GLOB_CHARS = frozenset("*?[")


def _inside(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def split_files(pattern: str, requirements: Path, project: Path, *, setting: str) -> list[Path]:
    """The split requirement files ``pattern`` names (relative to the requirements file's
    folder), never a file outside the project folder or that folder: a glob such as
    ``../../../**/*.txt`` would read, and quote in its errors, anyone's files.

    The part of the pattern before its first wildcard is checked before anything is
    listed; each match is checked where it leads (a symlink out is refused too).
    """
    roots = [project.resolve(), requirements.parent.resolve()]
    full = Path(pattern) if Path(pattern).is_absolute() else requirements.parent / pattern
    fixed: list[str] = []
    for part in full.parts:
        if _GLOB_CHARS & set(part):
            break
        fixed.append(part)
    start = Path(os.path.normpath(Path(*fixed))) if fixed else requirements.parent
    outside = (
        f"{setting} {pattern!r} reaches outside the project folder {project}: give a glob "
        "inside it, relative to the requirements file's folder (e.g. requirements-*.txt)"
    )
    if not _inside(start.resolve(), roots):
        raise LayerError(outside)
    found = []
    for name in sorted(glob.glob(str(full))):
        match = Path(name)
        if match.resolve() == requirements.resolve() or match.is_dir():
            continue
        if not _inside(match.resolve(), roots):
            raise LayerError(
                f"{setting} {pattern!r} matches {match}, which leads outside the project "
                f"folder {project} (a symlink?): remove the link or narrow the glob"
            )
        found.append(match)
    return found


def require_non_empty(reqs: RequirementSet) -> None:
    if not reqs.requirements:
        raise LayerError(f"{reqs.path} lists no requirements: add the layer's packages to it")


@dataclass(frozen=True)
class UnionProblem:
    kind: str  # "missing", "extra", "conflict"
    name: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.name} ({self.detail})"


def _describe(lines: list[RequirementLine]) -> str:
    return ", ".join(f"{line.requirement} [{line.source.name}:{line.lineno}]" for line in lines)


def _signature(req: Requirement) -> tuple[str, str, frozenset[str], str, str]:
    # Compare what pip would install, not spelling: canonical name, specifier set,
    # extras, URL and marker all parsed by packaging.
    return (
        canonicalize_name(req.name),
        str(req.specifier),
        frozenset(canonicalize_name(e) for e in req.extras),
        req.url or "",
        str(req.marker or ""),
    )


def compare_union(unified: RequirementSet, parts: list[RequirementSet]) -> list[UnionProblem]:
    """Problems that keep ``unified`` from being exactly the union of ``parts``."""
    problems: list[UnionProblem] = []
    union: dict[str, list[RequirementLine]] = {}
    for part in parts:
        for name, lines in part.by_name().items():
            union.setdefault(name, []).extend(lines)
    mine = unified.by_name()
    for name, lines in sorted(union.items()):
        signatures = {_signature(line.requirement) for line in lines}
        if len(signatures) > 1:
            problems.append(
                UnionProblem("conflict", name, f"split files disagree: {_describe(lines)}")
            )
            continue
        if name not in mine:
            problems.append(
                UnionProblem(
                    "missing", name, f"in {_describe(lines)} but not in {unified.path.name}"
                )
            )
            continue
        ours = {_signature(line.requirement) for line in mine[name]}
        if ours != signatures:
            problems.append(
                UnionProblem("conflict", name, f"{_describe(mine[name])} vs {_describe(lines)}")
            )
    for name, lines in sorted(mine.items()):
        if name not in union:
            problems.append(UnionProblem("extra", name, f"{_describe(lines)} is in no split file"))
    return problems
