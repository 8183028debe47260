"""The lifecycle rule: merged into the bucket's rules by ID, never dropping another rule."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws
from support.fakes import moto_clients

from layer_tasks.aws import s3
from layer_tasks.aws.session import Clients
from layer_tasks.errors import LayerError

OTHER_RULE = {
    "ID": "logs-expire",
    "Status": "Enabled",
    "Filter": {"Prefix": "logs/"},
    "Expiration": {"Days": 7},
}


@pytest.fixture
def clients() -> Iterator[Clients]:
    with mock_aws():
        clients = moto_clients(plain_http=True)
        clients.s3.create_bucket(Bucket="rules-bucket")
        yield clients


def _rules(clients: Clients) -> dict[str, dict]:
    config = clients.s3.get_bucket_lifecycle_configuration(Bucket="rules-bucket")
    return {rule["ID"]: rule for rule in config["Rules"]}


def test_rule_created_on_a_bucket_without_lifecycle(clients: Clients) -> None:
    change = s3.ensure_lifecycle(clients.s3, "rules-bucket", "layers", "deps", 90)
    assert change == "create"
    rule = _rules(clients)["layer-tasks-deps"]
    assert rule["Filter"] == {"Prefix": "layers/deps/"}
    assert rule["Expiration"] == {"Days": 90}
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert s3.ensure_lifecycle(clients.s3, "rules-bucket", "layers", "deps", 90) is None


def test_rule_merged_keeping_other_rules_and_updated_by_id(clients: Clients) -> None:
    clients.s3.put_bucket_lifecycle_configuration(
        Bucket="rules-bucket", LifecycleConfiguration={"Rules": [OTHER_RULE]}
    )
    assert s3.ensure_lifecycle(clients.s3, "rules-bucket", "layers", "deps", 90) == "create"
    assert set(_rules(clients)) == {"logs-expire", "layer-tasks-deps"}

    assert s3.ensure_lifecycle(clients.s3, "rules-bucket", "layers", "deps", 30) == "update"
    rules = _rules(clients)
    assert set(rules) == {"logs-expire", "layer-tasks-deps"}
    assert rules["layer-tasks-deps"]["Expiration"] == {"Days": 30}
    assert rules["logs-expire"]["Expiration"] == {"Days": 7}
    assert rules["logs-expire"]["Filter"] == {"Prefix": "logs/"}


@pytest.mark.parametrize("days", [0, -1, -90])
def test_zero_or_negative_days_rejected_without_change(clients: Clients, days: int) -> None:
    with pytest.raises(LayerError, match="1 or more"):
        s3.ensure_lifecycle(clients.s3, "rules-bucket", "layers", "deps", days)
    assert s3.get_lifecycle_rules(clients.s3, "rules-bucket") == []


def test_merge_is_pure_and_keeps_order() -> None:
    ours = s3.lifecycle_rule("p", "n", 5)
    merged, change = s3.merge_lifecycle([OTHER_RULE, {**ours, "Expiration": {"Days": 1}}], ours)
    assert change == "update"
    assert merged == [OTHER_RULE, ours]
