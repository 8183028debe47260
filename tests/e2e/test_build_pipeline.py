"""The local pipeline end to end on tiny offline wheels: real uv, real zips, real imports."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from support.cli import write_requirements

from layer_tasks.build.archive import code_sha256
from layer_tasks.build.pipeline import build_layer
from layer_tasks.build.verify import find_interpreter
from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError

needs_312 = pytest.mark.skipif(
    find_interpreter("3.12") is None, reason="no python3.12 on this host"
)


def names(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as zf:
        return zf.namelist()


@needs_312
def test_build_writes_a_verified_pruned_zip_and_manifest(settings: LayerSettings) -> None:
    logs: list[str] = []
    result = build_layer(settings, log=logs.append)
    assert not result.reused
    entries = names(result.zip_path)
    assert all(n.startswith("python/") for n in entries)
    # Sorted, with the bytecode the build adds after pruning at the end (sorted too).
    added = [n for n in entries if "/__pycache__/" in n]
    assert added and entries == sorted(set(entries) - set(added)) + sorted(added)
    assert "python/alpha/core.py" in entries and "python/beta/ARCH" in entries
    # Default prune: tests, docs, markdown gone; metadata for version() and entry points kept.
    assert not any("/tests/" in n or "/docs/" in n or n.endswith(".md") for n in entries)
    assert "python/alpha-1.0.dist-info/METADATA" in entries
    assert "python/alpha-1.0.dist-info/entry_points.txt" in entries
    assert "python/alpha-1.0.dist-info/LICENSE" in entries
    assert "python/alpha-1.0.dist-info/RECORD" not in entries
    assert not any(n.endswith(".lock") for n in entries)
    if shutil.which("unzip"):
        subprocess.run(["unzip", "-tq", str(result.zip_path)], check=True)

    manifest = json.loads(result.manifest_path.read_text())
    for key in (
        "name",
        "python",
        "architecture",
        "code_sha256",
        "zip_bytes",
        "unzipped_bytes",
        "files",
        "requirements_sha256",
        "distributions",
        "pruned",
    ):
        assert key in manifest
    assert manifest["code_sha256"] == code_sha256(result.zip_path)
    assert manifest["zip_bytes"] == result.zip_path.stat().st_size
    assert manifest["files"] == len(entries)
    with zipfile.ZipFile(result.zip_path) as zf:
        assert manifest["unzipped_bytes"] == sum(i.file_size for i in zf.infolist())
    dists = {d["name"]: d for d in manifest["distributions"]}
    assert set(dists) == {"alpha", "beta", "epsilon"}
    assert sum(d["unzipped_bytes"] for d in manifest["distributions"]) <= manifest["unzipped_bytes"]
    assert manifest["pruned"]["tests"] > 0 and manifest["pruned"]["docs"] > 0
    assert manifest["verify"]["checked"] is True
    assert any(line.startswith("verify:") for line in logs)


@needs_312
def test_extracted_layer_imports_and_reports_versions(
    settings: LayerSettings, tmp_path: Path
) -> None:
    result = build_layer(settings, log=lambda _: None)
    opt = tmp_path / "opt"
    with zipfile.ZipFile(result.zip_path) as zf:
        zf.extractall(opt)
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import alpha, beta, epsilon, importlib.metadata as m;"
        "print(alpha.answer(), beta.ARCH, m.version('alpha'), m.version('beta'),"
        " [e.name for e in m.entry_points(group='console_scripts')])"
    )
    out = subprocess.run(
        [find_interpreter("3.12") or "", "-I", "-S", "-c", script, str(opt / "python")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.strip() == "42 x86_64 1.0 2.0 ['alpha']"


@needs_312
def test_second_build_is_reused_and_force_is_byte_identical(settings: LayerSettings) -> None:
    first = build_layer(settings, log=lambda _: None)
    logs: list[str] = []
    again = build_layer(settings, log=logs.append)
    assert again.reused and "unchanged" in logs[0]
    forced = build_layer(settings, force=True, log=lambda _: None)
    assert not forced.reused
    assert forced.manifest.code_sha256 == first.manifest.code_sha256


@needs_312
def test_changed_requirements_rebuild(settings: LayerSettings, wheelhouse: Path) -> None:
    first = build_layer(settings, log=lambda _: None)
    write_requirements(settings.requirements, wheelhouse, "alpha==1.0")
    second = build_layer(settings, log=lambda _: None)
    assert not second.reused and second.manifest.code_sha256 != first.manifest.code_sha256
    assert {d.name for d in second.manifest.distributions} == {"alpha", "beta"}


def test_arm64_target_gets_arm64_wheels(settings: LayerSettings) -> None:
    arm = replace(settings, architecture="arm64")
    logs: list[str] = []
    result = build_layer(arm, log=logs.append)
    with zipfile.ZipFile(result.zip_path) as zf:
        assert zf.read("python/beta/ARCH").decode().strip() == "aarch64"
    # Not run on this host, but every ELF file (beta's one) was read for aarch64.
    assert any(line.startswith("verify: imports not run") for line in logs)
    assert any(line.startswith("elf: 1 ELF files for aarch64") for line in logs)
    assert result.manifest.verify["checked"] is False
    assert result.manifest.elf["files"] == 1 and result.manifest.elf["machine"] == "aarch64"


def test_python311_target_refuses_a_glibc_234_only_wheel(
    settings: LayerSettings, wheelhouse: Path
) -> None:
    write_requirements(settings.requirements, wheelhouse, "delta==1.0")
    old = replace(settings, python="3.11")
    with pytest.raises(LayerError, match=r"python3.11 x86_64 \(glibc 2.26\).*delta"):
        build_layer(old, log=lambda _: None)
    assert not old.zip_path.exists()


@needs_312
def test_pruning_that_breaks_an_import_fails_and_names_the_rule(settings: LayerSettings) -> None:
    from layer_tasks.config.settings import CustomRule

    greedy = replace(settings, prune_custom=(CustomRule("too-greedy", ("alpha/core.py",)),))
    with pytest.raises(LayerError, match=r"pruning broke `import alpha`.*too-greedy"):
        build_layer(greedy, log=lambda _: None)
    assert not greedy.zip_path.exists()


@needs_312
def test_a_failure_that_is_there_without_pruning_too_is_a_warning(
    settings: LayerSettings, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import layer_tasks.build.pipeline as build_module

    installs: list[Path] = []
    real_install = build_module.run_install

    def counting_install(*args, **kwargs):  # type: ignore[no-untyped-def]
        installs.append(args[2])
        return real_install(*args, **kwargs)

    monkeypatch.setattr(build_module, "run_install", counting_install)
    write_requirements(settings.requirements, wheelhouse, "alpha==1.0", "zeta==1.0")
    logs: list[str] = []
    result = build_layer(settings, log=logs.append)
    warning = next(line for line in logs if line.startswith("warning:"))
    assert "1 check(s) fail even without pruning" in warning and "not_installed_anywhere" in warning
    assert result.manifest.verify["warnings"] == ["import zeta"]
    # The unpruned tree was put back from what pruning set aside, not installed again.
    assert len(installs) == 1
    unpruned = settings.state_dir / "build" / settings.name / "unpruned"
    assert (unpruned / "zeta" / "tests" / "test_z.py").is_file()
    assert "python/zeta/__init__.py" in names(result.zip_path)
    assert not any("zeta/tests" in n for n in names(result.zip_path))


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (("nosuchpkg==1.0",), "nosuchpkg"),
        (("gamma==1.0",), "gamma.*binary wheels only"),
        ((), "lists no requirements"),
    ],
)
def test_bad_requirements_fail_cleanly(
    settings: LayerSettings, wheelhouse: Path, lines: tuple[str, ...], message: str
) -> None:
    write_requirements(settings.requirements, wheelhouse, *lines)
    with pytest.raises(LayerError, match=message):
        build_layer(settings, log=lambda _: None)
    assert not settings.zip_path.exists()


def test_dist_dir_that_is_a_file(settings: LayerSettings) -> None:
    settings.dist_dir.parent.mkdir(parents=True, exist_ok=True)
    settings.dist_dir.write_text("not a folder")
    with pytest.raises(LayerError, match="is a file, not a folder"):
        build_layer(settings, log=lambda _: None)
