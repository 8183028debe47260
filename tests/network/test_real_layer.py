"""The real requirements-all.txt from PyPI (`nox -s network`): the issue's acceptance check."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml

from layer_tasks.build.pipeline import build_layer
from layer_tasks.build.verify import check_tree, find_interpreter
from layer_tasks.config.platform import UNZIPPED_LIMIT_BYTES
from layer_tasks.config.settings import LayerSettings

REPO = Path(__file__).resolve().parents[2]
NINE = {
    "google-generativeai": "google.generativeai",
    "psycopg2-binary": "psycopg2",
    "SQLAlchemy": "sqlalchemy",
    "pgvector": "pgvector.sqlalchemy",
    "pydantic": "pydantic",
    "requests": "requests",
    "python-dateutil": "dateutil",
    "python-dotenv": "dotenv",
    "numpy": "numpy",
}

pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(find_interpreter("3.12") is None, reason="needs python3.12"),
]


def test_real_layer_builds_imports_and_is_deterministic(tmp_path: Path) -> None:
    raw = yaml.safe_load((REPO / "invoke.yaml").read_text())["layer"]
    raw.update(dist_dir=str(tmp_path / "dist"), state_dir=str(tmp_path / "state"))
    settings = LayerSettings.from_mapping(raw, base_dir=REPO)
    first = build_layer(settings, log=print)
    m = first.manifest
    assert m.unzipped_bytes < UNZIPPED_LIMIT_BYTES * 0.6, "well under the limit"
    with zipfile.ZipFile(first.zip_path) as zf:
        assert all(name.startswith("python/") for name in zf.namelist())
        zf.extractall(tmp_path / "opt")
    if shutil.which("unzip"):
        subprocess.run(["unzip", "-tq", str(first.zip_path)], check=True)
    script = (
        "import importlib, importlib.metadata as md, json, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "nine = json.loads(sys.argv[2])\n"
        "print(json.dumps({d: (importlib.import_module(m).__name__, md.version(d)) for d, m in nine.items()}))\n"
    )
    out = subprocess.run(
        [find_interpreter("3.12") or "", "-I", "-S", "-B", "-c", script,
         str(tmp_path / "opt" / "python"), json.dumps(NINE)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    versions = {d: v for d, (_, v) in json.loads(out).items()}
    assert versions["numpy"] == "1.26.4" and versions["SQLAlchemy"] == "2.0.32"
    assert set(versions) == set(NINE)
    again = build_layer(settings, force=True, log=print)
    assert again.manifest.code_sha256 == m.code_sha256


def test_real_layer_bytecode_loads_with_nothing_compiled_at_import(tmp_path: Path) -> None:
    """bytecode: imported on the real layer: the build's proof passed, and an independent
    import of the extracted, read-only layer compiles none of the shipped modules."""
    raw = yaml.safe_load((REPO / "invoke.yaml").read_text())["layer"]
    raw.update(
        dist_dir=str(tmp_path / "dist"), state_dir=str(tmp_path / "state"), bytecode="imported"
    )
    settings = LayerSettings.from_mapping(raw, base_dir=REPO)
    result = build_layer(settings, force=True, log=print)
    bc = result.manifest.bytecode
    assert bc["mode"] == "imported" and bc["proven"] is True and bc["files"] > 500
    opt = tmp_path / "opt"
    with zipfile.ZipFile(result.zip_path) as zf:
        zf.extractall(opt)
        shipped = {
            n.removeprefix("python/").replace("__pycache__/", "").replace(".cpython-312.pyc", ".py")
            for n in zf.namelist()
            if n.endswith(".cpython-312.pyc")
        }
    assert len(shipped) == bc["files"]
    for folder, _dirs, files in os.walk(opt):  # Lambda's /opt is read-only
        for name in files:
            os.chmod(os.path.join(folder, name), 0o444)
        os.chmod(folder, 0o555)
    try:
        check = check_tree(
            opt / "python", "3.12", "x86_64", list(NINE.values()), list(NINE),
            expect_bytecode=frozenset(shipped),
        )  # fmt: skip
    finally:
        for folder, _dirs, _files in os.walk(opt):
            os.chmod(folder, 0o755)
    assert check.failures == {}
    assert check.from_source == ()
    assert len(set(check.loaded) & shipped) > 300, "the app's imports came from the .pyc"
