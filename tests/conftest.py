"""Shared fixtures: an offline wheelhouse and a throwaway project that uses it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from wheels import build_wheelhouse

from layer_tasks.settings import LayerSettings

REPO = Path(__file__).resolve().parents[1]
# `inv` as a user types it, run by this interpreter (whatever venv the tests run in).
INV = [sys.executable, "-c", "import sys; from invoke.main import program; sys.exit(program.run())"]


def inv(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*INV, *args],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="session", autouse=True)
def _isolated_tools(tmp_path_factory: pytest.TempPathFactory) -> None:
    # A uv cache of the test session's own: tests never touch the user's cache, and
    # no test depends on what an earlier run left in it.
    os.environ["UV_CACHE_DIR"] = str(tmp_path_factory.mktemp("uv-cache"))
    # Fake credentials, so that nothing can ever reach a real AWS account.
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(var, None)
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheelhouse(tmp_path_factory.mktemp("wheelhouse"))


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


@pytest.fixture
def project(tmp_path: Path, wheelhouse: Path) -> Path:
    """A project folder: invoke.yaml, tasks.py, requirements on the wheelhouse, Chalice config."""
    root = tmp_path / "project"
    root.mkdir()
    write_requirements(root / "requirements-all.txt", wheelhouse, "alpha==1.0", "epsilon==1.0")
    write_requirements(root / "requirements-a.txt", wheelhouse, "alpha==1.0")
    write_requirements(root / "requirements-b.txt", wheelhouse, "epsilon==1.0")
    (root / "invoke.yaml").write_text(INVOKE_YAML, encoding="utf-8")
    (root / "tasks.py").write_text("from layer_tasks.tasks import ns\n", encoding="utf-8")
    (root / ".chalice").mkdir()
    (root / ".chalice" / "config.json").write_text(CHALICE_CONFIG, encoding="utf-8")
    return root


@pytest.fixture
def settings(project: Path) -> LayerSettings:
    """Settings for `project`, as the tasks would load them from its invoke.yaml."""
    import yaml

    raw = yaml.safe_load((project / "invoke.yaml").read_text())["layer"]
    return LayerSettings.from_mapping(raw, base_dir=project)


def with_(settings: LayerSettings, **changes: object) -> LayerSettings:
    return replace(settings, **changes)  # type: ignore[arg-type]
