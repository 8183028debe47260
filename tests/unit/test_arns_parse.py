"""Layer version ARNs: parsing every partition, rejecting near-misses, swapping versions."""

from __future__ import annotations

import pytest

from layer_tasks.errors import LayerError
from layer_tasks.model.arns import (
    LayerArn,
    parse_layer_arn,
    replace_layer_versions,
    validate_layer_list,
)

ACCOUNT = "123456789012"


@pytest.mark.parametrize(
    ("text", "partition", "region"),
    [
        (f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:deps:3", "aws", "us-east-1"),
        (f"arn:aws-cn:lambda:cn-north-1:{ACCOUNT}:layer:deps:3", "aws-cn", "cn-north-1"),
        (
            f"arn:aws-us-gov:lambda:us-gov-west-1:{ACCOUNT}:layer:deps:3",
            "aws-us-gov",
            "us-gov-west-1",
        ),
        (
            f"arn:aws-iso-b:lambda:us-isob-east-1:{ACCOUNT}:layer:deps:3",
            "aws-iso-b",
            "us-isob-east-1",
        ),
    ],
)
def test_arns_parse_partitions(text: str, partition: str, region: str) -> None:
    arn = parse_layer_arn(text)
    assert arn == LayerArn(partition, region, ACCOUNT, "deps", 3)
    assert arn.unversioned == text.rsplit(":", 1)[0]
    assert str(arn) == text
    assert arn.with_version(1).arn == arn.unversioned + ":1"


@pytest.mark.parametrize(
    "text",
    [
        "",
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:deps",  # no version
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:deps:0",
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:deps:-1",
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:deps:01",
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:deps:two",
        "arn:aws:lambda:us-east-1:12345:layer:deps:1",  # short account
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:deps:1",
        f"arn:aws:s3:us-east-1:{ACCOUNT}:layer:deps:1",
        f"arn:gcp:lambda:us-east-1:{ACCOUNT}:layer:deps:1",
        f"arn:aws:lambda:useast1:{ACCOUNT}:layer:deps:1",
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:de ps:1",
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:{'x' * 141}:1",
    ],
)
def test_arns_rejects(text: str) -> None:
    with pytest.raises(LayerError, match=r"not a Lambda layer version ARN"):
        parse_layer_arn(text)


def test_arns_rejects_non_string() -> None:
    with pytest.raises(LayerError, match=r"must be a string"):
        parse_layer_arn(7)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [" {}", "{}\n", "{} ", "\t{}\r\n", "{}\u00a0"])
def test_arns_surrounding_whitespace_is_refused_not_stripped(text: str) -> None:
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:d:2"
    with pytest.raises(LayerError, match=r"has whitespace around it: remove it"):
        parse_layer_arn(text.format(arn))


def arn(name: str, version: int, account: str = ACCOUNT) -> str:
    return f"arn:aws:lambda:us-east-1:{account}:layer:{name}:{version}"


def test_arns_replace_keeps_order_and_other_layers() -> None:
    current = [arn("ext", 4, "999999999999"), arn("deps", 1), arn("tools", 2)]
    assert replace_layer_versions(current, [arn("deps", 5)]) == [
        arn("ext", 4, "999999999999"),
        arn("deps", 5),
        arn("tools", 2),
    ]


def test_arns_replace_appends_new_layer_and_goes_down_too() -> None:
    assert replace_layer_versions([arn("ext", 4)], [arn("deps", 2)]) == [
        arn("ext", 4),
        arn("deps", 2),
    ]
    # Rollback: a newer version is replaced by an older one as well.
    assert replace_layer_versions([arn("deps", 9)], [arn("deps", 2)]) == [arn("deps", 2)]


def test_arns_same_name_other_account_is_another_layer() -> None:
    current = [arn("deps", 1, "999999999999")]
    assert replace_layer_versions(current, [arn("deps", 2)]) == [current[0], arn("deps", 2)]


def test_arns_replace_refuses_sixth_layer() -> None:
    current = [arn(f"l{i}", 1) for i in range(5)]
    with pytest.raises(LayerError, match=r"6 layers.*at most 5"):
        replace_layer_versions(current, [arn("deps", 1)])


def test_arns_validate_list() -> None:
    assert [
        a.name for a in validate_layer_list([arn("a", 1), arn("b", 1)], region="us-east-1")
    ] == ["a", "b"]
    with pytest.raises(LayerError, match=r"listed twice"):
        validate_layer_list([arn("a", 1), arn("a", 2)])
    with pytest.raises(LayerError, match=r"configured region is eu-west-1"):
        validate_layer_list([arn("a", 1)], region="eu-west-1")
