"""`inv` as a user types it, and throwaway projects on the offline wheelhouse."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# `inv` as a user types it, run by this interpreter (whatever venv the tests run in).
INV = [sys.executable, "-c", "import sys; from invoke.main import program; sys.exit(program.run())"]


def inv(
    project: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    base: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``inv ARGS`` in ``project``: ``env`` on top of ``base`` (default: this process's)."""
    return subprocess.run(
        [*INV, *args],
        cwd=project,
        capture_output=True,
        text=True,
        env={**(os.environ if base is None else base), **(env or {})},
        timeout=300,
        check=False,
    )


def inv_local(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``inv ARGS`` with no AWS credentials, region or INVOKE_ settings at all: what
    ``--local`` needs it must bring itself, for its run only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "INVOKE_"))}
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    return inv(project, *args, base=env)


def write_requirements(path: Path, wheelhouse: Path, *lines: str) -> Path:
    path.write_text(
        f"--no-index\n--find-links {wheelhouse}\n" + "".join(f"{line}\n" for line in lines),
        encoding="utf-8",
    )
    return path


INVOKE_YAML = """\
layer:
  name: test-layer
  requirements: requirements-all.txt
  python: "3.12"
  architecture: x86_64
  bucket: test-layer-bucket
  region: us-east-1
  prefix: layers
  stage: prod
  dist_dir: dist
  state_dir: .state
"""

CHALICE_CONFIG = """\
{
  "version": "2.0",
  "app_name": "demo",
  "automatic_layer": false,
  "stages": {
    "dev": {
      "api_gateway_stage": "api",
      "layers": []
    },
    "prod": {
      "api_gateway_stage": "api",
      "layers": []
    }
  }
}
"""


def make_project(root: Path, wheelhouse: Path, *requirements: str) -> Path:
    root.mkdir(parents=True)
    write_requirements(root / "requirements-all.txt", wheelhouse, *requirements)
    (root / "invoke.yaml").write_text(INVOKE_YAML, encoding="utf-8")
    (root / "tasks.py").write_text("from layer_tasks.tasks import ns\n", encoding="utf-8")
    (root / ".chalice").mkdir()
    (root / ".chalice" / "config.json").write_text(CHALICE_CONFIG, encoding="utf-8")
    return root


def build_small_project(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    """A small project built once; tests copy it (the build is then reused, no install)."""
    project = make_project(tmp_path_factory.mktemp("built") / "p", wheelhouse, "alpha==1.0")
    proc = inv(project, "layer.build")
    assert proc.returncode == 0, proc.stderr
    return project


def copy_project(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest, symlinks=True, ignore=shutil.ignore_patterns(".state"))
    return dest


def stray_files(project: Path) -> list[str]:
    """Temporary files anywhere in the project (atomic writes, partial zips)."""
    return sorted(
        p.relative_to(project).as_posix()
        for p in project.rglob("*")
        if p.is_file() and (p.name.endswith((".tmp", ".partial")) or p.name.startswith("tmp"))
    )


def make_split_project(root: Path, wheelhouse: Path, first: str, second: str) -> Path:
    """`make_project` with both requirements, plus the split sets requirements-a/-b."""
    make_project(root, wheelhouse, first, second)
    write_requirements(root / "requirements-a.txt", wheelhouse, first)
    write_requirements(root / "requirements-b.txt", wheelhouse, second)
    return root
