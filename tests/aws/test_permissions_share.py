"""Sharing against moto: each grant once, public only on an explicit "*", with a warning."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import fakes

from layer_tasks.aws.permissions import grant_for, share_with
from layer_tasks.errors import LayerError

REGION = "us-east-1"


@pytest.fixture
def lam(lam: Any) -> Any:
    """conftest's ``lam``, with version 1 of the layer "deps" to share."""
    lam.publish_layer_version(LayerName="deps", Content={"ZipFile": fakes.zip_bytes("")})
    return lam


def statements(lam: Any) -> list[dict[str, Any]]:
    policy = lam.get_layer_version_policy(LayerName="deps", VersionNumber=1)["Policy"]
    return list(json.loads(policy)["Statement"])


def test_permissions_added_once(lam: Any) -> None:
    warnings: list[str] = []
    entries = ["111122223333", "o-abcdef1234"]
    first = share_with(lam, "deps", 1, entries, warn=warnings.append)
    second = share_with(lam, "deps", 1, entries, warn=warnings.append)
    assert [g.statement_id for g in first] == [
        "layer-tasks-account-111122223333",
        "layer-tasks-org-o-abcdef1234",
    ]
    assert second == []
    found = statements(lam)
    assert sorted(s["Sid"] for s in found) == sorted(g.statement_id for g in first)
    assert {s["Action"] for s in found} == {"lambda:GetLayerVersion"}
    assert warnings == []


def test_permissions_public_only_when_explicit_and_warns(lam: Any) -> None:
    warnings: list[str] = []
    share_with(lam, "deps", 1, ["*"], warn=warnings.append)
    share_with(lam, "deps", 1, ["*"], warn=warnings.append)
    assert len(statements(lam)) == 1
    assert len(warnings) == 2 and "every AWS account" in warnings[0]


def test_permissions_nothing_configured_adds_nothing(lam: Any) -> None:
    assert share_with(lam, "deps", 1, []) == []
    share_with(lam, "deps", 1, ["111122223333"])
    assert [s["Sid"] for s in statements(lam)] == ["layer-tasks-account-111122223333"]


@pytest.mark.parametrize(
    "entry", ["12345", "o-x", "arn:aws:iam::111122223333:root", "everyone", ""]
)
def test_permissions_invalid_entry_changes_nothing(lam: Any, entry: str) -> None:
    with pytest.raises(LayerError, match=r"share_with entry"):
        share_with(lam, "deps", 1, ["111122223333", entry])
    # Validated before any call: the valid entry was not added either.
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_layer_version_policy(LayerName="deps", VersionNumber=1)


def test_permissions_grant_kinds() -> None:
    assert grant_for("o-abcdef1234").organization_id == "o-abcdef1234"
    assert grant_for("*").public
    assert not grant_for("o-abcdef1234").public
