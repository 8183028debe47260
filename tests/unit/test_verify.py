from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from layer_tasks.build.install import IndexConfig, Target, run_install
from layer_tasks.build.verify import check_tree, find_interpreter, read_records, top_level_modules

needs_312 = pytest.mark.skipif(
    find_interpreter("3.12") is None, reason="no python3.12 on this host"
)


@pytest.fixture(scope="session")
def installed_once(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    """alpha (with beta) and epsilon, installed by uv for python3.12 x86_64 once per session."""
    root = tmp_path_factory.mktemp("verify-install")
    req = root / "req.txt"
    req.write_text(f"--no-index\n--find-links {wheelhouse}\nalpha==1.0\nepsilon==1.0\n")
    tree = root / "tree"
    tree.mkdir()
    run_install("uv", req, tree, Target("3.12", "x86_64", (2, 34)), IndexConfig())
    return tree


@pytest.fixture
def installed(tmp_path: Path, installed_once: Path) -> Path:
    """A copy of that install, for this test to read or break (as pip's tests copy theirs)."""
    return Path(shutil.copytree(installed_once, tmp_path / "tree", symlinks=True))


def test_top_level_modules_from_records(installed: Path) -> None:
    records = read_records(installed)
    assert sorted(records) == ["alpha-1.0.dist-info", "beta-2.0.dist-info", "epsilon-1.0.dist-info"]
    # bin/ (console scripts) and *.dist-info are not modules.
    assert top_level_modules(installed, records) == ["alpha", "beta", "epsilon"]
    assert top_level_modules(installed) == ["alpha", "beta", "epsilon"]


@needs_312
def test_clean_tree_imports(installed: Path) -> None:
    result = check_tree(
        installed, "3.12", "x86_64", ["alpha", "beta", "epsilon"], ["alpha", "beta", "epsilon"]
    )
    assert result.ran and result.failures == {}
    assert "3.12" in result.interpreter


@needs_312
def test_broken_module_and_missing_metadata_are_reported(installed: Path) -> None:
    (installed / "alpha" / "core.py").unlink()
    (installed / "epsilon-1.0.dist-info" / "METADATA").unlink()
    result = check_tree(installed, "3.12", "x86_64", ["alpha", "epsilon"], ["alpha", "epsilon"])
    assert set(result.failures) == {"import alpha", "version epsilon"}
    assert "ModuleNotFoundError" in result.failures["import alpha"]


@needs_312
def test_host_site_packages_do_not_leak(installed: Path) -> None:
    # pytest is installed for the interpreter running this test, never in the tree.
    result = check_tree(installed, "3.12", "x86_64", ["pytest"], [])
    assert "import pytest" in result.failures


@needs_312
def test_pth_files_in_the_layer_are_not_processed(installed: Path, tmp_path: Path) -> None:
    extra = tmp_path / "elsewhere"
    extra.mkdir()
    (extra / "hidden_mod.py").write_text("X = 1\n")
    (installed / "extra.pth").write_text(f"{extra}\n")
    result = check_tree(installed, "3.12", "x86_64", ["hidden_mod"], [])
    # Lambda puts /opt/python on sys.path as a plain entry: .pth files there do nothing.
    assert "import hidden_mod" in result.failures


def test_skipped_when_host_cannot_run_target(installed: Path) -> None:
    result = check_tree(installed, "3.12", "arm64", ["alpha"], [])
    assert not result.ran and "cannot run arm64" in result.skipped_reason


@needs_312
def test_bytecode_goes_to_the_prefix_never_into_the_layer(
    installed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = tmp_path / "pycache"
    monkeypatch.chdir(installed.parent)  # a relative tree path works too
    mirror = prefix / str(installed).lstrip("/") / "alpha" / "core.cpython-312.pyc"
    stamps = []
    for _ in range(2):  # the second run reads the bytecode the first one wrote
        result = check_tree(
            Path(installed.name), "3.12", "x86_64", ["alpha", "epsilon"], [], pycache_prefix=prefix
        )
        assert result.failures == {}
        stamps.append(mirror.stat().st_mtime_ns)
    assert stamps[0] == stamps[1], "the second check reused the bytecode"
    assert not list(installed.rglob("__pycache__")) and not list(installed.rglob("*.pyc"))
    # epsilon imports json: the interpreter's own bytecode is used where it is, not
    # compiled again into the prefix.
    outside = [
        p
        for p in prefix.rglob("*.pyc")
        if not p.is_relative_to(prefix / str(installed).lstrip("/"))
    ]
    assert outside == []
    assert any(p.name.startswith("core.cpython-312") for p in prefix.rglob("*.pyc"))


@needs_312
def test_without_prefix_nothing_is_written_either(installed: Path) -> None:
    check_tree(installed, "3.12", "x86_64", ["alpha", "beta"], [])
    assert not list(installed.rglob("__pycache__"))


@pytest.fixture
def real_312() -> str:
    found = find_interpreter("3.12")
    if found is None:
        pytest.skip("no python3.12 on this host")
    return os.path.realpath(found)


def fake_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """An empty PATH folder and an empty pyenv root, and nothing else to find."""
    bin_dir, root = tmp_path / "bin", tmp_path / "pyenv"
    for folder in (bin_dir, root / "shims"):
        folder.mkdir(parents=True)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("PYENV_ROOT", str(root))
    monkeypatch.setenv("HOME", str(tmp_path))
    return bin_dir, root


def test_a_pyenv_shim_is_never_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_312: str
) -> None:
    bin_dir, root = fake_host(tmp_path, monkeypatch)
    ran = tmp_path / "shim-ran"
    shim = root / "shims" / "python3.12"
    shim.write_text(f'#!/bin/sh\ntouch {ran}\nexec {real_312} "$@"\n')
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{root / 'shims'}{os.pathsep}{bin_dir}")
    version = root / "versions" / "3.12.99" / "bin"
    version.mkdir(parents=True)
    (version / "python").symlink_to(real_312)
    assert find_interpreter("3.12") == str(version / "python")
    assert not ran.exists()


def test_a_python_on_path_comes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_312: str
) -> None:
    bin_dir, root = fake_host(tmp_path, monkeypatch)
    (bin_dir / "python3.12").symlink_to(real_312)
    version = root / "versions" / "3.12.99" / "bin"
    version.mkdir(parents=True)
    (version / "python").symlink_to(real_312)
    assert find_interpreter("3.12") == str(bin_dir / "python3.12")


def test_no_interpreter_skips_the_check_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, installed: Path
) -> None:
    fake_host(tmp_path, monkeypatch)
    assert find_interpreter("3.12") is None
    result = check_tree(installed, "3.12", "x86_64", ["alpha"], [])
    assert not result.ran and result.skipped_reason == "no python3.12 on this host"
