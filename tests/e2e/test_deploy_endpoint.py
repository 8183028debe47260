"""`inv layer.deploy` through a moto server given by AWS_ENDPOINT_URL, and the
user-fixable failures: one `error:` line, exit 1, nothing written."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import boto3
import pytest
from invoke.main import program
from support.cli import inv_here


def _outputs_elsewhere(project: Path, tmp_path: Path) -> dict[str, str]:
    out = tmp_path / "outputs"
    out.mkdir()
    shutil.copyfile(project / ".chalice" / "config.json", out / "config.json")
    return {
        "INVOKE_LAYER_ARN_FILE": str(out / "arn.txt"),
        "INVOKE_LAYER_CHALICE_CONFIG": str(out / "config.json"),
    }


@pytest.mark.slow
def test_deploy_via_aws_endpoint_url(project: Path, endpoint: str, tmp_path: Path) -> None:
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, **_outputs_elsewhere(project, tmp_path)}
    real_config = (project / ".chalice" / "config.json").read_bytes()

    first = inv_here(project, "layer.deploy", base=env)
    assert first.returncode == 0, first.stderr
    arn = first.stdout.strip().splitlines()[-1]
    assert arn.endswith(":layer:test-layer:1")
    second = inv_here(project, "layer.deploy", base=env)
    assert second.returncode == 0, second.stderr
    assert "unchanged, version 1" in second.stderr
    listed = inv_here(project, "layer.versions", "--json", base=env)
    assert [v["version"] for v in json.loads(listed.stdout)["versions"]] == [1]

    # The state is in the server: read it back with a plain client.
    lam = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1")
    (only,) = lam.list_layer_versions(LayerName="test-layer")["LayerVersions"]
    assert only["LayerVersionArn"] == arn
    assert Path(env["INVOKE_LAYER_ARN_FILE"]).read_text().strip() == arn
    config = json.loads(Path(env["INVOKE_LAYER_CHALICE_CONFIG"]).read_text())
    assert config["stages"]["prod"]["layers"] == [arn]
    assert (project / ".chalice" / "config.json").read_bytes() == real_config
    assert not (project / ".layer-arn.txt").exists()


def _run_in_process(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        program.run(["inv", *argv])
    return int(exit_info.value.code or 0), capsys.readouterr().err


CASES = {
    "missing-credentials": (
        {
            "AWS_ACCESS_KEY_ID": None,
            "AWS_SECRET_ACCESS_KEY": None,
            "AWS_EC2_METADATA_DISABLED": "true",
        },
        "no AWS credentials found",
    ),
    "missing-region": (
        {"INVOKE_LAYER_REGION": "", "AWS_DEFAULT_REGION": None, "AWS_REGION": None},
        "no AWS region set",
    ),
    "invalid-bucket": ({"INVOKE_LAYER_BUCKET": "Bad_Bucket"}, "not a valid S3 bucket name"),
    "over-budget": ({"INVOKE_LAYER_BUDGET_MB": "0.001"}, "over the budget"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_user_errors_end_in_one_error_line_and_change_nothing(
    case: str,
    project: Path,
    endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    changes, expected = CASES[case]
    monkeypatch.chdir(project)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    for name, value in changes.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    config_before = (project / ".chalice" / "config.json").read_bytes()

    code, err = _run_in_process(["layer.deploy"], capsys)

    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expected in errors[0], err
    assert "Traceback" not in err
    assert (project / ".chalice" / "config.json").read_bytes() == config_before
    assert not (project / ".layer-arn.txt").exists()
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    assert "test-layer-bucket" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_bucket_in_another_region_is_one_error_line(
    project: Path,
    endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-1").create_bucket(
        Bucket="test-layer-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    monkeypatch.chdir(project)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    code, err = _run_in_process(["layer.deploy"], capsys)
    assert code == 1
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert "is in eu-west-1, not us-east-1" in line
    assert not (project / ".layer-arn.txt").exists()


@pytest.mark.parametrize("days", ["0", "-5"])
def test_lifecycle_days_zero_or_negative_is_an_error(
    days: str, project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project)
    code, err = _run_in_process(["layer.lifecycle", f"--days={days}"], capsys)
    assert code == 1
    # 0 is a number below the range; '-5' is no number's text (no sign: the one rule).
    said = "must be at least 1" if days == "0" else "must be a whole number"
    assert err.strip().splitlines() == [f"error: --days {said}, got '{days}'"]
