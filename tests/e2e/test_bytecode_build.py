"""Bytecode in the layer (layer.bytecode), on tiny offline wheels: real uv, real zips, real
python3.12 imports."""

from __future__ import annotations

import json
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from support.cli import inv_here, make_project
from support.wheels import make_wheel

from layer_tasks.build.footprint import report_data
from layer_tasks.build.pipeline import build_layer
from layer_tasks.build.pycompile import PYC_FORMAT
from layer_tasks.build.verify import find_interpreter
from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError
from layer_tasks.model.manifest import Manifest

PY312 = find_interpreter("3.12")
needs_312 = pytest.mark.skipif(PY312 is None, reason="no python3.12 on this host")
pytestmark = needs_312


def pycs(zip_path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(zip_path) as zf:
        return {n: zf.read(n) for n in zf.namelist() if "/__pycache__/" in n}


def run_312(code: str, *args: str) -> str:
    proc = subprocess.run(
        [PY312 or "", "-I", "-S", "-c", code, *args], capture_output=True, text=True, check=True
    )
    return proc.stdout


def test_imported_ships_what_the_check_loaded(settings: LayerSettings) -> None:
    logs: list[str] = []
    result = build_layer(settings, log=logs.append)
    added = pycs(result.zip_path)
    # alpha/__init__ imports alpha.core; nothing imports alpha.cli.
    assert sorted(added) == [
        "python/alpha/__pycache__/__init__.cpython-312.pyc",
        "python/alpha/__pycache__/core.cpython-312.pyc",
        "python/beta/__pycache__/__init__.cpython-312.pyc",
        "python/epsilon/__pycache__/__init__.cpython-312.pyc",
    ]
    with zipfile.ZipFile(result.zip_path) as zf:
        names = zf.namelist()
        unzipped = sum(i.file_size for i in zf.infolist())
    assert "python/alpha/core.py" in names and "python/alpha/cli.py" in names, "sources stay"
    bc = result.manifest.bytecode
    assert bc["mode"] == "imported" and bc["requested"] == "imported"
    assert bc["python"] == run_312("import platform; print(platform.python_version())").strip()
    assert bc["files"] == 4 and bc["bytes"] == sum(len(b) for b in added.values())
    assert bc["proven"] is True and bc["skipped_reason"] == ""
    # The import run that placed them proved each one: all four loaded from their pyc.
    assert (
        "bytecode proof: 4 modules imported from the layer's .pyc by the import check, "
        "none compiled at import"
    ) in logs
    # The numbers add up: distributions + other + bytecode = unzipped, which budget uses.
    data = report_data(result.manifest, settings)
    parts = sum(d["unzipped_bytes"] for d in data["distributions"]) + data["other_bytes"]
    assert parts + data["bytecode"]["bytes"] == data["unzipped_bytes"] == unzipped


def test_all_compiles_every_module_and_none_ships_no_bytecode(settings: LayerSettings) -> None:
    every = build_layer(replace(settings, bytecode="all"), force=True, log=print)
    added = pycs(every.zip_path)
    assert "python/alpha/__pycache__/cli.cpython-312.pyc" in added
    with zipfile.ZipFile(every.zip_path) as zf:
        sources = [n for n in zf.namelist() if n.endswith(".py")]
    assert len(added) == len(sources) == every.manifest.bytecode["files"]
    assert every.manifest.bytecode["mode"] == "all"

    none = build_layer(replace(settings, bytecode="none"), force=True, log=print)
    assert pycs(none.zip_path) == {}
    assert none.manifest.bytecode["mode"] == "none" and none.manifest.bytecode["files"] == 0
    assert none.manifest.unzipped_bytes == every.manifest.unzipped_bytes - sum(
        len(b) for b in added.values()
    )


def test_pycs_are_checked_hash_of_the_shipped_source_under_opt_python(
    settings: LayerSettings, tmp_path: Path
) -> None:
    result = build_layer(settings, log=print)
    with zipfile.ZipFile(result.zip_path) as zf:
        zf.extractall(tmp_path / "opt")
    script = (
        "import importlib.util, json, marshal, sys\n"
        "root = sys.argv[1]\n"
        "pyc = open(root + '/alpha/__pycache__/core.cpython-312.pyc', 'rb').read()\n"
        "src = open(root + '/alpha/core.py', 'rb').read()\n"
        "code = marshal.loads(pyc[16:])\n"
        "print(json.dumps({'magic': pyc[:4] == importlib.util.MAGIC_NUMBER,\n"
        "  'flags': int.from_bytes(pyc[4:8], 'little'),\n"
        "  'hash': pyc[8:16] == importlib.util.source_hash(src),\n"
        "  'filename': code.co_filename}))\n"
    )
    header = json.loads(run_312(script, str(tmp_path / "opt" / "python")))
    # PEP 552: bit 0 hash-based, bit 1 check_source.
    assert header == {
        "magic": True,
        "flags": 0b11,
        "hash": True,
        "filename": "/opt/python/alpha/core.py",
    }


def test_two_builds_give_byte_identical_zips(tmp_path: Path, wheelhouse: Path) -> None:
    """Separate projects (separate caches and build folders), and a warm rebuild."""
    shas = []
    for name in ("one", "two"):
        project = make_project(tmp_path / name, wheelhouse, "alpha==1.0", "epsilon==1.0")
        proc = inv_here(project, "layer.build", env={"INVOKE_LAYER_BYTECODE": "all"})
        assert proc.returncode == 0, proc.stderr
        manifest = Manifest.load(project / "dist" / "test-layer.manifest.json")
        assert manifest.bytecode["files"] > 4
        shas.append(manifest.code_sha256)
        proc = inv_here(project, "layer.build", "--force", env={"INVOKE_LAYER_BYTECODE": "all"})
        assert proc.returncode == 0, proc.stderr
        assert "0 compiled now" in proc.stderr, "the rebuild reuses the compiled bytecode"
        shas.append(Manifest.load(project / "dist" / "test-layer.manifest.json").code_sha256)
    assert len(set(shas)) == 1


# Imported by the import check, this package leaves a stale pyc in the layer: once
# `mod` is loaded from the pyc the check put in place, that pyc is swapped for one
# compiled from an earlier version of mod.py (its checked hash is of other source
# bytes), and `mod` is imported again. A new file, not a write through the hard link
# into the build's pyc cache. The zip reads the pycs only after the check, so it sees
# no file change under it.
SELF_STALING = {
    "stale/__init__.py": (
        "import importlib, importlib.util, os\n"
        "from stale import mod\n"
        "with open(mod.__spec__.cached, 'rb') as fh:\n"
        "    pyc = fh.read()\n"
        "earlier = importlib.util.source_hash(b'VALUE = 0\\n')\n"
        "with open(mod.__spec__.cached + '.new', 'wb') as fh:\n"
        "    fh.write(pyc[:8] + earlier + pyc[16:])\n"
        "os.replace(mod.__spec__.cached + '.new', mod.__spec__.cached)\n"
        "importlib.reload(mod)\n"
    ),
    "stale/mod.py": "VALUE = 1\n",
}


def test_a_stale_pyc_fails_the_build(tmp_path: Path) -> None:
    """The build's one import run is the proof: a pyc of the imported set that the
    loader does not use (here stale) fails the build, and no zip is written."""
    house = tmp_path / "house"
    house.mkdir()
    make_wheel(house, "stale", "1.0", SELF_STALING)
    project = make_project(tmp_path / "p", house, "stale==1.0")
    raw = yaml.safe_load((project / "invoke.yaml").read_text())["layer"]
    settings = LayerSettings.from_mapping(raw, base_dir=project)
    assert settings.bytecode == "imported"
    logs: list[str] = []
    with pytest.raises(LayerError) as caught:
        build_layer(settings, log=logs.append)
    mirror = settings.state_dir / "cache" / f"pycache-{PYC_FORMAT}"
    assert str(caught.value) == (
        "bytecode: 1 module(s) of the compiled set were compiled from source at import, "
        f"their .pyc was not used: stale/mod.py; remove {mirror} and run "
        "`inv layer.build --force`"
    )
    assert not any(line.startswith("bytecode proof:") for line in logs)
    assert list(settings.dist_dir.iterdir()) == [], "no zip, manifest or partial zip"
    # The check placed the imported set's two pycs and wrote nothing else into the tree.
    stage = settings.state_dir / "build" / settings.name / "python"
    assert sorted(p.relative_to(stage).as_posix() for p in stage.rglob("__pycache__/*")) == [
        "stale/__pycache__/__init__.cpython-312.pyc",
        "stale/__pycache__/mod.cpython-312.pyc",
    ]


def test_no_target_interpreter_skips_bytecode_and_records_it(
    settings: LayerSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    (empty / "shims").mkdir(parents=True)
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("PYENV_ROOT", str(empty))
    monkeypatch.setenv("HOME", str(tmp_path))
    # As on a machine with no internet and no virtualenv to find: nothing for uv to
    # discover in the working folder or the environment, and any interpreter download
    # goes to a port where nothing listens (it would fail, as a DNS error does offline).
    monkeypatch.chdir(empty)
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.delenv("UV_PYTHON", raising=False)
    monkeypatch.setenv("UV_PYTHON_INSTALL_MIRROR", "http://127.0.0.1:9/python")
    monkeypatch.setenv("UV_PYPY_INSTALL_MIRROR", "http://127.0.0.1:9/pypy")
    logs: list[str] = []
    result = build_layer(settings, log=logs.append)
    assert pycs(result.zip_path) == {}
    bc = result.manifest.bytecode
    assert bc["mode"] == "none" and bc["requested"] == "imported" and bc["files"] == 0
    assert bc["skipped_reason"] == "no python3.12 on this host to compile it"
    assert any(line.startswith("bytecode: skipped, no python3.12") for line in logs)


def test_an_older_manifest_without_bytecode_still_loads(settings: LayerSettings) -> None:
    result = build_layer(settings, log=print)
    data = json.loads(result.manifest_path.read_text())
    del data["bytecode"]
    old = Manifest.from_dict(data)
    assert old.bytecode == {}
    assert report_data(old, settings)["bytecode"]["bytes"] == 0


def test_arm64_on_this_host_compiles_every_module_unproven(settings: LayerSettings) -> None:
    """Nothing arm64 can be imported here to learn the set; bytecode does not depend on
    the CPU, so every module is compiled by this host's python3.12."""
    logs: list[str] = []
    result = build_layer(replace(settings, architecture="arm64"), log=logs.append)
    bc = result.manifest.bytecode
    assert bc["mode"] == "all" and bc["requested"] == "imported" and bc["proven"] is False
    assert "python/alpha/__pycache__/cli.cpython-312.pyc" in pycs(result.zip_path)
    assert any("compiling every module" in line for line in logs)


def test_imported_needs_the_import_check(settings: LayerSettings) -> None:
    result = build_layer(replace(settings, verify=False), log=print)
    assert pycs(result.zip_path) == {}
    bc = result.manifest.bytecode
    assert bc["mode"] == "none" and bc["skipped_reason"].startswith("layer.verify is false")
