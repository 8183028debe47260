"""layer.bytecode settings and the pyc compiler whose bytes depend on the source only."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from layer_tasks.bytecode import interpreter_version, python_sources
from layer_tasks.errors import LayerError
from layer_tasks.pycompile import compile_many
from layer_tasks.settings import LayerSettings
from layer_tasks.verify import find_interpreter

PY312 = find_interpreter("3.12")
needs_312 = pytest.mark.skipif(PY312 is None, reason="no python3.12 on this host")

# On python3.12.1, compiling this a second time in the same process marshals a frozenset
# constant without the "shared" flag the first compile gave it: other bytes.
HISTORY_SENSITIVE = """\
def a(t):
    if t in {"PP", "_P"}:
        return 1


def b(t):
    match t:
        case "PP" | "_P":
            return 2


def c(t):
    return t in {"PP", "_P"}
"""


def test_bytecode_defaults_to_imported_and_is_validated() -> None:
    assert LayerSettings.from_mapping({}).bytecode == "imported"
    assert LayerSettings.from_mapping({"bytecode": "all"}).bytecode == "all"
    # Matched whole, as every other enumerated setting: no case folding, no trimming.
    with pytest.raises(LayerError, match=r"layer.bytecode 'All' "):
        LayerSettings.from_mapping({"bytecode": "All"})
    assert LayerSettings.from_mapping({"bytecode": "none"}).bytecode == "none"
    with pytest.raises(LayerError, match=r"layer.bytecode 'sometimes' .* imported, all, none"):
        LayerSettings.from_mapping({"bytecode": "sometimes"})
    with pytest.raises(LayerError, match="must be a string"):
        LayerSettings.from_mapping({"bytecode": True})


def test_python_sources_are_every_py_file_but_caches_and_metadata(tmp_path: Path) -> None:
    for rel in (
        "a/__init__.py",
        "a/b/c.py",
        "top.py",
        "a/__pycache__/x.py",
        "d-1.dist-info/e.py",
        "a/data.txt",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    (tmp_path / "link.py").symlink_to(tmp_path / "top.py")
    assert python_sources(tmp_path) == ["a/__init__.py", "a/b/c.py", "top.py"]


@needs_312
def test_a_pyc_does_not_depend_on_what_was_compiled_before_it(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(HISTORY_SENSITIVE)
    # The control: in one process, the second compile of the same source differs.
    control = (
        "import marshal, sys\n"
        "s = open(sys.argv[1]).read()\n"
        "a, b = (marshal.dumps(compile(s, '/opt/python/mod.py', 'exec')) for _ in range(2))\n"
        "print(a == b)\n"
    )
    same_in_one_process = subprocess.run(
        [PY312 or "", "-I", "-S", "-c", control, str(source)], capture_output=True, text=True
    ).stdout.strip()
    items = [(str(source), "/opt/python/mod.py", str(tmp_path / f"out{i}.pyc")) for i in range(3)]
    alone = compile_many(PY312 or "", items[:1])
    after_others = compile_many(PY312 or "", items[1:], workers=2)
    assert alone + after_others == ["compiled"] * 3
    outputs = {(tmp_path / f"out{i}.pyc").read_bytes() for i in range(3)}
    assert len(outputs) == 1
    if interpreter_version(PY312 or "") == "3.12.1":
        # What the server is for: on this release, one process gives two answers.
        assert same_in_one_process == "False"
    # A second run finds them valid and compiles nothing.
    assert compile_many(PY312 or "", items) == ["cached"] * 3


@needs_312
def test_a_source_that_is_not_python_is_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "tmpl.py").write_text("{% if x %}\n")
    (tmp_path / "ok.py").write_text("X = 1\n")
    items = [
        (str(tmp_path / n), f"/opt/python/{n}", str(tmp_path / f"{n}c"))
        for n in ("tmpl.py", "ok.py")
    ]
    assert compile_many(PY312 or "", items) == ["invalid", "compiled"]
