"""Tiny wheels and sdists, built in a few milliseconds with zipfile, for offline tests.

Each wheel is a real wheel (METADATA, WHEEL, RECORD with hashes) that uv and pip
install; the set covers what pruning and verification must handle: tests and docs
folders, markdown, stubs, C sources, a console script, a fake native file, a
platform-specific wheel per CPU, a wheel that needs a newer glibc, and an sdist only.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

from support.elf import bare_elf


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(
    folder: Path,
    name: str,
    version: str,
    files: dict[str, str | bytes],
    *,
    tag: str = "py3-none-any",
    requires: tuple[str, ...] = (),
    entry_points: str = "",
    top_level: tuple[str, ...] = (),
    license_text: str = "MIT License\n",
    metadata_extra: str = "",
) -> Path:
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    metadata += metadata_extra  # more header lines, e.g. License-Expression or Classifier
    contents: dict[str, bytes] = {
        path: (data.encode() if isinstance(data, str) else data) for path, data in files.items()
    }
    contents[f"{info}/METADATA"] = metadata.encode()
    contents[f"{info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: {str(tag.endswith('any')).lower()}\n"
        f"Tag: {tag}\n"
    ).encode()
    contents[f"{info}/LICENSE"] = license_text.encode()
    if entry_points:
        contents[f"{info}/entry_points.txt"] = entry_points.encode()
    if top_level:
        contents[f"{info}/top_level.txt"] = ("\n".join(top_level) + "\n").encode()
    record_lines = [f"{p},{_record_hash(d)},{len(d)}" for p, d in sorted(contents.items())]
    record_lines.append(f"{info}/RECORD,,")
    contents[f"{info}/RECORD"] = ("\n".join(record_lines) + "\n").encode()
    path = Path(folder) / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in contents.items():
            zf.writestr(arcname, data)
    return path


def make_sdist(folder: Path, name: str, version: str) -> Path:
    path = Path(folder) / f"{name}-{version}.tar.gz"
    setup = f"from setuptools import setup\nsetup(name={name!r}, version={version!r})\n".encode()
    pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    with tarfile.open(path, "w:gz") as tf:
        for rel, data in (
            (f"{name}-{version}/setup.py", setup),
            (f"{name}-{version}/PKG-INFO", pkg_info),
        ):
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


# A deliberately compressible body, so zip sizes are meaningful.
_BODY = "".join(f"def f{i}(x):\n    return x * {i} + {i % 7}\n\n" for i in range(60))


def build_wheelhouse(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    make_wheel(
        folder,
        "alpha",
        "1.0",
        {
            "alpha/__init__.py": "from alpha.core import answer\n__all__ = ['answer']\n",
            "alpha/core.py": "def answer():\n    return 42\n" + _BODY,
            "alpha/core.pyi": "def answer() -> int: ...\n",
            "alpha/_helpers.c": "int helper(void) { return 1; }\n",
            "alpha/README.md": "# alpha\n" + "docs " * 200,
            "alpha/tests/__init__.py": "",
            "alpha/tests/test_core.py": "def test_answer():\n    assert True\n" + _BODY,
            "alpha/docs/guide.txt": "guide " * 500,
            "alpha/cli.py": "def main():\n    print('alpha cli')\n",
        },
        requires=("beta>=2",),
        entry_points="[console_scripts]\nalpha = alpha.cli:main\n",
        top_level=("alpha",),
    )
    # One platform wheel per CPU: the installed tree tells which one was chosen.
    for cpu in ("x86_64", "aarch64"):
        make_wheel(
            folder,
            "beta",
            "2.0",
            {
                "beta/__init__.py": "from pathlib import Path\nARCH = (Path(__file__).parent / 'ARCH').read_text().strip()\n",
                "beta/ARCH": f"{cpu}\n",
                # An ELF header of the wheel's CPU and nothing else: the static ELF check
                # reads it; nothing imports it.
                "beta/_native.so": bare_elf("arm64" if cpu == "aarch64" else "x86_64"),
            },
            tag=f"py3-none-manylinux_2_17_{cpu}",
        )
    # Only for glibc >= 2.34: python3.12+ targets (AL2023) yes, python3.10/3.11 (AL2) no.
    make_wheel(
        folder,
        "delta",
        "1.0",
        {"delta.py": "VALUE = 'delta'\n"},
        tag="py3-none-manylinux_2_34_x86_64",
    )
    make_wheel(
        folder,
        "epsilon",
        "1.0",
        {
            "epsilon/__init__.py": "import json\nDATA = json.loads('[1]')\n",
            "epsilon/data/big.json": "[" + ",".join(["1"] * 5000) + "]",
        },
    )
    # Imports a module no wheel provides, as pgvector.django needs django: fails with
    # or without pruning.
    make_wheel(
        folder,
        "zeta",
        "1.0",
        {"zeta/__init__.py": "import not_installed_anywhere\n", "zeta/tests/test_z.py": ""},
    )
    make_sdist(folder, "gamma", "1.0")
    return folder
