"""Every ARN checked whole (issue 20, section 3): one parser per kind, each field's form
and range, the partition against the region, the region and account against the target."""

from __future__ import annotations

import json
import re
from pathlib import Path

import botocore
import pytest

from layer_tasks.errors import LayerError
from layer_tasks.model.arns import (
    MAX_VERSION,
    check_function_target,
    check_kms_key,
    parse_function,
    parse_layer_arn,
    partition_of,
)

REGIONS = [
    "us-east-1", "eu-west-3", "ap-northeast-2", "il-central-1", "mx-central-1",
    "cn-north-1", "cn-northwest-1", "us-gov-west-1", "us-gov-east-1", "us-iso-east-1",
    "us-isob-east-1", "eu-isoe-west-1", "us-isof-south-1",
]  # fmt: skip


@pytest.mark.parametrize("region", REGIONS)
def test_the_partition_table_agrees_with_botocore(region: str) -> None:
    data = json.loads((Path(botocore.__file__).parent / "data" / "partitions.json").read_text())
    expected = next(p["id"] for p in data["partitions"] if re.fullmatch(p["regionRegex"], region))
    assert partition_of(region) == expected


def test_a_layer_arn_is_checked_whole() -> None:
    ok = parse_layer_arn(f"arn:aws-cn:lambda:cn-north-1:123456789012:layer:deps:{MAX_VERSION}")
    assert ok.version == MAX_VERSION and ok.partition == "aws-cn"
    for bad, why in [
        ("arn:aws-us-gov:lambda:ap-northeast-2:123456789012:layer:deps:1", "names partition"),
        ("arn:aws:lambda:cn-north-1:123456789012:layer:deps:1", "names partition"),
        (f"arn:aws:lambda:us-east-1:123456789012:layer:deps:{MAX_VERSION + 1}", "can hold"),
        ("arn:aws:lambda:us-east-1:123456789012:layer:deps:0", "is not a Lambda layer"),
    ]:
        with pytest.raises(LayerError, match=why):
            parse_layer_arn(bad)


@pytest.mark.parametrize(
    ("text", "account", "region", "qualifier"),
    [
        ("fn", None, None, None),
        ("fn:live", None, None, "live"),
        ("123456789012:function:fn", "123456789012", None, None),
        ("arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST", "123456789012", "us-east-1", "$LATEST"),
        ("arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:fn:3", "123456789012", "us-gov-west-1", "3"),
    ],
)  # fmt: skip
def test_function_forms(
    text: str, account: str | None, region: str | None, qualifier: str | None
) -> None:
    ref = parse_function(text)
    assert (ref.name, ref.account, ref.region, ref.qualifier) == ("fn", account, region, qualifier)


def test_a_function_is_checked_against_the_target() -> None:
    asked: list[int] = []

    def account() -> str:
        asked.append(1)
        return "123456789012"

    check_function_target("fn", region="us-east-1", account=account)
    assert asked == []  # no account in the name: STS is not asked
    check_function_target(
        "arn:aws:lambda:us-east-1:123456789012:function:fn", region="us-east-1", account=account
    )
    with pytest.raises(LayerError, match="is in region eu-west-1, but this run targets us-east-1"):
        check_function_target(
            "arn:aws:lambda:eu-west-1:123456789012:function:fn", region="us-east-1"
        )
    with pytest.raises(LayerError, match="belongs to account 210987654321"):
        check_function_target("210987654321:function:fn", region="us-east-1", account=account)
    with pytest.raises(LayerError, match="names partition aws-cn"):
        check_function_target(
            "arn:aws-cn:lambda:us-east-1:123456789012:function:fn", region="us-east-1"
        )
    with pytest.raises(LayerError, match="more than Lambda can hold"):
        parse_function(f"fn:{MAX_VERSION + 1}")


def test_kms_keys() -> None:
    key = "0123abcd-0123-4567-89ab-0123456789ab"
    for ok in (
        key,
        "mrk-" + "0" * 32,
        "alias/layers",
        f"arn:aws:kms:us-east-1:123456789012:key/{key}",
    ):
        check_kms_key(ok, regions=["us-east-1"])
    with pytest.raises(LayerError, match="zips go to a bucket in eu-west-1"):
        check_kms_key(
            f"arn:aws:kms:us-east-1:123456789012:key/{key}", regions=["us-east-1", "eu-west-1"]
        )
    with pytest.raises(LayerError, match="names partition"):
        check_kms_key("arn:aws-cn:kms:us-east-1:123456789012:alias/x", regions=["us-east-1"])
    with pytest.raises(LayerError, match="is not a KMS key"):
        check_kms_key("key/abc", regions=["us-east-1"])


# Whole values (issue 20, fourth review): whitespace around a name, an ARN or an
# account ID is refused wherever it comes from, never trimmed.
WHOLE = "arn:aws:lambda:us-east-1:123456789012:layer:deps:3"


@pytest.mark.parametrize("text", [f"{WHOLE} ", f"\n{WHOLE}", f"{WHOLE}\u2028"])
def test_a_layer_arn_with_whitespace_is_no_arn(text: str) -> None:
    from layer_tasks.model.arns import is_layer_arn

    assert not is_layer_arn(text)
    with pytest.raises(LayerError, match=r"has whitespace around it: remove it"):
        parse_layer_arn(text, source="--arn")


def test_a_chalice_config_arn_with_whitespace_is_refused_not_skipped(tmp_path: Path) -> None:
    """Skipped as "not an ARN", cleanup would take version 3 for unused and delete it."""
    from layer_tasks.project import chalice_config

    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"stages": {"prod": {"lambda_functions": {"f": {"layers": [WHOLE + " "]}}}}})
    )
    with pytest.raises(LayerError, match=rf"the layer ARN in {re.escape(str(config))} '"):
        chalice_config.all_referenced_arns(config)
    config.write_text(json.dumps({"stages": {"prod": {"layers": [" " + WHOLE]}}}))
    with pytest.raises(LayerError, match=r"stages\.prod\.layers in .* holds ' arn:"):
        chalice_config.read_stage_layers(config, "prod")


@pytest.mark.parametrize("entry", ["123456789012\n", " 123456789012", "o-abcdefghij\t", " * "])
def test_a_share_with_entry_is_granted_as_written_or_refused(entry: str) -> None:
    from layer_tasks.aws.permissions import grant_for

    with pytest.raises(LayerError, match=r"^layer\.share_with entry .* has whitespace around it"):
        grant_for(entry)
    assert grant_for(entry.strip()).principal in ("123456789012", "*")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("us-east-1,eu-west-1", ("us-east-1", "eu-west-1")),
        ("us-east-1, eu-west-1", ("us-east-1", "eu-west-1")),  # layout: spaces by commas
        ("us-east-1 , eu-west-1,", ("us-east-1", "eu-west-1")),
        (["us-east-1", "eu-west-1"], ("us-east-1", "eu-west-1")),
        (" us-east-1", LayerError),
        ("us-east-1\n", LayerError),
        ("us-east-1,\teu-west-1", LayerError),
        (["us-east-1 "], LayerError),
        (["\u00a0us-east-1"], LayerError),
    ],
)
def test_a_list_setting_is_refused_with_whitespace_around_an_item(
    value: object, expected: object
) -> None:
    from layer_tasks.config.validate import as_str_list

    if expected is LayerError:
        with pytest.raises(LayerError, match=r"^layer\.regions( entry)? .* has whitespace"):
            as_str_list("regions", value)
    else:
        assert as_str_list("regions", value) == expected


def test_a_python_version_or_a_diff_side_is_not_trimmed(tmp_path: Path) -> None:
    from layer_tasks.config.settings import LayerSettings
    from layer_tasks.report.compare import parse_side

    with pytest.raises(LayerError, match=r"layer\.python '3\.12 ' is not a Lambda Python"):
        LayerSettings.from_mapping({"python": "3.12 "}, base_dir=tmp_path)
    assert parse_side("3", base_dir=tmp_path).version == 3
    with pytest.raises(LayerError, match=r"^' 3' is not a version number"):
        parse_side(" 3", base_dir=tmp_path)


@pytest.mark.parametrize(
    ("place", "where"),
    [
        ({"stages": {"dev": {"layers": ["ENTRY"]}}}, "stages.dev.layers"),
        ({"layers": ["ENTRY"], "stages": {"dev": {}}}, "layers"),
        (
            {"stages": {"dev": {"lambda_functions": {"f": {"layers": ["ENTRY"]}}}}},
            "stages.dev.lambda_functions.f.layers",
        ),
    ],
)
@pytest.mark.parametrize(
    ("entry", "shown"),
    [
        (5, "5, which is not a layer version ARN string"),
        (None, "null, which is not a layer version ARN string"),
        (["x"], r'\["x"\], which is not a layer version ARN string'),
        (WHOLE[:-1] + "\u0661", re.escape(repr(WHOLE[:-1] + "\u0661")) + " is not a Lambda"),
        (WHOLE[:-1] + "0", re.escape(repr(WHOLE[:-1] + "0")) + " is not a Lambda"),
        (WHOLE[:-1] + str(2**63), ".* has version 9223372036854775808, more than Lambda"),
        ("deps:3", "'deps:3' is not a Lambda layer version ARN"),
    ],
)
def test_a_chalice_layer_entry_that_is_no_version_arn_is_refused_not_skipped(
    tmp_path: Path, place: dict[str, object], where: str, entry: object, shown: str
) -> None:
    """I: cleanup passed over ``[5]`` or a version in Arabic-Indic digits as "not an
    ARN" (and would count the version meant as unused); each list Chalice reads as
    layers is checked whole, the error naming where it is and the entry."""
    from layer_tasks.project import chalice_config

    config = tmp_path / "config.json"
    config.write_text(json.dumps(place).replace('"ENTRY"', json.dumps(entry)))
    pattern = rf"^{re.escape(where)} in {re.escape(str(config))} holds {shown}"
    with pytest.raises(LayerError, match=pattern):
        chalice_config.all_referenced_arns(config)
    if where == "stages.dev.layers":
        with pytest.raises(LayerError, match=pattern):
            chalice_config.read_stage_layers(config, "dev")
        with pytest.raises(LayerError, match=pattern):
            chalice_config.set_stage_layers(config, "dev", [WHOLE])


def test_another_layer_or_account_is_still_a_chalice_layer_entry(tmp_path: Path) -> None:
    from layer_tasks.project import chalice_config

    others = [WHOLE, "arn:aws:lambda:us-east-1:999999999999:layer:other:7"]
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"stages": {"dev": {"layers": others}}}))
    assert chalice_config.all_referenced_arns(config) == set(others)
    assert chalice_config.read_stage_layers(config, "dev") == others
