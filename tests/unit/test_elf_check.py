"""The static ELF check on small real shared objects compiled with the host's gcc."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.elf import (
    bare_elf,
    compile_so,
    host_architecture,
    host_glibc,
    needs_gcc,
    other_architecture,
    with_machine,
    without_section_headers,
)

from layer_tasks.build.elf_check import check_elf_tree, system_libraries
from layer_tasks.model.manifest import Manifest

HOST = host_architecture()
OTHER = other_architecture()
AL2, AL2023 = (2, 26), (2, 34)  # python3.10/3.11 and python3.12+

USES_LIBM = "#include <math.h>\ndouble f(double x) { return cos(x); }\n"
DEP = "int dep(void) { return 7; }\n"
USES_DEP = "int dep(void);\nint g(void) { return dep() + 1; }\n"


def problems(tree: Path, architecture: str = HOST, glibc: tuple[int, int] = AL2023) -> list[str]:
    return [str(f) for f in check_elf_tree(tree, architecture, glibc).findings]


@pytest.fixture(scope="module")
def libdep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A library of our own that the modules below link against."""
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc")
    return compile_so(tmp_path_factory.mktemp("dep") / "libdep.so", DEP)


def link_dep(libdep: Path) -> list[str]:
    return [f"-L{libdep.parent}", "-ldep"]


@needs_gcc
def test_system_library_from_the_policy_is_allowed(tmp_path: Path) -> None:
    compile_so(tmp_path / "pkg" / "_ext.so", USES_LIBM, link=["-lm"])
    report = check_elf_tree(tmp_path, HOST, AL2023)
    assert report.findings == ()
    assert report.files == 1
    assert report.policy.startswith("manylinux_2_3")  # the newest policy with glibc <= 2.34
    assert report.newest_glibc is not None and report.newest_glibc <= AL2023


@needs_gcc
def test_host_library_in_a_layer_for_the_other_cpu_is_refused(tmp_path: Path) -> None:
    compile_so(tmp_path / "pkg" / "_ext.so", USES_LIBM, link=["-lm"])
    host_cpu = "x86_64" if HOST == "x86_64" else "aarch64"
    other_cpu = "aarch64" if OTHER == "arm64" else "x86_64"
    assert problems(tmp_path, OTHER) == [f"pkg/_ext.so: built for {host_cpu}, not {other_cpu}"]


@needs_gcc
def test_machine_is_read_from_the_header(tmp_path: Path) -> None:
    built = compile_so(tmp_path / "build" / "_ext.so", USES_LIBM, link=["-lm"])
    layer = tmp_path / "layer"
    with_machine(built, layer / "pkg" / "_ext.so", OTHER)
    assert problems(layer, OTHER) == []
    assert len(problems(layer, HOST)) == 1 and "built for" in problems(layer, HOST)[0]


@needs_gcc
@pytest.mark.skipif(host_glibc() < (2, 36), reason="needs a host glibc >= 2.36")
@pytest.mark.parametrize(
    ("body", "version", "ok_on", "refused_on"),
    [
        ("return reallocarray(p, 2, 3);", (2, 26), AL2, (2, 17)),  # exactly the limit passes
        ("closefrom(3); return p;", (2, 34), AL2023, AL2),
        ("return (void *)(long)arc4random();", (2, 36), None, AL2023),
    ],
    ids=["reallocarray@2.26", "closefrom@2.34", "arc4random@2.36"],
)
def test_glibc_symbol_newer_than_the_runtime_is_refused(
    tmp_path: Path,
    body: str,
    version: tuple[int, int],
    ok_on: tuple[int, int] | None,
    refused_on: tuple[int, int],
) -> None:
    source = (
        "#define _GNU_SOURCE\n#include <stdlib.h>\n#include <unistd.h>\n"
        f"void *f(void *p) {{ {body} }}\n"
    )
    compile_so(tmp_path / "pkg" / "_ext.so", source)
    report = check_elf_tree(tmp_path, HOST, refused_on)
    assert report.newest_glibc == version
    limit = f"{refused_on[0]}.{refused_on[1]}"
    assert [str(f) for f in report.findings] == [
        f"pkg/_ext.so: needs glibc {version[0]}.{version[1]}, the runtime has {limit}"
    ]
    if ok_on is not None:
        assert problems(tmp_path, HOST, ok_on) == []


@needs_gcc
def test_packed_relative_relocations_need_glibc_236(tmp_path: Path) -> None:
    source = (
        "#include <stdlib.h>\nstatic int x[4];\nint *p[4] = {&x[0], &x[1], &x[2], &x[3]};\n"
        "int f(void) { if (!p[0]) abort(); return *p[1]; }\n"
    )
    try:
        compile_so(tmp_path / "_ext.so", source, extra=["-Wl,-z,pack-relative-relocs"])
    except Exception:
        pytest.skip("this linker cannot pack relative relocations")
    if check_elf_tree(tmp_path, HOST, (2, 99)).newest_glibc != (2, 36):
        pytest.skip("this glibc does not define GLIBC_ABI_DT_RELR")
    assert problems(tmp_path) == ["_ext.so: needs glibc 2.36, the runtime has 2.34"]


@needs_gcc
def test_needed_library_left_out_of_the_layer_is_refused(tmp_path: Path, libdep: Path) -> None:
    compile_so(tmp_path / "pkg" / "_ext.so", USES_DEP, link=link_dep(libdep))
    assert problems(tmp_path) == [
        "pkg/_ext.so: needs libdep.so, which is neither in the layer nor a system library"
    ]


@needs_gcc
@pytest.mark.parametrize("runpath", [True, False], ids=["RUNPATH", "RPATH"])
def test_origin_path_finds_the_library_inside_the_layer(
    tmp_path: Path, libdep: Path, runpath: bool
) -> None:
    compile_so(
        tmp_path / "pkg" / "_ext.so",
        USES_DEP,
        link=link_dep(libdep),
        rpath="$ORIGIN/../pkg.libs",
        runpath=runpath,
    )
    assert len(problems(tmp_path)) == 1  # not there yet
    (tmp_path / "pkg.libs").mkdir()
    shutil.copy(libdep, tmp_path / "pkg.libs" / "libdep.so")
    report = check_elf_tree(tmp_path, HOST, AL2023)
    assert report.findings == () and report.files == 2


@needs_gcc
def test_library_elsewhere_in_the_layer_does_not_count(tmp_path: Path, libdep: Path) -> None:
    # In the layer, but not where the loader looks: no RUNPATH points at other/.
    compile_so(tmp_path / "pkg" / "_ext.so", USES_DEP, link=link_dep(libdep))
    (tmp_path / "other").mkdir()
    shutil.copy(libdep, tmp_path / "other" / "libdep.so")
    assert problems(tmp_path) == [
        "pkg/_ext.so: needs libdep.so, which is neither in the layer nor a system library"
    ]


@needs_gcc
def test_origin_path_leading_out_of_the_layer_does_not_count(tmp_path: Path, libdep: Path) -> None:
    layer = tmp_path / "layer"
    compile_so(
        layer / "pkg" / "_ext.so", USES_DEP, link=link_dep(libdep), rpath="$ORIGIN/../../host"
    )
    (tmp_path / "host").mkdir()
    shutil.copy(libdep, tmp_path / "host" / "libdep.so")  # on this host, not in the layer
    assert len(problems(layer)) == 1


@needs_gcc
def test_vendored_library_finds_its_sibling_in_the_libs_folder(
    tmp_path: Path, libdep: Path
) -> None:
    # As older auditwheel left them: numpy.libs/libopenblas needs libgfortran beside it,
    # with no RUNPATH of its own.
    libs = tmp_path / "pkg.libs"
    compile_so(libs / "libuses.so", USES_DEP, link=link_dep(libdep))
    shutil.copy(libdep, libs / "libdep.so")
    assert problems(tmp_path) == []


@needs_gcc
def test_file_without_section_headers_is_reported_not_passed(tmp_path: Path) -> None:
    built = compile_so(tmp_path / "build" / "_ext.so", USES_LIBM, link=["-lm"])
    without_section_headers(built, tmp_path / "layer" / "_ext.so")
    assert problems(tmp_path / "layer") == [
        "_ext.so: no section headers: its libraries and glibc versions cannot be read"
    ]


def test_only_elf_files_count_and_a_broken_one_is_reported(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "notes.so").write_text("not an ELF file\n")
    (tmp_path / "pkg" / "tool").write_bytes(bare_elf(HOST))  # ELF without a .so name
    (tmp_path / "pkg" / "broken.so").write_bytes(b"\x7fELF" + bytes(100))
    report = check_elf_tree(tmp_path, HOST, AL2023)
    assert report.files == 2
    assert [f.path for f in report.findings] == ["pkg/broken.so"]
    assert report.findings[0].reason.startswith("not a readable ELF file")


def test_error_names_the_first_files_and_the_count(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"m{i}.so").write_bytes(bare_elf(OTHER))
    report = check_elf_tree(tmp_path, HOST, AL2023)
    message = report.error()
    assert "\n" not in message
    assert message.startswith("5 ELF file problem(s)")
    assert "m0.so: built for" in message and "m2.so" in message and "m3.so" not in message
    assert "(and 2 more)" in message


def test_system_libraries_come_from_the_manylinux_policy() -> None:
    for arch in ("x86_64", "arm64"):
        al2, al2023 = system_libraries(arch, AL2), system_libraries(arch, AL2023)
        cpu = "x86_64" if arch == "x86_64" else "aarch64"
        assert al2023.policy == f"manylinux_2_34_{cpu}"
        # Recent auditwheel has a 2_26 policy; 6.1 stops at 2_24.
        assert al2.policy in (f"manylinux_2_26_{cpu}", f"manylinux_2_24_{cpu}")
        for libs in (al2, al2023):
            assert {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1"} <= libs.names
            assert not any(n.startswith("libpython") for n in libs.names)
    assert "ld-linux-aarch64.so.1" in system_libraries("arm64", AL2023).names
    assert "ld-linux-x86-64.so.2" in system_libraries("x86_64", AL2023).names


def test_manifest_without_an_elf_record_still_loads(tmp_path: Path) -> None:
    old = {
        "name": "n", "python": "3.12", "architecture": "arm64", "code_sha256": "x",
        "zip_bytes": 1, "unzipped_bytes": 1, "files": 1, "requirements_sha256": "r",
        "distributions": [], "pruned": {},
    }  # fmt: skip
    assert Manifest.from_dict(old).elf == {}
    report = check_elf_tree(tmp_path, "arm64", AL2023)
    new = Manifest.from_dict({**old, "elf": report.as_manifest()})
    assert new.elf["files"] == 0 and new.elf["machine"] == "aarch64"
