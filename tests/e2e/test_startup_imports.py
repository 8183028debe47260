"""What the CLI imports to start: `inv --list` and a no-change `inv layer.build`.

Each task imports what it uses when it runs, and the pipeline imports what only a real
build needs inside it (bench/startup_bench.py times the result). This keeps a later
import from quietly undoing that: one fresh interpreter (this process has imported
everything already) runs Invoke's program in-process for ``--list`` and then for a
no-change ``layer.build`` of a tiny locked layer built here, and reports ``sys.modules``
after each. The build must still be the reuse of the layer built here, byte for byte.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support.cli import make_project, write_requirements

from layer_tasks.build.install import pip_index_config
from layer_tasks.build.pipeline import build_layer, current_manifest
from layer_tasks.build.pylock import write_lock
from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError

# Slow to import and needed by none of the two: the ELF reader, the PEP 751 lock reader
# and writer, the SBOM library, the progress bars, the AWS SDK.
HEAVY = ("elftools", "packaging.pylock", "tomli_w", "cyclonedx", "tqdm", "botocore", "boto3")

PROBE = """
import json, sys
from invoke.main import program

seen = {}
program.run(["inv", "--list"], exit=False)
seen["--list"] = sorted(sys.modules)
try:
    program.run(["inv", "layer.build"])  # its exit status is the process's
finally:
    seen["layer.build"] = sorted(sys.modules)
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        json.dump(seen, out)
"""


def heavy_in(modules: list[str]) -> list[str]:
    return [m for m in modules if m in HEAVY or m.startswith(tuple(f"{h}." for h in HEAVY))]


@pytest.fixture
def built(tmp_path: Path, wheelhouse: Path) -> LayerSettings:
    """A tiny project, locked (as this repository is) and built once, here in-process."""
    project = make_project(tmp_path / "p", wheelhouse, "alpha==1.0")
    raw = yaml.safe_load((project / "invoke.yaml").read_text(encoding="utf-8"))["layer"]
    settings = LayerSettings.from_mapping(raw, base_dir=project)
    write_lock(settings, pip_index_config(cache_dir=settings.state_dir / "cache"))
    build_layer(settings, log=lambda _: None)
    return settings


def test_list_and_a_no_change_build_import_nothing_heavy(
    built: LayerSettings, tmp_path: Path, wheelhouse: Path
) -> None:
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in built.dist_dir.iterdir()}
    report = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVOKE_")}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(report)],
        cwd=built.requirements.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(report.read_text(encoding="utf-8"))

    assert "layer.build" in proc.stdout and "local.up" in proc.stdout  # the --list
    assert heavy_in(seen["--list"]) == []
    assert not [m for m in seen["--list"] if m.startswith("layer_tasks.build")]
    assert heavy_in(seen["layer.build"]) == []

    # It reused the build: nothing in dist/ was written again, and it says what it reused.
    assert f"build: unchanged, reusing {built.zip_path}" in proc.stderr
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in built.dist_dir.iterdir()} == before
    manifest = json.loads(built.manifest_path.read_text(encoding="utf-8"))
    assert f"CodeSha256 {manifest['code_sha256']}" in proc.stdout
    assert manifest["lock"]["file"] == "pylock.test-layer-x86_64.toml"

    # Still correct without reading the lock: changed lock bytes are another build...
    lock = built.requirements.parent / manifest["lock"]["file"]
    lock_text = lock.read_text(encoding="utf-8")
    assert current_manifest(built) is not None
    lock.write_text(lock_text + "# edited\n", encoding="utf-8")
    assert current_manifest(built) is None
    lock.write_text(lock_text, encoding="utf-8")
    # ...and requirements the lock no longer matches fail as stale, before any change.
    write_requirements(built.requirements, wheelhouse, "alpha==1.0", "epsilon==1.0")
    with pytest.raises(LayerError, match=r"pylock\.test-layer-x86_64\.toml is stale"):
        build_layer(built, log=lambda _: None)
    assert current_manifest(built) is None
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in built.dist_dir.iterdir()} == before
