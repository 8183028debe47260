"""Cleanup against moto: old versions go, referenced ones and the newest N stay."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import fakes

from layer_tasks.aws.lambda_ import iter_layer_versions
from layer_tasks.deploy.cleanup import check_keep, plan_cleanup, run_cleanup
from layer_tasks.errors import LayerError
from layer_tasks.project.chalice_config import all_referenced_arns

REGION = "us-east-1"
NAME = "deps"


def small_zip() -> bytes:
    return fakes.zip_bytes("X = 1\n")


def publish_n(lam: Any, n: int) -> list[str]:
    return [
        str(
            lam.publish_layer_version(
                LayerName=NAME, Content={"ZipFile": small_zip()}, CompatibleRuntimes=["python3.12"]
            )["LayerVersionArn"]
        )
        for _ in range(n)
    ]


def remaining(lam: Any) -> list[int]:
    return [v.version for v in iter_layer_versions(lam, NAME)]


def config_file(tmp_path: Path, stages: dict[str, list[str]]) -> Path:
    path = tmp_path / "config.json"
    data = {"stages": {stage: {"layers": layers} for stage, layers in stages.items()}}
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def test_cleanup_keeps_newest_and_every_referenced_version(tmp_path: Path, lam: Any) -> None:
    arns = publish_n(lam, 6)
    config = config_file(tmp_path, {"prod": [arns[1]], "dev": [arns[2]]})
    versions = list(iter_layer_versions(lam, NAME))
    plan = plan_cleanup(NAME, versions, keep=2, referenced=all_referenced_arns(config))
    assert [v.version for v in plan.keep] == [6, 5]
    assert [v.version for v in plan.referenced] == [3, 2]
    assert [v.version for v in plan.delete] == [1, 4]
    log: list[str] = []
    assert run_cleanup(lam, plan, log=log.append) == [1, 4]
    assert sorted(remaining(lam)) == [2, 3, 5, 6]
    assert log[0].startswith("deleted deps version 1 (created ")
    assert "can no longer be rolled back to" in log[0]


def test_cleanup_keep_one_deletes_nothing_a_stage_uses(tmp_path: Path, lam: Any) -> None:
    arns = publish_n(lam, 3)
    config = config_file(tmp_path, {"prod": [arns[0]]})
    plan = plan_cleanup(NAME, list(iter_layer_versions(lam, NAME)), 1, all_referenced_arns(config))
    run_cleanup(lam, plan, log=lambda _: None)
    assert sorted(remaining(lam)) == [1, 3]


def test_cleanup_dry_run_deletes_nothing(lam: Any) -> None:
    publish_n(lam, 4)
    plan = plan_cleanup(NAME, list(iter_layer_versions(lam, NAME)), 1, [])
    log: list[str] = []
    assert run_cleanup(lam, plan, dry_run=True, log=log.append) == []
    assert sorted(remaining(lam)) == [1, 2, 3, 4]
    assert log == [
        f"would delete deps version {n} (created {v.created})"
        for n, v in zip([1, 2, 3], plan.delete, strict=True)
    ]


def test_cleanup_function_reference_protects(lam: Any) -> None:
    arns = publish_n(lam, 3)
    # Another layer's ARN with the same version number must not protect ours.
    other = f"arn:aws:lambda:{REGION}:123456789012:layer:other:2"
    plan = plan_cleanup(NAME, list(iter_layer_versions(lam, NAME)), 1, [arns[0], other])
    assert [v.version for v in plan.delete] == [2]


@pytest.mark.parametrize("keep", [0, -1])
def test_cleanup_refuses_keep_zero(lam: Any, keep: int) -> None:
    publish_n(lam, 2)
    with pytest.raises(LayerError, match=r"at least 1.*rollback impossible"):
        plan_cleanup(NAME, list(iter_layer_versions(lam, NAME)), keep, [])
    assert sorted(remaining(lam)) == [1, 2]


@pytest.mark.parametrize("text", ["x", "1.5", "", None, True])
def test_cleanup_keep_must_be_a_number(text: object) -> None:
    with pytest.raises(LayerError, match=r"--keep must be a whole number"):
        check_keep(text)


def test_cleanup_keep_parses_cli_text() -> None:
    assert check_keep("3") == 3
    assert check_keep(2) == 2
