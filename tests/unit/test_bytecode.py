"""layer.bytecode settings and the pyc compiler whose bytes depend on the source only."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from layer_tasks.build.bytecode import (
    interpreter_version,
    layer_bytecode,
    prove_layer_bytecode,
    python_sources,
)
from layer_tasks.build.pycompile import CANONICAL, PYC_FORMAT, compile_many, server_env
from layer_tasks.build.verify import CheckResult, check_tree, find_interpreter
from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError

PY312 = find_interpreter("3.12")
PYTHONS = {v: find_interpreter(v) for v in ("3.10", "3.11", "3.12", "3.13")}
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


# Each known way the process changes a pyc's bytes, each in a file of its own.
STATE_SENSITIVE = {
    # A frozenset constant is rebuilt, unshared, when "foo" was interned before
    # (python/cpython#129724); the "import foo" file interns it.
    "sets.py": 'a = {"foo", 2, 3}\n\n\ndef f():\n    b = {"foo", 2, 3}\n',
    "interns.py": 'import sys\n\nsys.intern("\\xa4")\nimport foo\n',
    # A one-character string is a singleton: interned once anything interns it, as
    # "interns.py" does.
    "chars.py": 'def f(u):\n    return u + "\\xa4"\n',
    # 3.13: the class's __qualname__ constant is interned in place, or not when the
    # same name was interned before (importing a module that defines the class).
    "qualname.py": "class Outer:\n    class Inner:\n        pass\n",
    "history.py": HISTORY_SENSITIVE,
}

# Run in the interpreter under test: every file's canonical pyc in a fresh child of a
# clean process, then in one process after importing most of the standard library and
# the test's own files, in reverse order. Prints the files whose bytes differ, and those
# whose canonical code is not the code compile() gave.
STATES = r"""
import hashlib, importlib, io, json, marshal, os, struct, sys, contextlib, warnings
exec(sys.argv[1])
files = json.loads(sys.stdin.read())


def digest(path):
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        return hashlib.sha256(canonical_pyc(data, "/opt/python/" + path)).hexdigest()
    except (SyntaxError, ValueError):
        return "invalid"


def fresh(path):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.write(write, digest(path).encode())
        os._exit(0)
    os.close(write)
    answer = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    return answer


def same(a, b):
    if type(a) is not type(b):
        return False
    if type(a) is type(same.__code__):
        fields = [n for n in dir(a) if n.startswith("co_") and n not in ("co_consts", "co_lnotab")]
        return all(
            getattr(a, n) == getattr(b, n) for n in fields if not callable(getattr(a, n))
        ) and same(a.co_consts, b.co_consts)
    if type(a) is tuple:
        return len(a) == len(b) and all(map(same, a, b))
    if type(a) is frozenset:
        return sorted(map(repr, a)) == sorted(map(repr, b))
    if type(a) is float:  # NaN is not equal to itself: compare the bits
        return struct.pack("<d", a) == struct.pack("<d", b)
    if type(a) is complex:
        return same(a.real, b.real) and same(a.imag, b.imag)
    return a == b


before = {path: fresh(path) for path in files}
warnings.simplefilter("ignore")
sys.path.insert(0, ".")
for name in sys.argv[2:]:
    with contextlib.suppress(BaseException), contextlib.redirect_stdout(io.StringIO()):
        importlib.import_module(name)
after = {path: digest(path) for path in reversed(files)}
changed = []
for path in files:
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        code = compile(data, "/opt/python/" + path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        continue
    if not same(marshal.loads(canonical_pyc(data, "/opt/python/" + path)[16:]), code):
        changed.append(path)
print(json.dumps({"differ": [p for p in files if before[p] != after[p]], "changed": changed,
                  "invalid": sum(v == "invalid" for v in before.values())}))
"""

# Imported before the second pass: large parts of the standard library (and with them
# thousands of interned strings and live code objects), and the test's own files.
IMPORTS = [
    "argparse", "asyncio", "dataclasses", "decimal", "email.parser", "http.client",
    "inspect", "json", "logging", "typing", "unittest", "xml.dom.minidom", "zipfile",
    "chars", "interns", "qualname", "sets",
]  # fmt: skip


@pytest.mark.slow
# Each case runs CANONICAL in python<version> itself (a subprocess); pytest's Python only
# starts it and reads its JSON answer, so one run covers every interpreter from any host.
@pytest.mark.once
@pytest.mark.parametrize("version", sorted(PYTHONS))
def test_canonical_pyc_does_not_depend_on_the_process(version: str, tmp_path: Path) -> None:
    """The bytes are the same in a fresh process and after much else was compiled and
    imported, for hundreds of real files (every fourth file of the interpreter's own
    standard library) and each known cause, and load as the same code."""
    python = PYTHONS[version]
    if python is None:
        pytest.skip(f"no python{version} on this host")
    for name, text in STATE_SENSITIVE.items():
        (tmp_path / name).write_text(text)
    stdlib = Path(
        subprocess.run(
            [python, "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    library = sorted(
        p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts and p.is_file()
    )[::4]
    (tmp_path / "lib").symlink_to(stdlib)
    files = [*STATE_SENSITIVE, *(f"lib/{p.relative_to(stdlib).as_posix()}" for p in library)]
    proc = subprocess.run(
        [python, "-s", "-S", "-B", "-c", STATES, CANONICAL, *IMPORTS],
        input=json.dumps(files), capture_output=True, text=True, env=server_env(),
        cwd=tmp_path, timeout=600, check=True,
    )  # fmt: skip
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report == {"differ": [], "changed": [], "invalid": report["invalid"]}
    assert report["invalid"] < len(files) // 20  # the corpus really compiled


@needs_312
def test_the_import_check_writes_the_bytes_the_compiler_writes(tmp_path: Path) -> None:
    """What the import check puts into the tree while it imports (the `imported` set, in
    each module's own __pycache__, loaded from there) is byte for byte what
    `compile_many` writes for the same file, whatever the check imported first."""
    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "__init__.py").write_text("from . import a, b\n")
    (tree / "pkg" / "a.py").write_text(STATE_SENSITIVE["sets.py"])
    (tree / "pkg" / "b.py").write_text("import json\nfoo = json\n" + HISTORY_SENSITIVE)
    (tree / "pkg" / "unused.py").write_text("X = 1\n")
    check = check_tree(
        tree, "3.12", "x86_64", ["pkg"], [], pycache_prefix=tmp_path / "mirror",
        display_root="/opt/python/", ship_bytecode=True,
    )  # fmt: skip
    tag = "cpython-" + interpreter_version(PY312 or "").rsplit(".", 1)[0].replace(".", "")
    expected = [
        (f"pkg/{n}.py", f"pkg/__pycache__/{n}.{tag}.pyc", True) for n in ("__init__", "a", "b")
    ]
    assert check.failures == {} and check.from_source == () and check.shipped
    assert sorted(check.placed) == expected
    assert sorted(p.name for p in (tree / "pkg" / "__pycache__").iterdir()) == sorted(
        Path(pyc).name for _, pyc, _ in expected
    ), "only what was imported, nothing else"
    for source, pyc, _ in expected:
        alone = tmp_path / "alone.pyc"
        assert compile_many(
            PY312 or "", [(str(tree / source), f"/opt/python/{source}", str(alone))]
        ) == ["compiled"]
        assert (tree / pyc).read_bytes() == alone.read_bytes()
        alone.unlink()


@needs_312
def test_a_module_the_import_check_placed_but_compiled_from_source_is_reported(
    tmp_path: Path,
) -> None:
    """The check's own proof: a placed pyc that the loader does not use (here the source
    changes under it and the module is reloaded) is reported in from_source, which the
    build turns into an error."""
    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "a.py").write_text("X = 1\n")
    (tree / "pkg" / "__init__.py").write_text(
        "import importlib, pathlib\nfrom . import a\n"
        "path = pathlib.Path(a.__file__)\npath.write_text(path.read_text() + 'Y = 2\\n')\n"
        "importlib.reload(a)\n"
    )
    check = check_tree(
        tree, "3.12", "x86_64", ["pkg"], [], pycache_prefix=tmp_path / "mirror",
        display_root="/opt/python/", ship_bytecode=True,
    )  # fmt: skip
    assert check.failures == {}
    assert check.from_source == ("pkg/a.py",)


@needs_312
def test_with_all_a_pyc_made_stale_after_compiling_fails_the_proof(tmp_path: Path) -> None:
    """``bytecode: all`` as the build runs it: `layer_bytecode` compiles every module into
    the tree, the import check expects them (the arguments `pipeline._verify` passes),
    and `prove_layer_bytecode` judges that run. A source that changes after its pyc was
    compiled leaves a stale pyc: that fails, naming the module and the cache to clear."""
    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "__init__.py").write_text("from . import a\n")
    (tree / "pkg" / "a.py").write_text("X = 1\n")
    (tree / "pkg" / "unused.py").write_text("Y = 1\n")
    settings = LayerSettings.from_mapping(
        {"bytecode": "all", "state_dir": ".state", "workers": 1}, base_dir=tmp_path
    )
    mirror = settings.state_dir / "cache" / f"pycache-{PYC_FORMAT}"
    logs: list[str] = []
    not_run = CheckResult(ran=False, skipped_reason="layer.verify is false")
    result = layer_bytecode(settings, tree, not_run, mirror, logs.append)
    assert result.mode == "all" and len(result.files) == 3

    def check() -> CheckResult:
        return check_tree(
            tree, "3.12", "x86_64", ["pkg"], [], pycache_prefix=None,
            expect_bytecode=frozenset(result.sources),
        )  # fmt: skip

    assert prove_layer_bytecode(settings, check(), result, logs.append) is True
    # Only what was imported counts, each from its pyc (unused.py is never imported).
    assert logs[-1] == (
        "bytecode proof: 2 modules imported from the layer's .pyc by the import check, "
        "none compiled at import"
    )
    # The source changes after compiling (a new file, as an installer writes one): its
    # checked-hash pyc no longer matches.
    (tree / "pkg" / "a.new").write_text("X = 2\n")
    os.replace(tree / "pkg" / "a.new", tree / "pkg" / "a.py")
    stale = check()
    assert stale.failures == {} and stale.from_source == ("pkg/a.py",)
    with pytest.raises(LayerError) as caught:
        prove_layer_bytecode(settings, stale, result, logs.append)
    assert str(caught.value) == (
        "bytecode: 1 module(s) of the compiled set were compiled from source at import, "
        f"their .pyc was not used: pkg/a.py; remove {mirror} and run `inv layer.build --force`"
    )
    pycs = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("__pycache__/*"))
    assert pycs == sorted(result.files), "the check itself writes nothing into the tree"
