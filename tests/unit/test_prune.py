from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from layer_tasks.build.prune import (
    apply_prune,
    glob_regex,
    plan_prune,
    strip_shared_objects,
    strip_tool,
    unpruned_copy,
)
from layer_tasks.config.settings import DEFAULT_PRUNE, CustomRule


def make_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


TREE = {
    "pkg/__init__.py": "x = 1\n",
    "pkg/tests/test_a.py": "t" * 100,
    "pkg/sub/test/data.txt": "d" * 50,
    "pkg/docs/index.rst": "r" * 70,
    "pkg/__pycache__/m.cpython-312.pyc": "c" * 30,
    "pkg/old.pyc": "o" * 10,
    "pkg/README.md": "m" * 20,
    "pkg/m.pyi": "i" * 5,
    "pkg/ext.c": "c" * 7,
    "tests/__init__.py": "top-level module named tests\n",
    "pkg-1.0.dist-info/METADATA": "Name: pkg\n",
    "pkg-1.0.dist-info/RECORD": "r" * 40,
    "pkg-1.0.dist-info/WHEEL": "w" * 8,
    "pkg-1.0.dist-info/entry_points.txt": "[console_scripts]\n",
    "pkg-1.0.dist-info/LICENSE.md": "MIT\n",
    "pkg-1.0.dist-info/licenses/COPYING": "GPL\n",
    "pkg.libs/libfoo.so.1": "ELF",
    "bin/pkg-cli": "#!/build/host/python\n",
    "pkg/bin/helper.sh": "kept: not the installer's scripts folder\n",
}


def test_defaults_remove_the_classic_set_and_keep_metadata(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t", TREE)
    plan = plan_prune(tree, DEFAULT_PRUNE)
    assert plan.scanned_bytes == sum(len(text) for text in TREE.values())
    apply_prune(tree, plan)
    left = sorted(str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file())
    assert left == [
        "pkg-1.0.dist-info/LICENSE.md",
        "pkg-1.0.dist-info/METADATA",
        "pkg-1.0.dist-info/entry_points.txt",
        "pkg-1.0.dist-info/licenses/COPYING",
        "pkg.libs/libfoo.so.1",
        "pkg/__init__.py",
        "pkg/bin/helper.sh",
        "pkg/ext.c",
        "pkg/m.pyi",
        "tests/__init__.py",
    ]
    assert plan.bytes_by_rule() == {
        "scripts": 21,
        "tests": 150,
        "docs": 70,
        "pycache": 30,
        "bytecode": 10,
        "markdown": 20,
        "dist_info": 48,
    }
    assert not (tree / "pkg" / "sub").exists(), "a folder emptied by pruning is removed"


def snapshot(tree: Path) -> dict[str, str]:
    """Every path below ``tree``: file contents, link targets, folders."""
    found = {}
    for path in sorted(tree.rglob("*")):
        rel = str(path.relative_to(tree))
        if path.is_symlink():
            found[rel] = "-> " + os.readlink(path)
        elif path.is_dir():
            found[rel] = "dir"
        else:
            found[rel] = path.read_text()
    return found


def test_set_aside_prunes_the_same_and_gives_back_the_tree_as_installed(tmp_path: Path) -> None:
    deleted = make_tree(tmp_path / "deleted", TREE)
    moved = make_tree(tmp_path / "moved", TREE)
    for tree in (deleted, moved):
        os.symlink("__init__.py", tree / "pkg" / "docs" / "link.py")
    installed = snapshot(moved)
    apply_prune(deleted, plan_prune(deleted, DEFAULT_PRUNE))
    apply_prune(moved, plan_prune(moved, DEFAULT_PRUNE), set_aside=tmp_path / "aside")
    assert snapshot(moved) == snapshot(deleted)
    assert (tmp_path / "aside" / "pkg" / "tests" / "test_a.py").is_file()

    again = unpruned_copy(moved, tmp_path / "aside", tmp_path / "unpruned")
    assert snapshot(again) == installed
    # Hard links: the copy shares the files, nothing was rewritten.
    assert (again / "pkg/__init__.py").stat().st_ino == (moved / "pkg/__init__.py").stat().st_ino
    assert (again / "pkg/README.md").stat().st_ino == (
        tmp_path / "aside" / "pkg/README.md"
    ).stat().st_ino


def test_opt_in_rules(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t", TREE)
    plan = plan_prune(tree, {**DEFAULT_PRUNE, "type_stubs": True, "c_sources": True})
    assert plan.bytes_by_rule()["type_stubs"] == 5
    assert plan.bytes_by_rule()["c_sources"] == 7


def test_nothing_enabled_plans_nothing(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t", TREE)
    plan = plan_prune(tree, dict.fromkeys(DEFAULT_PRUNE, False))
    assert plan.removals == [] and plan.strip == []


def test_custom_rule_with_keep_exception(tmp_path: Path) -> None:
    tree = make_tree(
        tmp_path / "t",
        {
            "googleapiclient/discovery_cache/documents/drive.v3.json": "x" * 1000,
            "googleapiclient/discovery_cache/documents/sheets.v4.json": "y" * 500,
            "googleapiclient/discovery_cache/__init__.py": "",
        },
    )
    rule = CustomRule(
        "discovery",
        ("googleapiclient/discovery_cache/documents/*.json",),
        ("**/sheets.v4.json",),
    )
    plan = plan_prune(tree, DEFAULT_PRUNE, [rule])
    apply_prune(tree, plan)
    assert plan.bytes_by_rule() == {"discovery": 1000}
    assert (tree / "googleapiclient/discovery_cache/documents/sheets.v4.json").exists()
    assert not (tree / "googleapiclient/discovery_cache/documents/drive.v3.json").exists()
    assert plan.rule_for("googleapiclient") == ["discovery"]


def test_symlinks_are_never_followed_out_of_the_tree(tmp_path: Path) -> None:
    outside = make_tree(
        tmp_path / "outside", {"tests/keep.py": "precious", "docs/x.md": "precious"}
    )
    tree = make_tree(tmp_path / "t", {"pkg/__init__.py": ""})
    os.symlink(outside / "tests", tree / "pkg" / "tests")
    os.symlink(outside / "docs" / "x.md", tree / "pkg" / "x.md")
    plan = plan_prune(tree, DEFAULT_PRUNE)
    apply_prune(tree, plan)
    assert (outside / "tests" / "keep.py").read_text() == "precious"
    assert (outside / "docs" / "x.md").read_text() == "precious"
    assert not (tree / "pkg" / "tests").is_symlink() and not (tree / "pkg" / "x.md").is_symlink()


@pytest.mark.parametrize(
    ("pattern", "path", "hit"),
    [
        ("*.json", "a/b/c.json", True),
        ("a/*.json", "a/b/c.json", False),
        ("a/**/c.json", "a/b/x/c.json", True),
        ("a/**/c.json", "a/c.json", True),
        ("docs/", "pkg/docs", True),
        ("[!x]*.txt", "y.txt", True),
    ],
)
def test_glob_semantics(pattern: str, path: str, hit: bool) -> None:
    assert bool(glob_regex(pattern).fullmatch(path)) is hit


@pytest.mark.skipif(
    shutil.which("strip") is None or shutil.which("cc") is None, reason="needs strip and cc"
)
def test_strip_rewrites_a_copy_never_the_hard_linked_original(tmp_path: Path) -> None:
    import subprocess

    src = tmp_path / "lib.c"
    src.write_text("int add(int a, int b) { return a + b; }\n")
    cache = tmp_path / "cache" / "libadd.so"
    cache.parent.mkdir()
    subprocess.run(["cc", "-g", "-shared", "-fPIC", str(src), "-o", str(cache)], check=True)
    tree = tmp_path / "t"
    tree.mkdir()
    os.link(cache, tree / "libadd.so")  # as uv's hard-link install mode would
    before = cache.read_bytes()
    tool = strip_tool("x86_64")
    assert tool
    plan = plan_prune(tree, {**DEFAULT_PRUNE, "strip_so": True})
    assert plan.strip == ["libadd.so"]
    saved = strip_shared_objects(tree, plan.strip, tool, warn=print)
    assert saved > 0
    assert cache.read_bytes() == before, "the installer's cached copy must be untouched"
    assert (tree / "libadd.so").stat().st_size == len(before) - saved
    assert (tree / "libadd.so").stat().st_ino != cache.stat().st_ino


@pytest.mark.skipif(
    shutil.which("strip") is None or shutil.which("cc") is None, reason="needs strip and cc"
)
def test_unpruned_copy_has_the_original_of_a_stripped_file(tmp_path: Path) -> None:
    import subprocess

    src = tmp_path / "lib.c"
    src.write_text("int add(int a, int b) { return a + b; }\n")
    tree = tmp_path / "t"
    tree.mkdir()
    subprocess.run(
        ["cc", "-g", "-shared", "-fPIC", str(src), "-o", str(tree / "libadd.so")], check=True
    )
    original = (tree / "libadd.so").read_bytes()
    tool = strip_tool("x86_64")
    assert tool
    aside = tmp_path / "aside"
    saved = strip_shared_objects(tree, ["libadd.so"], tool, warn=print, set_aside=aside)
    assert saved > 0 and (tree / "libadd.so").read_bytes() != original
    again = unpruned_copy(tree, aside, tmp_path / "unpruned")
    assert (again / "libadd.so").read_bytes() == original
