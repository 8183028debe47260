"""Lambda layer version ARNs: parse, validate, and swap one layer's version in a list.

``arn:<partition>:lambda:<region>:<account>:layer:<name>:<version>``. Every place that
takes an ARN from a user (``--arn``, the ARN file, a Chalice config) goes through
`parse_layer_arn`, so a typo is one clear error before anything is written or called.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from layer_tasks.config.platform import MAX_LAYERS_PER_FUNCTION
from layer_tasks.errors import LayerError

# Partitions: aws, aws-cn, aws-us-gov, and the isolated ones (aws-iso, aws-iso-b, ...).
_ARN_RE = re.compile(
    r"arn:(?P<partition>aws(?:-[a-z]+)*):lambda:"
    r"(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]+):"
    r"(?P<account>[0-9]{12}):layer:"
    r"(?P<name>[a-zA-Z0-9_-]{1,140}):"
    r"(?P<version>[1-9][0-9]*)"
)  # used with fullmatch: `$` passes a trailing newline, `\d` any Unicode digit
_EXAMPLE = "arn:aws:lambda:<region>:<account>:layer:<name>:<version>"


@dataclass(frozen=True)
class LayerArn:
    """One published layer version, e.g. ``arn:aws:lambda:eu-west-1:123456789012:layer:deps:3``."""

    partition: str
    region: str
    account: str
    name: str
    version: int

    @property
    def unversioned(self) -> str:
        """The layer's ARN without the version: the same for every version of one layer."""
        return f"arn:{self.partition}:lambda:{self.region}:{self.account}:layer:{self.name}"

    @property
    def arn(self) -> str:
        return f"{self.unversioned}:{self.version}"

    def with_version(self, version: int) -> LayerArn:
        return LayerArn(self.partition, self.region, self.account, self.name, version)

    def __str__(self) -> str:
        return self.arn


def parse_layer_arn(text: str, *, source: str = "layer ARN") -> LayerArn:
    """A `LayerArn`, or `LayerError` saying what is wrong; ``source`` names where it came from."""
    if not isinstance(text, str):
        raise LayerError(f"{source} must be a string like {_EXAMPLE}, got {text!r}")
    match = _ARN_RE.fullmatch(text.strip())
    if not match:
        raise LayerError(f"{source} {text!r} is not a Lambda layer version ARN ({_EXAMPLE})")
    return LayerArn(
        partition=match["partition"],
        region=match["region"],
        account=match["account"],
        name=match["name"],
        version=int(match["version"]),
    )


def is_layer_arn(text: object) -> bool:
    return isinstance(text, str) and _ARN_RE.fullmatch(text.strip()) is not None


def validate_layer_list(
    arns: Iterable[str], *, region: str | None = None, source: str = "layer ARN"
) -> list[LayerArn]:
    """Parse a list meant for one function/stage: at most 5, one version per layer,
    all in ``region`` when given (a function can only use layers of its own region)."""
    parsed = [parse_layer_arn(arn, source=source) for arn in arns]
    if len(parsed) > MAX_LAYERS_PER_FUNCTION:
        raise LayerError(
            f"{len(parsed)} layers given; Lambda allows at most {MAX_LAYERS_PER_FUNCTION} "
            "per function"
        )
    seen: dict[str, LayerArn] = {}
    for layer in parsed:
        if region and layer.region != region:
            raise LayerError(
                f"layer ARN {layer} is in region {layer.region}, but the configured region is "
                f"{region}: a function can only use layers from its own region"
            )
        if layer.unversioned in seen:
            raise LayerError(
                f"layer {layer.name} is listed twice ({seen[layer.unversioned]} and {layer}); "
                "Lambda allows one version of a layer per function"
            )
        seen[layer.unversioned] = layer
    return parsed


def replace_layer_versions(current: Sequence[str], new: Sequence[str]) -> list[str]:
    """``current`` with each layer in ``new`` put in: a version of the same layer is
    replaced in place (keeping the order Lambda merges layers in), other layers are kept,
    a layer not yet there is appended. Strings in ``current`` that are not layer ARNs
    are kept as they are (they are not ours to judge)."""
    new_by_layer = {parse_layer_arn(arn).unversioned: parse_layer_arn(arn).arn for arn in new}
    result: list[str] = []
    placed: set[str] = set()
    for arn in current:
        key = parse_layer_arn(arn).unversioned if is_layer_arn(arn) else None
        if key is not None and key in new_by_layer:
            if key not in placed:
                result.append(new_by_layer[key])
                placed.add(key)
            continue
        result.append(arn)
    result.extend(arn for key, arn in new_by_layer.items() if key not in placed)
    if len(result) > MAX_LAYERS_PER_FUNCTION:
        raise LayerError(
            f"that would make {len(result)} layers ({', '.join(result)}); Lambda allows at "
            f"most {MAX_LAYERS_PER_FUNCTION} per function"
        )
    return result
