"""Will every ELF file in the layer load on the Lambda target? Checked statically.

Running the layer's imports proves more, but only on a host of the target's CPU: an
arm64 layer built on x86_64 is not run at all. This reads every ELF file instead (any
file that starts with the ELF magic, whatever its name), with pyelftools, and checks
three things the dynamic loader needs on Lambda:

- the file's machine (``e_machine``, 64-bit little-endian) is the target's CPU;
- no symbol version it needs from glibc (``GLIBC_x.y`` in ``.gnu.version_r``) is newer
  than the runtime's glibc (2.26 on Amazon Linux 2, 2.34 on Amazon Linux 2023);
- every ``DT_NEEDED`` library is found inside the layer, through the file's
  ``RUNPATH``/``RPATH`` (``$ORIGIN`` expanded), or beside it in an auditwheel ``*.libs``
  folder, or is a system library: one of the manylinux policy's ``lib_whitelist``
  (auditwheel's policy data) or the target's dynamic loader.

Nothing is run and nothing is changed: the result is data, and the build decides.
"""

from __future__ import annotations

import functools
import json
import os
import re
import struct
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

# pyelftools is imported by the functions that read ELF files, not here: this module is
# loaded with the pipeline, and a no-change build (which checks nothing) must not pay
# for pyelftools' ~20 ms of imports (see bench/startup_bench.py).

_MAGIC = b"\x7fELF"
# Lambda's architecture names -> the ELF machine and the name manylinux policies use.
_MACHINE = {"x86_64": "EM_X86_64", "arm64": "EM_AARCH64"}
_POLICY_ARCH = {"x86_64": "x86_64", "arm64": "aarch64"}
_MACHINE_NAMES = {
    "EM_X86_64": "x86_64",
    "EM_AARCH64": "aarch64",
    "EM_386": "i386",
    "EM_ARM": "32-bit arm",
}
# The dynamic loader is part of glibc and in every process; the policies leave it out
# of lib_whitelist because auditwheel always skips it.
_LOADER = {"x86_64": "ld-linux-x86-64.so.2", "arm64": "ld-linux-aarch64.so.1"}
_GLIBC_VERSION = re.compile(r"GLIBC_(\d+)\.(\d+)(?:\.\d+)?", re.ASCII)
# Not numbered, but only glibc 2.36+ defines it: ld.so refuses files linked with
# `-z pack-relative-relocs` on an older glibc.
_GLIBC_MARKERS = {"GLIBC_ABI_DT_RELR": (2, 36)}
# The layer is /opt/python on Lambda: an absolute RUNPATH there points into the layer.
_LAYER_ROOT = "/opt/python"
# An ELF file pyelftools cannot read: reported, not raised (with pyelftools' ELFError).
_UNREADABLE = (ValueError, struct.error, OSError)


@dataclass(frozen=True)
class Finding:
    path: str  # relative to the tree, with "/"
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class SystemLibraries:
    """Library names the target provides: the manylinux policy's list and the loader."""

    policy: str  # e.g. "manylinux_2_34_aarch64"
    names: frozenset[str]


@dataclass(frozen=True)
class ElfReport:
    architecture: str
    glibc: tuple[int, int]
    policy: str
    files: int = 0
    # The newest glibc symbol version any file needs, and which file (for the log).
    newest_glibc: tuple[int, int] | None = None
    newest_glibc_file: str = ""
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        """One line: what was checked, for the build log."""
        machine = _POLICY_ARCH[self.architecture]
        limit = f"{self.glibc[0]}.{self.glibc[1]}"
        if self.newest_glibc is None:
            newest = "no versioned glibc symbols"
        else:
            newest = (
                f"newest glibc symbol {self.newest_glibc[0]}.{self.newest_glibc[1]} "
                f"({self.newest_glibc_file})"
            )
        return (
            f"{self.files} ELF files for {machine}: {newest}, limit {limit}; DT_NEEDED "
            f"inside the layer or system libraries of {self.policy}"
        )

    def error(self, shown: int = 3) -> str:
        """The one-line failure: the first few findings and how many there are."""
        first = "; ".join(str(f) for f in self.findings[:shown])
        more = len(self.findings) - shown
        rest = f" (and {more} more)" if more > 0 else ""
        machine = _POLICY_ARCH[self.architecture]
        return (
            f"{len(self.findings)} ELF file problem(s) for {machine} with glibc "
            f"{self.glibc[0]}.{self.glibc[1]}: {first}{rest}. They would not load on Lambda: "
            f"pin a version of the package with a manylinux wheel for {machine} and glibc "
            f"{self.glibc[0]}.{self.glibc[1]} or older, or remove the package"
        )

    def as_manifest(self) -> dict[str, object]:
        newest = self.newest_glibc
        return {
            "files": self.files,
            "machine": _POLICY_ARCH[self.architecture],
            "glibc_limit": f"{self.glibc[0]}.{self.glibc[1]}",
            "newest_glibc": f"{newest[0]}.{newest[1]}" if newest else None,
            "policy": self.policy,
        }


@functools.cache
def system_libraries(architecture: str, glibc: tuple[int, int]) -> SystemLibraries:
    """The newest manylinux policy (auditwheel's data) that the target's glibc satisfies.

    Its ``lib_whitelist`` is what a manylinux wheel may expect the system to provide.
    """
    arch = _POLICY_ARCH[architecture]
    text = (resources.files("auditwheel") / "policy" / "manylinux-policy.json").read_text(
        encoding="utf-8"
    )
    policies: list[dict[str, Any]] = json.loads(text)
    best: tuple[tuple[int, int], dict[str, Any]] | None = None
    for policy in policies:
        match = re.fullmatch(r"manylinux_(\d+)_(\d+)", policy["name"], re.ASCII)
        if not match or arch not in policy["symbol_versions"]:
            continue
        level = (int(match[1]), int(match[2]))
        if level <= glibc and (best is None or level > best[0]):
            best = (level, policy)
    if best is None:
        raise ValueError(f"auditwheel has no manylinux policy for {arch} glibc {glibc}")
    level, policy = best
    names = frozenset(str(n) for n in policy["lib_whitelist"])
    return SystemLibraries(
        f"manylinux_{level[0]}_{level[1]}_{arch}", names | {_LOADER[architecture]}
    )


def elf_files(tree: Path) -> list[Path]:
    """Every regular file under ``tree`` that starts with the ELF magic, sorted."""
    found: list[Path] = []
    for root, dirs, files in os.walk(tree):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            if os.path.islink(path):
                continue  # the file it points to is checked itself
            try:
                with open(path, "rb") as fh:
                    if fh.read(4) == _MAGIC:
                        found.append(Path(path))
            except OSError:
                continue
    return found


def _search_dirs(entries: list[str], origin: Path, tree: Path) -> list[Path]:
    """RUNPATH/RPATH entries as folders of this host's copy of the layer."""
    dirs = []
    for entry in entries:
        for part in entry.split(":"):
            part = part.replace("${ORIGIN}", str(origin)).replace("$ORIGIN", str(origin))
            if part == _LAYER_ROOT or part.startswith(_LAYER_ROOT + "/"):
                part = str(tree) + part[len(_LAYER_ROOT) :]
            if part and os.path.isabs(part):
                dirs.append(Path(part))
    return dirs


def _inside(path: Path, tree: Path) -> bool:
    resolved = path.resolve()
    return resolved.is_file() and resolved.is_relative_to(tree.resolve())


def _check_file(
    path: Path, tree: Path, architecture: str, glibc: tuple[int, int], system: SystemLibraries
) -> tuple[list[str], tuple[int, int] | None]:
    """Problems of one ELF file, and the newest glibc version it needs."""
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerNeedSection

    with open(path, "rb") as fh:
        elf = ELFFile(fh)
        machine = elf["e_machine"]
        if machine != _MACHINE[architecture] or elf.elfclass != 64 or not elf.little_endian:
            shown = _MACHINE_NAMES.get(machine, str(machine))
            bits = "" if elf.elfclass == 64 else f" {elf.elfclass}-bit"
            endian = "" if elf.little_endian else " big-endian"
            return [f"built for{bits}{endian} {shown}, not {_POLICY_ARCH[architecture]}"], None
        # DT_NEEDED, DT_RUNPATH, DT_RPATH: pyelftools names each string after its tag.
        strings: dict[str, list[str]] = {"DT_NEEDED": [], "DT_RUNPATH": [], "DT_RPATH": []}
        newest: tuple[int, int] | None = None
        dynamic_sections = 0
        for section in elf.iter_sections():
            if isinstance(section, DynamicSection):
                dynamic_sections += 1
                for tag in section.iter_tags():
                    d_tag = tag.entry.d_tag
                    if d_tag in strings:
                        strings[d_tag].append(getattr(tag, d_tag[3:].lower()))
            elif isinstance(section, GNUVerNeedSection):
                for _verneed, auxiliaries in section.iter_versions():
                    for aux in auxiliaries:
                        version = _glibc_version(aux.name)
                        if version and (newest is None or version > newest):
                            newest = version
        # Rare (sstrip'ed files), so the segments are only read then: they cost a quarter
        # of the check's time.
        if not dynamic_sections and any(
            seg["p_type"] == "PT_DYNAMIC" for seg in elf.iter_segments()
        ):
            return ["no section headers: its libraries and glibc versions cannot be read"], None
    problems = []
    if newest is not None and newest > glibc:
        problems.append(
            f"needs glibc {newest[0]}.{newest[1]}, the runtime has {glibc[0]}.{glibc[1]}"
        )
    # The loader ignores DT_RPATH when DT_RUNPATH is present.
    dirs = _search_dirs(strings["DT_RUNPATH"] or strings["DT_RPATH"], path.parent, tree)
    if path.parent.name.endswith(".libs"):
        # auditwheel vendors a library's dependencies beside it; older auditwheel left
        # them without RUNPATH, found through the extension's DT_RPATH (which the loader
        # also uses for its dependencies) or because the soname is already loaded.
        dirs.append(path.parent)
    for lib in strings["DT_NEEDED"]:
        if lib in system.names:
            continue
        if "/" not in lib and any(_inside(d / lib, tree) for d in dirs):
            continue
        problems.append(f"needs {lib}, which is neither in the layer nor a system library")
    return problems, newest


def _glibc_version(name: str) -> tuple[int, int] | None:
    match = _GLIBC_VERSION.fullmatch(name)
    if match:
        return int(match[1]), int(match[2])
    return _GLIBC_MARKERS.get(name)


def check_elf_tree(tree: Path, architecture: str, glibc: tuple[int, int]) -> ElfReport:
    """Check every ELF file under ``tree`` (the layer's ``python/`` folder) for the target."""
    from elftools.common.exceptions import ELFError

    unreadable = (ELFError, *_UNREADABLE)
    system = system_libraries(architecture, glibc)
    findings: list[Finding] = []
    files = elf_files(tree)
    newest: tuple[int, int] | None = None
    newest_file = ""
    for path in files:
        rel = path.relative_to(tree).as_posix()
        try:
            problems, version = _check_file(path, tree, architecture, glibc, system)
        except unreadable as exc:
            problems, version = [f"not a readable ELF file ({exc})"], None
        findings += [Finding(rel, p) for p in problems]
        if version is not None and (newest is None or version > newest):
            newest, newest_file = version, rel
    return ElfReport(
        architecture=architecture,
        glibc=glibc,
        policy=system.policy,
        files=len(files),
        newest_glibc=newest,
        newest_glibc_file=newest_file,
        findings=tuple(findings),
    )
