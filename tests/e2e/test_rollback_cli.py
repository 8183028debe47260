"""`inv layer.rollback` / `layer.cleanup` in a subprocess against a moto server.

The acceptance of issue 4: after versions 1 and 2, `--version 1` points the stage at
version 1 (other bytes of the config unchanged) and writes the ARN file; `--version two`
and `--version 99` fail with one `error:` line and change nothing; `cleanup --keep 1`
keeps what a stage uses.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import boto3
from support.cli import INV

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
NAME = "e2e-layer"


def lambda_client(endpoint: str) -> Any:
    return boto3.client(
        "lambda",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def publish(client: Any, name: str) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("python/mod.py", "X = 1\n")
    response = client.publish_layer_version(
        LayerName=name,
        Content={"ZipFile": buf.getvalue()},
        CompatibleRuntimes=["python3.12"],
        CompatibleArchitectures=["x86_64"],
    )
    return str(response["LayerVersionArn"])


CONFIG_TEXT = """\
{
    "version": "2.0",
    "app_name": "demo",
    "environment_variables": {
        "MODE": "prod"
    },
    "stages": {
        "dev": {
            "api_gateway_stage": "api",
            "layers": [
                "%(dev)s"
            ]
        },
        "prod": {
            "api_gateway_stage": "api",
            "layers": [
                "%(prod)s"
            ]
        }
    },
    "automatic_layer": false
}
"""


def make_project(
    tmp_path: Path, endpoint: str, name: str, dev: str, prod: str
) -> tuple[Path, dict[str, str]]:
    project = tmp_path / "project"
    (project / ".chalice").mkdir(parents=True)
    (project / "tasks.py").write_text("from layer_tasks.tasks import ns\n")
    config = tmp_path / "config.json"
    config.write_text(CONFIG_TEXT % {"dev": dev, "prod": prod})
    arn_file = tmp_path / "layer-arn.txt"
    arn_file.write_text(prod + "\n")
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "INVOKE_LAYER_NAME": name,
        "INVOKE_LAYER_REGION": REGION,
        "INVOKE_LAYER_STAGE": "prod",
        "INVOKE_LAYER_CHALICE_CONFIG": str(config),
        "INVOKE_LAYER_ARN_FILE": str(arn_file),
        "INVOKE_LAYER_STATE_DIR": str(tmp_path / "state"),
    }
    env.pop("AWS_PROFILE", None)
    return project, env


def inv(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*INV, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_rollback_cli_bad_versions_change_nothing_then_rollback(
    tmp_path: Path, endpoint: str
) -> None:
    client = lambda_client(endpoint)
    name = f"{NAME}-rollback"
    v1, v2 = publish(client, name), publish(client, name)
    project, env = make_project(tmp_path, endpoint, name, dev=v2, prod=v2)
    config = Path(env["INVOKE_LAYER_CHALICE_CONFIG"])
    arn_file = Path(env["INVOKE_LAYER_ARN_FILE"])
    before = (config.read_bytes(), arn_file.read_bytes())

    for bad, needle in (("two", "positive whole number"), ("99", "version 99 does not exist")):
        proc = inv(project, env, "layer.rollback", "--version", bad)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
        errors = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(errors) == 1 and errors[0].startswith("error: ") and needle in errors[0], (
            proc.stderr
        )
        assert (config.read_bytes(), arn_file.read_bytes()) == before

    proc = inv(project, env, "layer.rollback", "--version", "1")
    assert proc.returncode == 0, proc.stderr
    assert "was: version 2" in proc.stdout and "now: version 1" in proc.stdout
    # Every other byte of the config is as it was: only prod's ARN changed.
    assert config.read_text() == CONFIG_TEXT % {"dev": v2, "prod": v1}
    assert arn_file.read_text() == v1 + "\n"


def test_rollback_cli_cleanup_keeps_what_stages_use(tmp_path: Path, endpoint: str) -> None:
    client = lambda_client(endpoint)
    name = f"{NAME}-cleanup"
    arns = [publish(client, name) for _ in range(4)]
    project, env = make_project(tmp_path, endpoint, name, dev=arns[0], prod=arns[1])

    refused = inv(project, env, "layer.cleanup", "--keep", "0")
    assert refused.returncode == 1 and refused.stderr.startswith("error: --keep must be at least 1")

    dry = inv(project, env, "layer.cleanup", "--keep", "1", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would delete {name} version 3" in dry.stdout
    assert len(client.list_layer_versions(LayerName=name)["LayerVersions"]) == 4

    proc = inv(project, env, "layer.cleanup", "--keep", "1")
    assert proc.returncode == 0, proc.stderr
    assert f"deleted {name} version 3" in proc.stdout
    left = sorted(v["Version"] for v in client.list_layer_versions(LayerName=name)["LayerVersions"])
    assert left == [1, 2, 4]


def test_rollback_cli_update_config_errors_and_fallback_layers(
    tmp_path: Path, endpoint: str
) -> None:
    client = lambda_client(endpoint)
    name = f"{NAME}-update"
    v1 = publish(client, name)
    split = [publish(client, f"{name}-{part}") for part in ("ai", "db")]
    project, env = make_project(tmp_path, endpoint, name, dev=v1, prod=v1)
    config = Path(env["INVOKE_LAYER_CHALICE_CONFIG"])
    original = config.read_bytes()

    missing = inv(project, env, "layer.update-config", "--stage", "qa", "--arn", v1)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert missing.stderr.strip().splitlines() == [
        f"error: stage 'qa' is not in {config} (stages: dev, prod); pick one with --stage, "
        "or pass --create-stage to add it"
    ]
    assert config.read_bytes() == original

    # The seed's emergency fallback: several layers, in order, on a new stage.
    args = [a for arn in split for a in ("--arn", arn)]
    ok = inv(project, env, "layer.update-config", "--stage", "qa", "--create-stage", *args)
    assert ok.returncode == 0, ok.stderr
    assert "before: (none)" in ok.stdout
    assert json.loads(config.read_text())["stages"]["qa"] == {"layers": split}
    assert Path(str(config) + ".bak").read_bytes() == original

    config.write_text('{"stages": {"prod": {}},}')
    broken = inv(project, env, "layer.update-config", "--arn", v1)
    assert broken.returncode == 1
    assert broken.stderr.startswith(f"error: Chalice config {config} is not valid JSON (line 1")
    assert config.read_text() == '{"stages": {"prod": {}},}'
