"""`measure_imports` on a hand-made layer zip: bytecode is reported, failures are listed."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from layer_tasks.build.verify import find_interpreter
from layer_tasks.model.manifest import Distribution, Manifest
from layer_tasks.report.import_cost import measure_imports

PYTHON = "3.12"


def _manifest(zip_path: Path, *dists: Distribution) -> Manifest:
    return Manifest(
        name="t", python=PYTHON, architecture="x86_64", code_sha256="", zip_bytes=zip_path.stat().st_size,
        unzipped_bytes=sum(d.unzipped_bytes for d in dists), files=0, requirements_sha256="",
        distributions=dists, pruned={},
    )  # fmt: skip


@pytest.fixture
def interpreter() -> str:
    found = find_interpreter(PYTHON)
    if not found:
        pytest.skip(f"no python{PYTHON} on this host")
    return found


def test_bytecode_in_the_layer_is_counted_and_said(tmp_path: Path, interpreter: str) -> None:
    src = tmp_path / "src" / "python" / "fast"
    src.mkdir(parents=True)
    (src / "__init__.py").write_text("VALUE = 1\n")
    subprocess.run(
        [interpreter, "-m", "compileall", "-q", "--invalidation-mode", "checked-hash", str(src)],
        check=True,
    )
    zpath = tmp_path / "layer.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for path in sorted((tmp_path / "src").rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(tmp_path / "src").as_posix())
    dist = Distribution("fast", "1.0", 100, 2, ("fast",), {"fast": 100})
    report = measure_imports(zpath, _manifest(zpath, dist), repeat=1)
    assert report.measured and report.bytecode_files == 1
    assert "the layer has bytecode (1 .pyc files)" in report.text()
    assert report.costs[0].modules == ("fast",) and not report.costs[0].failures


def test_a_module_that_fails_is_listed_with_its_distribution(
    tmp_path: Path, interpreter: str
) -> None:
    zpath = tmp_path / "layer.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("python/broken/__init__.py", "import not_in_this_layer\n")
        zf.writestr("python/fine.py", "X = 1\n")
    broken = Distribution("broken", "1.0", 30, 1, ("broken",), {"broken": 30})
    fine = Distribution("fine", "2.0", 6, 1, ("fine.py",), {"fine.py": 6})
    report = measure_imports(zpath, _manifest(zpath, broken, fine), repeat=1)
    by = {c.name: c for c in report.costs}
    assert set(by["broken"].failures) == {"broken"}
    assert "ModuleNotFoundError" in by["broken"].failures["broken"]
    assert by["fine"].modules == ("fine",) and not by["fine"].failures
    assert "the layer has no bytecode" in report.text()
    assert "(1 failed: broken)" in report.text()
