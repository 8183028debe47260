from __future__ import annotations

from pathlib import Path

import pytest

from layer_tasks.install import IndexConfig, Target, run_install
from layer_tasks.verify import check_tree, find_interpreter, read_records, top_level_modules

needs_312 = pytest.mark.skipif(
    find_interpreter("3.12") is None, reason="no python3.12 on this host"
)


@pytest.fixture
def installed(tmp_path: Path, wheelhouse: Path) -> Path:
    req = tmp_path / "req.txt"
    req.write_text(f"--no-index\n--find-links {wheelhouse}\nalpha==1.0\nepsilon==1.0\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    run_install("uv", req, tree, Target("3.12", "x86_64", (2, 34)), IndexConfig())
    return tree


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
def test_bytecode_goes_to_the_prefix_never_into_the_layer(installed: Path, tmp_path: Path) -> None:
    prefix = tmp_path / "pycache"
    for _ in range(2):  # the second run reads the bytecode the first one wrote
        result = check_tree(installed, "3.12", "x86_64", ["alpha"], [], pycache_prefix=prefix)
        assert result.failures == {}
    assert not list(installed.rglob("__pycache__")) and not list(installed.rglob("*.pyc"))
    assert any(p.name.startswith("core.cpython-312") for p in prefix.rglob("*.pyc"))


@needs_312
def test_without_prefix_nothing_is_written_either(installed: Path) -> None:
    check_tree(installed, "3.12", "x86_64", ["alpha", "beta"], [])
    assert not list(installed.rglob("__pycache__"))
