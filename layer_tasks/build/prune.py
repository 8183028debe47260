"""Prune what a layer does not need, as a plan first, then applied.

Each rule is a named group of globs over the tree's relative POSIX paths. `plan_prune`
walks the tree once (never following a symlink, so nothing outside the build tree is
ever looked at or removed) and attributes every removable path to the first rule that
claims it; `apply_prune` removes exactly those paths, or moves them aside so that
`unpruned_copy` can put the tree back together; the bytes per rule go into the
manifest. Stripping ``.so`` files is the one rule that rewrites rather than removes: it
strips a copy and renames the copy over the original, so a file hard-linked from the
installer's cache is never modified in place.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from layer_tasks.config.settings import CustomRule
from layer_tasks.util.globs import glob_regex

# What each built-in rule removes. Directory rules match a folder anywhere below the
# top level (a package's tests/, docs/); file rules match a file name.
_DIR_RULES: dict[str, tuple[str, ...]] = {
    "scripts": ("bin",),
    "tests": ("tests", "test"),
    "pycache": ("__pycache__",),
    "docs": ("docs",),
}
_FILE_RULES: dict[str, tuple[str, ...]] = {
    "bytecode": ("*.pyc", "*.pyo"),
    "markdown": ("*.md",),
    "type_stubs": ("*.pyi",),
    "c_sources": ("*.c", "*.h", "*.cc", "*.cpp", "*.hpp", "*.pyx", "*.pxd", "*.pxi"),
}
# What a *.dist-info keeps: enough for importlib.metadata.version(), entry points and
# the licences. Everything else in it (RECORD, WHEEL, INSTALLER, ...) goes.
_DIST_INFO_KEEP = re.compile(
    r"(METADATA|entry_points\.txt|top_level\.txt|(LICEN[CS]E|COPYING|NOTICE|AUTHORS)[^/]*|licenses(/.*)?)",
    re.IGNORECASE,
)
RULE_ORDER = (
    "scripts",
    "pycache",
    "tests",
    "docs",
    "dist_info",
    "bytecode",
    "markdown",
    "type_stubs",
    "c_sources",
)


@dataclass(frozen=True)
class Removal:
    rule: str
    path: str  # relative POSIX path; a folder is removed with everything in it
    bytes: int
    files: int
    is_dir: bool


@dataclass
class PrunePlan:
    removals: list[Removal] = field(default_factory=list)
    strip: list[str] = field(default_factory=list)  # relative paths of .so files to strip
    scanned_bytes: int = 0  # everything the walk saw: the tree's size before pruning

    def bytes_by_rule(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for removal in self.removals:
            totals[removal.rule] = totals.get(removal.rule, 0) + removal.bytes
        return totals

    def rule_for(self, top_level: str) -> list[str]:
        """Rules that removed something inside the package/module ``top_level``."""
        rules = {
            r.rule
            for r in self.removals
            if r.path == top_level
            or r.path.startswith(top_level + "/")
            or r.path.startswith(top_level + ".")
        }
        return sorted(rules)


def _matches(path: str, patterns: Iterable[str]) -> bool:
    return any(glob_regex(p).fullmatch(path) for p in patterns)


def _size(entry: os.DirEntry[str]) -> int:
    return entry.stat(follow_symlinks=False).st_size


def _tree_size(folder: Path) -> tuple[int, int]:
    """Bytes and files below ``folder`` without following symlinks."""
    total = files = 0
    for root, dirs, names in os.walk(folder, followlinks=False):
        for name in names + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            total += os.lstat(os.path.join(root, name)).st_size
            files += 1
    return total, files


def _folder_removal(rule: str, rel: str, entry: os.DirEntry[str]) -> Removal:
    if entry.is_symlink():
        return Removal(rule, rel, _size(entry), 1, False)
    size, files = _tree_size(Path(entry.path))
    return Removal(rule, rel, size, files, True)


def _is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


def plan_prune(
    tree: Path,
    enabled: dict[str, bool],
    custom: Iterable[CustomRule] = (),
) -> PrunePlan:
    """What the enabled rules would remove from ``tree``; reads only, changes nothing."""
    tree = Path(tree)
    custom = tuple(custom)
    plan = PrunePlan()
    dir_rules = [
        (r, n) for r in RULE_ORDER if r in _DIR_RULES and enabled.get(r) for n in [_DIR_RULES[r]]
    ]
    file_rules = [
        (r, p) for r in RULE_ORDER if r in _FILE_RULES and enabled.get(r) for p in [_FILE_RULES[r]]
    ]
    keep_all = [p for rule in custom for p in rule.keep]

    def claim_file(rel: str, entry: os.DirEntry[str], in_dist_info: str | None) -> None:
        size = _size(entry)
        plan.scanned_bytes += size
        if in_dist_info is not None:
            inner = rel[len(in_dist_info) + 1 :]
            if enabled.get("dist_info") and not _DIST_INFO_KEEP.fullmatch(inner):
                plan.removals.append(Removal("dist_info", rel, size, 1, False))
            return  # nothing else touches metadata (a LICENSE.md must stay)
        for custom_rule in custom:
            if _matches(rel, custom_rule.patterns) and not _matches(rel, custom_rule.keep):
                plan.removals.append(Removal(custom_rule.name, rel, size, 1, False))
                return
        if keep_all and _matches(rel, keep_all):
            return
        for rule, patterns in file_rules:
            if _matches(entry.name, patterns):
                plan.removals.append(Removal(rule, rel, size, 1, False))
                return
        if (
            enabled.get("strip_so")
            and not entry.is_symlink()
            and (entry.name.endswith(".so") or ".so." in entry.name)
        ):
            plan.strip.append(rel)

    def walk(folder: Path, rel_prefix: str, in_dist_info: str | None) -> None:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            rel = f"{rel_prefix}{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                info = in_dist_info
                if info is None and not rel_prefix and entry.name.endswith(".dist-info"):
                    info = rel
                if info is None and _dir_claimed(rel, entry, bool(rel_prefix)):
                    continue
                walk(Path(entry.path), rel + "/", info)
            elif entry.is_symlink() and entry.is_dir() and in_dist_info is None:
                # A link to a folder: judged by its name like a folder, but only the
                # link is ever removed; what it points to is not walked.
                if not _dir_claimed(rel, entry, bool(rel_prefix)):
                    claim_file(rel, entry, in_dist_info)
            else:
                claim_file(rel, entry, in_dist_info)

    def _dir_claimed(rel: str, entry: os.DirEntry[str], nested: bool) -> bool:
        has_keep = any(glob_regex(k).fullmatch(rel) or k.startswith(rel + "/") for k in keep_all)
        for custom_rule in custom:
            folder_patterns = [p for p in custom_rule.patterns if p.endswith("/")]
            # A folder pattern removes the folder whole, unless a keep exception could
            # match inside it (then its files are judged one by one).
            if (
                folder_patterns
                and _matches(rel, folder_patterns)
                and not custom_rule.keep
                and not has_keep
            ):
                plan.removals.append(_folder_removal(custom_rule.name, rel, entry))
                return True
        for rule, names in dir_rules:
            # tests/ and docs/ only inside a package: a top-level folder of that name
            # would be a (badly named) module, and removing it could break an import.
            # bin/ only at the top, where installers put console scripts.
            where_ok = rule == "pycache" or (not nested if rule == "scripts" else nested)
            if entry.name in names and where_ok and not has_keep:
                plan.removals.append(_folder_removal(rule, rel, entry))
                return True
        return False

    walk(tree, "", None)
    plan.scanned_bytes += sum(r.bytes for r in plan.removals if r.is_dir)
    return plan


def apply_prune(tree: Path, plan: PrunePlan, set_aside: Path | None = None) -> None:
    """Remove what the plan lists (links are removed, never followed), then empty folders.

    With ``set_aside`` (a folder on the same file system), each removed path is renamed
    to the same relative path there instead of deleted: a rename costs what an unlink
    does (a whole folder is one rename), and `unpruned_copy` can then give back the
    tree exactly as installed, without installing it again.
    """
    tree = Path(tree)
    for removal in plan.removals:
        target = tree / removal.path
        if set_aside is not None:
            dest = set_aside / removal.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                os.rename(target, dest)  # a symlink is moved as the link itself
        elif removal.is_dir and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    remove_empty_dirs(tree)


def unpruned_copy(pruned: Path, set_aside: Path, dest: Path) -> Path:
    """``dest`` filled with the tree as it was before pruning, as hard links (no bytes copied).

    The pruned tree first, then what `apply_prune` and `strip_shared_objects` set aside
    on top of it (an original ``.so`` replaces its stripped copy).
    """

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except FileExistsError:
            os.unlink(dst)
            os.link(src, dst)

    shutil.copytree(pruned, dest, symlinks=True, copy_function=link)
    if set_aside.is_dir():
        shutil.copytree(set_aside, dest, symlinks=True, copy_function=link, dirs_exist_ok=True)
    return dest


def remove_empty_dirs(tree: Path) -> None:
    for root, dirs, files in os.walk(tree, topdown=False, followlinks=False):
        if root == str(tree):
            continue
        if (not dirs and not files) or (
            not files and all(not os.path.exists(os.path.join(root, d)) for d in dirs)
        ):
            os.rmdir(root)


def strip_tool(architecture: str) -> str | None:
    """A ``strip`` that understands the target's ELF files, if the host has one."""
    import platform

    host = platform.machine()
    native = (architecture == "x86_64" and host == "x86_64") or (
        architecture == "arm64" and host in ("aarch64", "arm64")
    )
    candidates = ["strip"] if native else []
    candidates += [
        "llvm-strip",
        "aarch64-linux-gnu-strip" if architecture == "arm64" else "x86_64-linux-gnu-strip",
    ]
    for name in candidates:
        found = shutil.which(name)
        if found:
            return found
    return None


def strip_shared_objects(
    tree: Path,
    paths: Iterable[str],
    tool: str,
    *,
    warn: Callable[[str], None],
    set_aside: Path | None = None,
) -> int:
    """Strip each ELF file on a private copy and rename it into place; bytes saved.

    With ``set_aside``, the original is kept there (a hard link) for `unpruned_copy`.
    """
    saved = 0
    for rel in paths:
        original = tree / rel
        if not _is_elf(original):
            continue
        before = original.stat().st_size
        fd, tmp_name = tempfile.mkstemp(prefix=".strip-", dir=original.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            shutil.copyfile(original, tmp)
            proc = subprocess.run(
                [tool, "--strip-unneeded", str(tmp)], capture_output=True, text=True, check=False
            )
            if proc.returncode != 0:
                warn(f"strip_so: left {rel} as it was ({proc.stderr.strip() or 'strip failed'})")
                tmp.unlink()
                continue
            os.chmod(tmp, stat.S_IMODE(original.stat().st_mode))
            if set_aside is not None:
                kept = set_aside / rel
                kept.parent.mkdir(parents=True, exist_ok=True)
                os.link(original, kept)
            # Rename over the original: a hard link into uv's cache keeps the old inode.
            os.replace(tmp, original)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        saved += before - original.stat().st_size
    return saved
