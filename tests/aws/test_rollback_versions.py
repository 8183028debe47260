"""Rollback against moto: check the version, then change the config and the ARN file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from support import fakes

from layer_tasks.config.settings import LayerSettings
from layer_tasks.deploy.rollback import apply_rollback, describe, parse_version, plan_rollback
from layer_tasks.errors import LayerError

REGION = "us-east-1"
NAME = "deps"


def layer_zip() -> bytes:
    return fakes.zip_bytes("X = 1\n")


def publish(
    client: Any, *, runtime: str = "python3.12", arch: str = "x86_64", name: str = NAME
) -> str:
    response = client.publish_layer_version(
        LayerName=name,
        Content={"ZipFile": layer_zip()},
        CompatibleRuntimes=[runtime],
        CompatibleArchitectures=[arch],
    )
    return str(response["LayerVersionArn"])


def make_settings(tmp_path: Path, **extra: Any) -> LayerSettings:
    raw = {"name": NAME, "region": REGION, "stage": "prod", "python": "3.12", **extra}
    return LayerSettings.from_mapping(raw, base_dir=tmp_path)


def project(tmp_path: Path, prod_layers: list[str]) -> LayerSettings:
    settings = make_settings(tmp_path)
    settings.chalice_config.parent.mkdir(parents=True)
    config = {
        "version": "2.0",
        "app_name": "app",
        "automatic_layer": False,
        "stages": {
            "dev": {"api_gateway_stage": "api", "layers": []},
            "prod": {"api_gateway_stage": "api", "layers": prod_layers},
        },
        "environment_variables": {"KEY": "value"},
    }
    settings.chalice_config.write_text(json.dumps(config, indent=2) + "\n")
    settings.arn_file.write_text((prod_layers[0] if prod_layers else "") + "\n")
    return settings


def snapshot(settings: LayerSettings) -> tuple[bytes, bytes]:
    return settings.chalice_config.read_bytes(), settings.arn_file.read_bytes()


def test_rollback_to_existing_version(tmp_path: Path, lam: Any) -> None:
    v1, v2 = publish(lam), publish(lam)
    settings = project(tmp_path, [v2])
    original = json.loads(settings.chalice_config.read_text())

    plan = plan_rollback(lam, settings, version="1")
    apply_rollback(plan, settings, region=REGION, client=lam)

    config = json.loads(settings.chalice_config.read_text())
    assert config["stages"]["prod"]["layers"] == [v1]
    original["stages"]["prod"]["layers"] = [v1]
    assert config == original
    assert settings.chalice_config.read_text() == json.dumps(original, indent=2) + "\n"
    assert settings.arn_file.read_text() == v1 + "\n"
    assert plan.was is not None and plan.was.version == 2
    assert plan.now.version == 1 and plan.now.code_size == len(layer_zip())
    assert describe("was", plan.was, plan.was_detail).startswith("was: version 2  created ")
    assert f"{len(layer_zip()):,} bytes zipped" in describe("now", None, plan.now)


def test_rollback_keeps_other_layers_of_the_stage(tmp_path: Path, lam: Any) -> None:
    other = publish(lam, name="extension")
    v1, v2 = publish(lam), publish(lam)
    settings = project(tmp_path, [other, v2])
    apply_rollback(plan_rollback(lam, settings, version=1), settings, region=REGION)
    assert json.loads(settings.chalice_config.read_text())["stages"]["prod"]["layers"] == [
        other,
        v1,
    ]


@pytest.mark.parametrize("bad", ["two", "0", "-1", "", "1.5", " ", True])
def test_rollback_version_must_be_positive_integer(tmp_path: Path, lam: Any, bad: object) -> None:
    publish(lam)
    v2 = publish(lam)
    settings = project(tmp_path, [v2])
    before = snapshot(settings)
    with pytest.raises(LayerError, match=r"--version must be a positive whole number"):
        plan_rollback(lam, settings, version=bad)
    assert snapshot(settings) == before


def test_rollback_parse_version_accepts_digits() -> None:
    assert parse_version("7") == 7
    assert parse_version(3) == 3
    for text in (" 12 ", "+12", "12\n", "\u0661\u0662"):  # one rule: refused, not trimmed
        with pytest.raises(LayerError, match="positive whole number"):
            parse_version(text)


def test_rollback_missing_version(tmp_path: Path, lam: Any) -> None:
    publish(lam)
    v2 = publish(lam)
    settings = project(tmp_path, [v2])
    before = snapshot(settings)
    with pytest.raises(LayerError, match=r"version 99 does not exist"):
        plan_rollback(lam, settings, version="99")
    assert snapshot(settings) == before


def test_rollback_deleted_version(tmp_path: Path, lam: Any) -> None:
    publish(lam)
    v2 = publish(lam)
    lam.delete_layer_version(LayerName=NAME, VersionNumber=1)
    settings = project(tmp_path, [v2])
    before = snapshot(settings)
    with pytest.raises(LayerError, match=r"version 1 does not exist .*deleted"):
        plan_rollback(lam, settings, version="1")
    assert snapshot(settings) == before


def test_rollback_other_architecture(tmp_path: Path, lam: Any) -> None:
    publish(lam, arch="arm64")
    v2 = publish(lam)
    settings = project(tmp_path, [v2])
    before = snapshot(settings)
    with pytest.raises(LayerError, match=r"built for arm64, not x86_64"):
        plan_rollback(lam, settings, version="1")
    assert snapshot(settings) == before


def test_rollback_other_runtime(tmp_path: Path, lam: Any) -> None:
    publish(lam, runtime="python3.11")
    v2 = publish(lam)
    settings = project(tmp_path, [v2])
    with pytest.raises(LayerError, match=r"runtimes python3.11, not python3.12"):
        plan_rollback(lam, settings, version="1")


def test_rollback_previous_skips_deleted(tmp_path: Path, lam: Any) -> None:
    v1 = publish(lam)
    publish(lam)
    v3 = publish(lam)
    publish(lam)  # v4 is newer than what the stage uses: not "previous"
    lam.delete_layer_version(LayerName=NAME, VersionNumber=2)
    settings = project(tmp_path, [v3])
    plan = plan_rollback(lam, settings, previous=True)
    assert plan.now.version == 1
    apply_rollback(plan, settings, region=REGION)
    assert json.loads(settings.chalice_config.read_text())["stages"]["prod"]["layers"] == [v1]
    assert settings.arn_file.read_text() == v1 + "\n"


def test_rollback_previous_without_older(tmp_path: Path, lam: Any) -> None:
    v1 = publish(lam)
    settings = project(tmp_path, [v1])
    with pytest.raises(LayerError, match=r"no version of layer deps older than 1"):
        plan_rollback(lam, settings, previous=True)
    empty = project(tmp_path / "other", [])
    with pytest.raises(LayerError, match=r"does not use layer deps"):
        plan_rollback(lam, empty, previous=True)


def test_rollback_needs_exactly_one_of_version_and_previous(tmp_path: Path, lam: Any) -> None:
    settings = project(tmp_path, [publish(lam)])
    with pytest.raises(LayerError, match=r"either --version N or --previous"):
        plan_rollback(lam, settings)
    with pytest.raises(LayerError, match=r"either --version N or --previous"):
        plan_rollback(lam, settings, version="1", previous=True)


def create_function(lam: Any, layers: list[str]) -> None:
    fakes.create_function(lam, boto3.client("iam", region_name=REGION), layers)


def function_layer_arns(lam: Any) -> list[str]:
    return [layer["Arn"] for layer in lam.get_function_configuration(FunctionName="api")["Layers"]]


def test_rollback_also_wires_function(tmp_path: Path, lam: Any) -> None:
    other = publish(lam, name="extension")
    v1, v2 = publish(lam), publish(lam)
    create_function(lam, [other, v2])
    settings = project(tmp_path, [v2])
    change = apply_rollback(
        plan_rollback(lam, settings, version="1"),
        settings,
        region=REGION,
        client=lam,
        function="api",
    )
    assert change == ([other, v2], [other, v1])
    assert function_layer_arns(lam) == [other, v1]


def test_rollback_unknown_function_changes_nothing(tmp_path: Path, lam: Any) -> None:
    publish(lam)
    v2 = publish(lam)
    settings = project(tmp_path, [v2])
    before = snapshot(settings)
    plan = plan_rollback(lam, settings, version="1")
    with pytest.raises(LayerError, match=r"function 'nope' not found"):
        apply_rollback(plan, settings, region=REGION, client=lam, function="nope")
    assert snapshot(settings) == before
