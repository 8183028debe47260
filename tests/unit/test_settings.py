from __future__ import annotations

from dataclasses import MISSING, fields
from pathlib import Path

import pytest

from layer_tasks.config.settings import DEFAULTS, LayerSettings
from layer_tasks.config.validate import validate_bucket_name
from layer_tasks.errors import LayerError


def test_defaults_validate_and_paths_are_absolute(tmp_path: Path) -> None:
    s = LayerSettings.from_mapping({}, base_dir=tmp_path)
    assert s.requirements == tmp_path / "requirements-all.txt"
    assert s.zip_path == tmp_path / "dist" / f"{DEFAULTS['name']}.zip"
    assert s.runtime == "python3.12"
    assert s.budget_bytes == 262_144_000


def test_each_default_is_written_once() -> None:
    """Every key is a field, in the order of DEFAULTS, with no default of its own."""
    by_name = {f.name: f for f in fields(LayerSettings)}
    assert list(by_name)[: len(DEFAULTS)] == list(DEFAULTS)
    for key in DEFAULTS:
        assert by_name[key].default is MISSING, key
        assert by_name[key].default_factory is MISSING, key


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("python", "3.9", "not a Lambda Python runtime"),
        ("python", "abc", "not a Lambda Python runtime"),
        ("architecture", "sparc", "not a Lambda architecture"),
        ("budget_mb", "lots", "must be a number"),
        ("lifecycle_days", 0, "at least 1"),
        ("compression_level", 11, "must be at most 9, got 11"),
        # Published with every version, readable by every account it is shared with.
        ("license_info", "https://u:LicPw4455@example.com/L", "holds a URL with credentials"),
        ("license_info", "see https://token@example.com/L", "holds a URL with credentials"),
        (
            "license_info",
            "https://example.com/L?X-Amz-Security-Token=Zx9SecretPw77",
            "holds a URL with credentials",
        ),
        ("name", "bad name!", "not a valid Lambda layer name"),
        ("installer", "conda", "not supported"),
        ("prune", {"nosuch": True}, "unknown rule"),
        ("prune_custom", {"x": {"patterns": ["../etc/*"]}}, "must not contain '..'"),
        ("verify", "maybe", "true or false"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, key: str, value: object, message: str) -> None:
    with pytest.raises(LayerError, match=message) as info:
        LayerSettings.from_mapping({key: value}, base_dir=tmp_path)
    assert f"layer.{key}" in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match=r"unknown layer setting.*budgt_mb"):
        LayerSettings.from_mapping({"budgt_mb": 3}, base_dir=tmp_path)


def test_env_style_strings_are_accepted(tmp_path: Path) -> None:
    s = LayerSettings.from_mapping(
        {
            "budget_mb": "120.5",
            "verify": "false",
            "workers": "3",
            "share_with": "111111111111, 222222222222",
        },
        base_dir=tmp_path,
    )
    assert s.budget_bytes == int(120.5 * 1024 * 1024)
    assert s.verify is False and s.effective_workers == 3
    assert s.share_with == ("111111111111", "222222222222")


def test_prune_toggles_merge_with_defaults(tmp_path: Path) -> None:
    s = LayerSettings.from_mapping(
        {"prune": {"strip_so": True, "markdown": False}}, base_dir=tmp_path
    )
    assert s.prune["strip_so"] and not s.prune["markdown"] and s.prune["tests"]


@pytest.mark.parametrize(
    "bucket",
    [
        "ab",
        "Upper-case",
        "has_underscore",
        "192.168.1.1",
        "a..b",
        "xn--bucket",
        "bucket-s3alias",
        "-start",
        "end-",
    ],
)
def test_bucket_names_aws_rejects(bucket: str) -> None:
    with pytest.raises(LayerError, match="not a valid S3 bucket name"):
        validate_bucket_name(bucket)


@pytest.mark.parametrize("bucket", ["abc", "shuking-lambda-layers", "my.bucket.name", "a1-b2"])
def test_bucket_names_aws_accepts(bucket: str) -> None:
    assert validate_bucket_name(bucket) == bucket
