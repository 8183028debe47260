"""Function wiring against moto: other layers kept, only this layer's version swapped."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from support import fakes

from layer_tasks.aws.functions import apply_function_layers, get_function, get_function_layers
from layer_tasks.errors import LayerError

REGION = "eu-west-1"


def small_zip(body: str = "X = 1\n") -> bytes:
    return fakes.zip_bytes(body)


def publish(lam: Any, name: str, description: str = "") -> str:
    return str(
        lam.publish_layer_version(
            LayerName=name,
            Description=description,
            Content={"ZipFile": small_zip(name)},
            CompatibleRuntimes=["python3.12"],
        )["LayerVersionArn"]
    )


def create_function(lam: Any, layers: list[str], name: str = "api") -> None:
    iam = boto3.client("iam", region_name=REGION)
    fakes.create_function(lam, iam, layers, name, code=small_zip())


def layers_of(lam: Any, name: str = "api") -> list[str]:
    return [
        item["Arn"] for item in lam.get_function_configuration(FunctionName=name).get("Layers", [])
    ]


def test_functions_swap_keeps_other_layers_in_order(lam: Any) -> None:
    first = publish(lam, "first")
    deps1 = publish(lam, "deps")
    last = publish(lam, "last")
    deps2 = publish(lam, "deps")
    create_function(lam, [first, deps1, last])

    before, after = apply_function_layers(lam, "api", [deps2], region=REGION)

    assert before == [first, deps1, last]
    assert after == [first, deps2, last]
    assert layers_of(lam) == [first, deps2, last]


def test_functions_adds_layer_when_absent_and_is_idempotent(lam: Any) -> None:
    other = publish(lam, "other")
    deps = publish(lam, "deps")
    create_function(lam, [other])
    apply_function_layers(lam, "api", [deps])
    assert layers_of(lam) == [other, deps]
    assert apply_function_layers(lam, "api", [deps]) == ([other, deps], [other, deps])
    assert layers_of(lam) == [other, deps]


def test_functions_refuses_sixth_layer(lam: Any) -> None:
    five = [publish(lam, f"l{i}") for i in range(5)]
    create_function(lam, five)
    deps = publish(lam, "deps")
    with pytest.raises(LayerError, match=r"6 layers.*at most 5"):
        apply_function_layers(lam, "api", [deps])
    assert layers_of(lam) == five


def test_functions_region_mismatch_and_unknown_function(lam: Any) -> None:
    deps = publish(lam, "deps")
    create_function(lam, [])
    with pytest.raises(LayerError, match=r"configured region is us-east-1"):
        apply_function_layers(lam, "api", [deps], region="us-east-1")
    with pytest.raises(LayerError, match=r"function 'ghost' not found"):
        apply_function_layers(lam, "ghost", [deps])
    assert layers_of(lam) == []


def test_functions_layer_sizes(lam: Any) -> None:
    deps = publish(
        lam, "deps", description="deps; requirements-sha256=abcdef123456 unzipped=123456789"
    )
    other = publish(lam, "other", description="someone else's")
    create_function(lam, [deps, other])
    info = get_function(lam, "api")
    assert info.code_size == len(small_zip())
    layers = get_function_layers(lam, "api")
    assert [(layer.arn, layer.code_size, layer.unzipped_bytes) for layer in layers] == [
        (deps, len(small_zip("deps")), 123456789),
        (other, len(small_zip("other")), None),
    ]
