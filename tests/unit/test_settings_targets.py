"""Settings of several targets: architectures, regions, bucket templates, names, SSM."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError


def load(tmp_path: Path, **raw: Any) -> LayerSettings:
    return LayerSettings.from_mapping({"name": "deps", "bucket": "deps-bucket", **raw}, tmp_path)


def test_one_target_is_the_shorthand(tmp_path: Path) -> None:
    settings = load(tmp_path, architecture="arm64", region="eu-west-1")
    assert settings.architectures == ("arm64",)
    assert [s.name for s in settings.per_architecture()] == ["deps"]
    only = settings.per_architecture()[0].for_region("eu-west-1")
    assert (only.zip_path.name, only.bucket) == ("deps.zip", "deps-bucket")


def test_several_targets_get_their_own_names_zips_and_buckets(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        architectures=["x86_64", "arm64"],
        regions=["ap-northeast-2", "us-east-1"],
        ssm_parameter="/layers/{name}/{python}/{arch}",
    )
    assert settings.region == "ap-northeast-2"  # the first region is home
    targets = [a.for_region(r) for a in settings.per_architecture() for r in settings.regions]
    assert [(t.name, t.architecture, t.region, t.bucket) for t in targets] == [
        ("deps", "x86_64", "ap-northeast-2", "deps-bucket-ap-northeast-2"),
        ("deps", "x86_64", "us-east-1", "deps-bucket-us-east-1"),
        ("deps-arm64", "arm64", "ap-northeast-2", "deps-bucket-ap-northeast-2"),
        ("deps-arm64", "arm64", "us-east-1", "deps-bucket-us-east-1"),
    ]
    assert [t.zip_path.name for t in targets[::2]] == ["deps-x86_64.zip", "deps-arm64.zip"]
    assert targets[2].ssm_name == "/layers/deps/3.12/arm64"
    assert settings.arns_path.name == "deps.arns.json"


def test_env_style_lists_and_a_bucket_template(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        architectures="arm64, x86_64",
        regions="us-east-1,eu-west-1",
        region="eu-west-1",
        bucket="layers-{region}-x",
        arch_name="{arch}-{name}",
    )
    assert settings.architectures == ("arm64", "x86_64")
    assert settings.region == "eu-west-1"
    assert settings.for_region("us-east-1").bucket == "layers-us-east-1-x"
    assert [s.name for s in settings.per_architecture()] == ["deps", "x86_64-deps"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"architectures": ["x86_64", "amd64"]}, "layer.architectures entry 'amd64'"),
        ({"architectures": ["arm64", "arm64"]}, "layer.architectures names 'arm64' twice"),
        ({"regions": ["us-east-1", "us-east-1 "]}, "layer.regions entry 'us-east-1 '"),
        ({"regions": ["us-east-1", "eu-west-1"], "region": "ap-south-1"}, "is not in"),
        ({"bucket": "b-{zone}"}, "layer.bucket 'b-{zone}' uses {zone}"),
        ({"bucket": "b-{region"}, "is not a template"),
        ({"bucket": "B-{region}", "regions": ["us-east-1"]}, "not a valid S3 bucket name"),
        ({"architectures": ["x86_64", "arm64"], "arch_name": "{name}"}, "put {arch} in it"),
        ({"architectures": ["x86_64", "arm64"], "arch_name": "{name}/{arch}"}, "layer name"),
        ({"stage_architecture": "arm64"}, "not one of the layer's architectures"),
        ({"ssm_parameter": "/aws/{name}"}, "not an SSM parameter name"),
        ({"ssm_parameter": "layers/{name} x"}, "not an SSM parameter name"),
        ({"ssm_parameter": "/l/{region}"}, "uses {region}"),
        ({"publish_concurrency": 0}, "layer.publish_concurrency must be at least 1"),
        ({"align_versions": "maybe"}, "layer.align_versions must be true or false"),
    ],
)
def test_bad_target_settings_are_one_clear_error(
    tmp_path: Path, raw: dict[str, Any], message: str
) -> None:
    with pytest.raises(LayerError) as caught:
        load(tmp_path, **raw)
    assert message in str(caught.value)


def test_one_layer_of_several_stays_itself(tmp_path: Path) -> None:
    settings = load(tmp_path, architectures=["x86_64", "arm64"], stage_architecture="arm64")
    arm = settings.for_architecture(settings.stage_architecture)
    # Reduced twice (a task, then open_aws): still the arm64 layer and its own zip.
    again = arm.for_architecture(arm.stage_architecture)
    assert (again.name, again.architecture, again.zip_path.name) == (
        "deps-arm64",
        "arm64",
        "deps-arm64.zip",
    )
    assert again == arm


def test_one_ssm_parameter_per_architecture(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match=r"must contain \{arch\} with several architectures"):
        load(tmp_path, architectures=["x86_64", "arm64"], ssm_parameter="/layers/{name}")
    assert load(tmp_path, ssm_parameter="/layers/{name}").ssm_parameter == "/layers/{name}"


def test_the_bucket_is_checked_in_the_home_region(tmp_path: Path) -> None:
    long = "b" * 50 + "-{region}"  # 60 characters in us-east-1, 65 in ap-southeast-2
    assert load(tmp_path, bucket=long, region="us-east-1").bucket == long
    with pytest.raises(LayerError, match="not a valid S3 bucket name"):
        load(tmp_path, bucket=long, region="ap-southeast-2")
