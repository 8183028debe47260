"""Small real ELF files for the static ELF check: compiled here with the host's gcc.

Compiled files are for the host's CPU. A file of the other CPU is a copy whose
``e_machine`` is patched (`with_machine`): the check reads the machine from the ELF
header, and everything else in the copy stays a valid file the check must still read,
so the patched field is the only difference it can see (`without_section_headers`
patches the same way). `bare_elf` is an ELF header
with nothing after it (no sections, no segments), for wheels that must not need gcc.
"""

from __future__ import annotations

import os
import platform
import shutil
import struct
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

GCC = shutil.which("gcc")
needs_gcc = pytest.mark.skipif(GCC is None, reason="needs gcc")

# Lambda's architecture names and the ELF header's e_machine values (elf.h).
E_MACHINE = {"x86_64": 62, "arm64": 183}
_E_MACHINE_OFFSET = 18  # after e_ident (16 bytes) and e_type (2)


def host_architecture() -> str:
    """The Lambda architecture gcc compiles for here."""
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[
        platform.machine().lower()
    ]


def other_architecture() -> str:
    return "arm64" if host_architecture() == "x86_64" else "x86_64"


def host_glibc() -> tuple[int, int]:
    version = os.confstr("CS_GNU_LIBC_VERSION") or "glibc 0.0"
    major, minor = version.split()[1].split(".")[:2]
    return int(major), int(minor)


def compile_so(
    out: Path,
    source: str,
    *,
    link: Sequence[str] = (),
    rpath: str | None = None,
    runpath: bool = True,
    extra: Sequence[str] = (),
) -> Path:
    """``source`` (C) as a shared object at ``out``; ``link`` are gcc arguments (-L, -l)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    src = out.with_name(out.name + ".c")
    src.write_text(source, encoding="utf-8")
    args = [GCC or "gcc", "-shared", "-fPIC", "-O1", "-o", str(out), str(src), *link, *extra]
    if rpath is not None:
        # --enable-new-dtags writes DT_RUNPATH, --disable-new-dtags the older DT_RPATH.
        tags = "--enable-new-dtags" if runpath else "--disable-new-dtags"
        args += [f"-Wl,{tags}", f"-Wl,-rpath,{rpath}"]
    subprocess.run(args, check=True, capture_output=True, text=True)
    src.unlink()
    return out


def with_machine(source: Path, dest: Path, architecture: str) -> Path:
    """A copy of ``source`` whose ELF header says ``architecture``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    data = bytearray(source.read_bytes())
    data[_E_MACHINE_OFFSET : _E_MACHINE_OFFSET + 2] = struct.pack("<H", E_MACHINE[architecture])
    dest.write_bytes(bytes(data))
    return dest


def without_section_headers(source: Path, dest: Path) -> Path:
    """A copy of ``source`` as sstrip leaves files: no section header table."""
    data = bytearray(source.read_bytes())
    struct.pack_into("<Q", data, 0x28, 0)  # e_shoff
    struct.pack_into("<HH", data, 0x3C, 0, 0)  # e_shnum, e_shstrndx
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(bytes(data))
    return dest


def bare_elf(architecture: str, size: int = 2000) -> bytes:
    """A 64-bit little-endian ELF header for ``architecture`` (ET_DYN), zero-padded."""
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = ident + struct.pack(
        "<HHIQQQIHHHHHH", 3, E_MACHINE[architecture], 1, 0, 0, 0, 0, 64, 56, 0, 64, 0, 0
    )
    return header + bytes(size - len(header))
