"""One validation style: whole strings, ASCII classes, finite numbers, bounded reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from layer_tasks.aws.permissions import grant_for
from layer_tasks.config.settings import LayerSettings
from layer_tasks.config.validate import (
    validate_bucket_name,
    validate_function,
    validate_layer_name,
    validate_prefix,
    validate_region,
)
from layer_tasks.errors import LayerError
from layer_tasks.model.arns import is_layer_arn
from layer_tasks.model.manifest import Manifest
from layer_tasks.tasks.env import INVOKE_DEFAULTS, check_environment, name_env_source
from layer_tasks.util.bounds import check_json_depth, read_bounded

ARABIC_ONE = "\u0661"


@pytest.mark.parametrize("prefix", ["", "layers", "team/layers", "a.b/c-d_e", "x!*'()"])
def test_safe_prefixes_pass(prefix: str) -> None:
    assert validate_prefix(prefix) == prefix


@pytest.mark.parametrize(
    "prefix", ["../x", "x/..", "/x", "x/", "a//b", "a/./b", ".", "a b", "a\nb", "é", "a\\b"]
)
def test_unsafe_prefixes_fail(prefix: str) -> None:
    with pytest.raises(LayerError, match=r"layer\.prefix .* is not a safe S3 key prefix"):
        validate_prefix(prefix)


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (validate_layer_name, "name\n"),
        (validate_bucket_name, "bucket-name\n"),
        (validate_bucket_name, "1.2.3.4\n"),
        (validate_region, "us-east-1\n"),
        (validate_region, f"us-east-{ARABIC_ONE}"),
        (validate_region, "us_east!1"),
        (validate_function, "my-fn\n"),
        (validate_function, "my fn"),
        (validate_function, f"fn{ARABIC_ONE}"),
    ],
)
def test_names_are_matched_whole_and_ascii(check: object, value: str) -> None:
    with pytest.raises(LayerError):
        check(value)  # type: ignore[operator]


@pytest.mark.parametrize(
    "function",
    [
        "my-fn",
        "my_fn:live",
        "123456789012:function:my-fn",
        "arn:aws:lambda:eu-west-1:123456789012:function:my-fn:$LATEST",
    ],
)
def test_function_names_and_arns_lambda_takes_pass(function: str) -> None:
    assert validate_function(function) == function


def test_arn_and_account_patterns_are_whole_and_ascii() -> None:
    good = "arn:aws:lambda:us-east-1:123456789012:layer:deps:3"
    assert is_layer_arn(good)
    assert not is_layer_arn(good.replace("123456789012", ARABIC_ONE * 12))
    assert not is_layer_arn(good.replace("us-east-1", f"us-east-{ARABIC_ONE}"))
    assert grant_for("123456789012").principal == "123456789012"
    with pytest.raises(LayerError):
        grant_for(ARABIC_ONE * 12)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("budget_mb", float("inf"), "finite"),
        ("budget_mb", float("nan"), "finite"),
        ("budget_mb", "1e400", "number of MiB"),  # no exponent in a number's text
        ("budget_mb", 10**400, "finite"),
        ("reserve_mb", -1, "zero or more"),
        ("budget_mb", True, "number of MiB"),
        ("budget_mb", "1_000", "number of MiB"),
        ("lifecycle_days", "1.5", "whole number"),
        ("lifecycle_days", 1.5, "whole number"),
        ("lifecycle_days", False, "whole number"),
        ("workers", "\u0663", "whole number"),
        ("share_with", [12345678901], "quote account IDs"),
        ("prune_custom", {"x": {"patterns": [True]}}, "list of strings"),
        ("prune_custom", {"x": {"patterns": ["[z-a]"]}}, "not a valid glob"),
        ("prune_custom", {"x": {"patterns": ["[!]"]}}, "not a valid glob"),
        ("stage", "\ud800", "lone surrogate"),
        ("stage", "prod\n", "not a Chalice stage name"),
        ("stage", "pr od", "not a Chalice stage name"),
        ("dist_dir", "out\udcff", "lone surrogate"),
    ],
)
def test_bad_values_are_one_line_naming_the_key(key: str, value: object, message: str) -> None:
    with pytest.raises(LayerError, match=message) as info:
        LayerSettings.from_mapping({key: value})
    assert f"layer.{key}" in str(info.value)


def test_good_numbers_still_pass() -> None:
    s = LayerSettings.from_mapping({"budget_mb": "150.0", "reserve_mb": "10", "workers": "2"})
    assert (s.budget_mb, s.reserve_mb, s.workers) == (150.0, 10.0, 2)
    # Refused, not trimmed, as a name is: the number rule takes nothing around the digits.
    for text in (" 10 ", "+2", "2\n", "-0", "2e0"):
        with pytest.raises(LayerError, match=r"layer\.workers must be a whole number"):
            LayerSettings.from_mapping({"workers": text})


def test_environment_that_invoke_would_ignore_is_an_error() -> None:
    layer = dict(INVOKE_DEFAULTS)
    ok = {"INVOKE_LAYER_BUCKET": "b", "INVOKE_LAYER_PRUNE_DOCS": "false", "HOME": "/root"}
    check_environment(ok, layer)
    for var, message in [
        ("INVOKE_LAYER_PRUNE", r"layer\.prune is a mapping.*INVOKE_LAYER_PRUNE_"),
        ("INVOKE_LAYER_PRUNE_CUSTOM", r"layer\.prune_custom is a mapping.*invoke\.yaml"),
        ("INVOKE_LAYER_BUKET", "not a layer setting"),
    ]:
        with pytest.raises(LayerError, match=message):
            check_environment({**ok, var: "x"}, layer)
    # A bool set in a file: Invoke's cast reads "false" as true.
    layer["verify"] = True
    check_environment({"INVOKE_LAYER_VERIFY": "0"}, layer)
    for text in ("false", "No", "off"):
        with pytest.raises(LayerError, match=r"would be read as true.*use 0 or 1"):
            check_environment({"INVOKE_LAYER_VERIFY": text}, layer)


def test_an_error_names_the_variable_that_set_the_value() -> None:
    env = {"INVOKE_LAYER_PRUNE": "x", "INVOKE_LAYER_STAGE": "s"}
    message = "layer.prune_custom must map a rule name to {patterns: [...], keep: [...]}"
    assert name_env_source(message, env) == message  # not INVOKE_LAYER_PRUNE's
    assert name_env_source("layer.stage bad", env) == "layer.stage bad (set by INVOKE_LAYER_STAGE)"
    # A task flag (--stage) overrode the variable: the flag is to blame.
    assert name_env_source("layer.stage bad", env, {"stage"}) == "layer.stage bad"


def test_json_depth_counts_brackets_outside_strings_only() -> None:
    check_json_depth(json.dumps({"s": "[" * 500, "a": [[[]]]}), "doc")
    check_json_depth("[" * 100 + "]" * 100, "doc")
    with pytest.raises(LayerError, match="more than 100 levels deep"):
        check_json_depth("[" * 101 + "]" * 101, "doc")


def test_read_bounded_stops_at_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 10)
    assert read_bounded(path, "f", limit=10) == b"x" * 10
    with pytest.raises(LayerError, match="larger than 9 bytes"):
        read_bounded(path, "f", limit=9)
    with pytest.raises(LayerError, match="larger than 1,024 bytes"):
        read_bounded(Path("/dev/zero"), "f", limit=1024)


GOOD_MANIFEST = {
    "name": "x",
    "python": "3.12",
    "architecture": "x86_64",
    "code_sha256": "abc",
    "zip_bytes": 1,
    "unzipped_bytes": 1,
    "files": 1,
    "requirements_sha256": "d",
    "distributions": [{"name": "a", "version": "1", "unzipped_bytes": 1, "files": 1}],
    "pruned": {"docs": 3},
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"zip_bytes": "1"}, "zip_bytes is '1', not a whole number"),
        ({"files": True}, "files is True, not a whole number"),
        ({"name": 3}, "name is 3, not text"),
        ({"distributions": {}}, "distributions is {}, not a list"),
        ({"distributions": [{"name": "a"}]}, r"distributions\[0\]\.version"),
        ({"pruned": {"docs": "3"}}, r"pruned\.docs is '3'"),
        ({"code_sha256": None}, "code_sha256 is None"),
    ],
)
def test_a_hand_edited_manifest_is_refused_on_load(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps({**GOOD_MANIFEST, **change}), encoding="utf-8")
    with pytest.raises(LayerError, match=message):
        Manifest.load(path)


def test_a_good_manifest_loads(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(GOOD_MANIFEST), encoding="utf-8")
    assert Manifest.load(path).distributions[0].name == "a"
