"""The whole path of a Chalice team outside this repository (issue 19 section 5), as a user
types it: build layer-tasks' wheel, install it with the `local` extra into a fresh venv,
make a Chalice app in a temporary folder (`chalice new-project`), `layer-tasks init`,
`layer-tasks deploy --local`, then the real `chalice package`, whose function must use
exactly the ARN the sandbox published.

Network: building the wheel (setuptools) and installing its dependencies (boto3, moto,
invoke, chalice...) into the fresh venv need the package index. The layer itself is
built from the offline wheelhouse (`--no-index --find-links` in requirements-layer.txt),
and the sandbox is a local moto server: no AWS account is involved.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from layer_tasks.build.install import uv_binary
from layer_tasks.build.verify import find_interpreter

REPO = Path(__file__).resolve().parents[2]
REGION = "ap-northeast-2"

pytestmark = [pytest.mark.network, pytest.mark.slow]


def _run(
    argv: list[str], cwd: Path, env: Mapping[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        argv, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
    )
    print(f"\n$ {' '.join(argv)}  (in {cwd.name}/, exit {proc.returncode})")
    print(proc.stdout, end="")
    print(proc.stderr, end="", file=sys.stderr)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_install_init_deploy_local_and_chalice_package(tmp_path: Path, wheelhouse: Path) -> None:
    uv = uv_binary()
    python = find_interpreter("3.12") or sys.executable
    # The user's shell: no AWS credentials (--local brings its own), a default region.
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "INVOKE_", "VIRTUAL_ENV"))
    }
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)

    # 1. the wheel, built from this checkout.
    dist = tmp_path / "dist"
    _run([uv, "build", "--wheel", "--out-dir", str(dist), str(REPO)], REPO, env)
    (wheel,) = dist.glob("layer_tasks-*.whl")

    # 2. a fresh venv with the wheel and its `local` extra (and Chalice, as the team has it).
    venv = tmp_path / "venv"
    _run([uv, "venv", "--python", python, str(venv)], tmp_path, env)
    _run(
        [
            uv,
            "pip",
            "install",
            "--python",
            str(venv / "bin" / "python"),
            f"{wheel}[local]",
            "chalice",
        ],
        tmp_path,
        env,
    )
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["AWS_DEFAULT_REGION"] = REGION

    # 3. a Chalice app in a temporary folder, far from this repository.
    _run(["chalice", "new-project", "demo"], tmp_path, env)
    app = tmp_path / "demo"
    assert not (app / "tasks.py").exists()

    # 4. init, the layer's packages, deploy --local; init again changes nothing.
    init = _run(["layer-tasks", "init"], app, env)
    assert init.stdout.startswith(f'init: Chalice app "demo" in {app}, stage dev:')
    with (app / "requirements-layer.txt").open("a", encoding="utf-8") as fh:
        fh.write(f"--no-index\n--find-links {wheelhouse}\nalpha==1.0\n")
    try:
        deploy = _run(["layer-tasks", "deploy", "--local"], app, env)
        arn = deploy.stdout.strip().splitlines()[-1]
        assert arn.startswith(f"arn:aws:lambda:{REGION}:") and arn.endswith(":layer:demo-deps:1")
        again = _run(["layer-tasks", "init"], app, env)
        assert again.stdout.startswith("init: nothing to change:")
        report = _run(["layer-tasks", "size-report", "--top", "10"], app, env)
        assert "app " in report.stdout  # the app's own package, a line of its own
    finally:
        subprocess.run(["layer-tasks", "local.down"], cwd=app, env=env, timeout=60, check=False)

    # 5. the real `chalice package`, on a copy of the app whose config is the sandbox's
    # (--local never writes a sandbox ARN into the real .chalice/config.json).
    real = json.loads((app / ".chalice" / "config.json").read_text())
    assert "layers" not in real["stages"]["dev"]
    package = tmp_path / "package"
    shutil.copytree(app, package, ignore=shutil.ignore_patterns(".layer-tasks", "dist"))
    shutil.copyfile(
        app / ".layer-tasks" / "sandbox" / "chalice" / "config.json",
        package / ".chalice" / "config.json",
    )
    _run(
        ["chalice", "--project-dir", str(package), "package", "--stage", "dev", "out"],
        tmp_path,
        env,
    )
    template = json.loads((package / "out" / "sam.json").read_text())
    functions = {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert functions, template
    for properties in functions.values():
        assert properties["Layers"] == [arn]
