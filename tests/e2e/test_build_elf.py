"""The build runs the static ELF check on every layer: wheels with real shared objects."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from support.cli import inv_here, make_project, stray_files, write_requirements
from support.elf import compile_so, host_architecture, needs_gcc, other_architecture
from support.wheels import make_wheel

from layer_tasks.build.pipeline import build_layer
from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError

pytestmark = needs_gcc

CPU = {"x86_64": "x86_64", "arm64": "aarch64"}
USES_DEP = "int dep(void);\nint g(void) { return dep() + 1; }\n"


def native_wheel(
    folder: Path, work: Path, architecture: str, *, vendored: bool, version: str = "1.0"
) -> Path:
    """`nat`: an extension that needs libdep.so, vendored in nat.libs or not."""
    libdep = compile_so(work / "libdep.so", "int dep(void) { return 7; }\n")
    ext = compile_so(
        work / "_ext.so", USES_DEP, link=[f"-L{work}", "-ldep"], rpath="$ORIGIN/../nat.libs"
    )
    files: dict[str, str | bytes] = {
        "nat/__init__.py": "VALUE = 1\n",  # the extension is never imported
        "nat/_ext.so": ext.read_bytes(),
    }
    if vendored:
        files["nat.libs/libdep.so"] = libdep.read_bytes()
    folder.mkdir(parents=True, exist_ok=True)
    return make_wheel(
        folder, "nat", version, files, tag=f"py3-none-manylinux_2_17_{CPU[architecture]}"
    )


def settings_for(project: Path, architecture: str) -> LayerSettings:
    import yaml

    raw = yaml.safe_load((project / "invoke.yaml").read_text())["layer"]
    raw["architecture"] = architecture
    return LayerSettings.from_mapping(raw, base_dir=project)


def test_library_missing_from_the_layer_fails_the_build_in_one_line(tmp_path: Path) -> None:
    house = tmp_path / "house"
    native_wheel(house, tmp_path / "work", host_architecture(), vendored=False)
    project = make_project(tmp_path / "p", house, "nat==1.0")
    (project / "invoke.yaml").write_text(
        (project / "invoke.yaml")
        .read_text()
        .replace("architecture: x86_64", f"architecture: {host_architecture()}")
    )
    proc = inv_here(project, "layer.build")
    assert proc.returncode == 1
    # Progress lines, then one error line, last.
    lines = proc.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert errors == lines[-1:] and "Traceback" not in proc.stderr
    assert errors[0].startswith("error: 1 ELF file problem(s)")
    assert "nat/_ext.so: needs libdep.so, which is neither in the layer" in errors[0]
    assert not (project / "dist" / "test-layer.zip").exists()
    assert not (project / "dist" / "test-layer.manifest.json").exists()
    assert stray_files(project) == []


def test_vendored_library_found_through_origin_passes_and_is_counted(tmp_path: Path) -> None:
    house = tmp_path / "house"
    native_wheel(house, tmp_path / "work", host_architecture(), vendored=True)
    project = make_project(tmp_path / "p", house, "nat==1.0")
    logs: list[str] = []
    result = build_layer(settings_for(project, host_architecture()), log=logs.append)
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["elf"]["files"] == 2
    assert manifest["elf"]["machine"] == CPU[host_architecture()]
    assert manifest["elf"]["glibc_limit"] == "2.34"
    assert any(line.startswith("elf: 2 ELF files") for line in logs)


def test_failed_check_leaves_the_previous_build_as_it_was(tmp_path: Path) -> None:
    house = tmp_path / "house"
    native_wheel(house, tmp_path / "work", host_architecture(), vendored=True)
    native_wheel(house, tmp_path / "work", host_architecture(), vendored=False, version="1.1")
    project = make_project(tmp_path / "p", house, "nat==1.0")
    settings = settings_for(project, host_architecture())
    good = build_layer(settings, log=lambda _: None)
    before = (good.zip_path.read_bytes(), good.manifest_path.read_bytes())
    write_requirements(settings.requirements, house, "nat==1.1")
    with pytest.raises(LayerError, match=r"needs libdep\.so"):
        build_layer(settings, log=lambda _: None)
    assert (good.zip_path.read_bytes(), good.manifest_path.read_bytes()) == before
    assert stray_files(project) == []


def test_host_library_in_a_wheel_for_the_other_cpu_fails_the_build(tmp_path: Path) -> None:
    # A wheel tagged for the other CPU whose extension was built for this one: the
    # installer takes it, only reading the files shows the mistake.
    other = other_architecture()
    house = tmp_path / "house"
    native_wheel(house, tmp_path / "work", other, vendored=True)
    project = make_project(tmp_path / "p", house, "nat==1.0")
    settings = settings_for(project, other)
    with pytest.raises(LayerError) as caught:
        build_layer(settings, log=lambda _: None)
    host_cpu = CPU[host_architecture()]
    assert f"nat/_ext.so: built for {host_cpu}, not {CPU[other]}" in caught.value.message
    assert "nat.libs/libdep.so: built for" in caught.value.message
    assert not settings.zip_path.exists()


def test_verify_false_skips_the_elf_check_too(tmp_path: Path) -> None:
    house = tmp_path / "house"
    native_wheel(house, tmp_path / "work", host_architecture(), vendored=False)
    project = make_project(tmp_path / "p", house, "nat==1.0")
    settings = replace(settings_for(project, host_architecture()), verify=False)
    result = build_layer(settings, log=lambda _: None)
    assert result.manifest.elf == {}
