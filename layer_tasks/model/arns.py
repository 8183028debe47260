"""ARNs the tool reads: Lambda layer versions and functions. One parser for each, used
for every ARN from a flag, a file or a setting, so a typo is one clear error before
anything is written or called.

``arn:<partition>:lambda:<region>:<account>:layer:<name>:<version>`` and
``arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]`` (or the
function's name, or ``<account>:function:<name>``). Checked whole: each field's form
(ASCII, ``fullmatch``) and range (a version Lambda can hold), the partition against the
region (``aws-us-gov`` goes with ``us-gov-*`` only), and, with `check_function_target`
and `validate_layer_list`, the region (and a function's account) against the target's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from layer_tasks.config.platform import MAX_LAYERS_PER_FUNCTION
from layer_tasks.config.validate import untrimmed
from layer_tasks.errors import LayerError

# Lambda's version numbers are 64-bit (LayerVersionNumber and a function version: Long).
MAX_VERSION = 2**63 - 1

# Each partition's regions, as botocore's partitions.json says (most specific first);
# every other region name is in "aws".
_PARTITION_OF_PREFIX = (
    ("us-gov-", "aws-us-gov"),
    ("us-isob-", "aws-iso-b"),
    ("us-isof-", "aws-iso-f"),
    ("us-iso-", "aws-iso"),
    ("eu-isoe-", "aws-iso-e"),
    ("eusc-", "aws-eusc"),
    ("cn-", "aws-cn"),
)


def partition_of(region: str) -> str:
    """The partition a region belongs to (``cn-north-1`` -> ``aws-cn``)."""
    return next((p for prefix, p in _PARTITION_OF_PREFIX if region.startswith(prefix)), "aws")


_PARTITION = r"(?P<partition>aws(?:-[a-z]+)*)"
_REGION = r"(?P<region>[a-z]{2,4}(?:-[a-z]+)+-[0-9]+)"
_ACCOUNT = r"(?P<account>[0-9]{12})"
# Partitions: aws, aws-cn, aws-us-gov, and the isolated ones (aws-iso, aws-iso-b, ...).
_ARN_RE = re.compile(
    rf"arn:{_PARTITION}:lambda:{_REGION}:{_ACCOUNT}:layer:"
    r"(?P<name>[a-zA-Z0-9_-]{1,140}):"
    r"(?P<version>[1-9][0-9]*)"
)  # used with fullmatch: `$` passes a trailing newline, `\d` any Unicode digit
EXAMPLE = "arn:aws:lambda:<region>:<account>:layer:<name>:<version>"
_EXAMPLE = EXAMPLE
# Lambda's FunctionName: a name, a partial ARN (account:function:name) or a full ARN,
# each with an optional version or alias qualifier.
_FUNCTION_RE = re.compile(
    rf"(?:arn:{_PARTITION}:lambda:{_REGION}:{_ACCOUNT}:function:|"
    r"(?P<short_account>[0-9]{12}):function:)?"
    r"(?P<name>[a-zA-Z0-9_-]{1,64})(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]{1,128}))?"
)


def _check_partition(text: str, partition: str, region: str, source: str) -> None:
    if partition != partition_of(region):
        raise LayerError(
            f"{source} {text!r} names partition {partition}, but region {region} is in "
            f"partition {partition_of(region)}: check the ARN"
        )


def _check_version(text: str, version: str, source: str) -> int:
    number = int(version)
    if number > MAX_VERSION:
        raise LayerError(
            f"{source} {text!r} has version {version}, more than Lambda can hold "
            f"({MAX_VERSION}): check the ARN"
        )
    return number


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
    match = _ARN_RE.fullmatch(untrimmed(source, text))
    if not match:
        raise LayerError(f"{source} {text!r} is not a Lambda layer version ARN ({_EXAMPLE})")
    _check_partition(text, match["partition"], match["region"], source)
    return LayerArn(
        partition=match["partition"],
        region=match["region"],
        account=match["account"],
        name=match["name"],
        version=_check_version(text, match["version"], source),
    )


def is_layer_arn(text: object) -> bool:
    """Whether ``text`` is a layer version ARN `parse_layer_arn` accepts."""
    if not isinstance(text, str) or _ARN_RE.fullmatch(text) is None:
        return False
    try:
        parse_layer_arn(text)
    except LayerError:
        return False
    return True


@dataclass(frozen=True)
class FunctionRef:
    """A function as ``layer.function``/``--function`` names it; what is not given is None."""

    text: str
    name: str
    qualifier: str | None = None
    account: str | None = None
    region: str | None = None
    partition: str | None = None


def parse_function(text: str, *, source: str = "layer.function") -> FunctionRef:
    """A `FunctionRef`, or `LayerError`: the form, the partition against the region, and
    a numeric qualifier (a version) in Lambda's range."""
    match = _FUNCTION_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise LayerError(
            f"{source} {text!r} is not a Lambda function name or ARN: use 1-64 letters, "
            "digits, '-' or '_', or the function's ARN"
        )
    if match["partition"]:
        _check_partition(text, match["partition"], match["region"], source)
    qualifier = match["qualifier"]
    if qualifier and qualifier.isdigit():
        _check_version(text, qualifier, source)
    return FunctionRef(
        text=text,
        name=match["name"],
        qualifier=qualifier,
        account=match["account"] or match["short_account"],
        region=match["region"],
        partition=match["partition"],
    )


def check_function_target(
    text: str,
    *,
    region: str,
    account: Callable[[], str] | None = None,
    source: str = "layer.function",
) -> FunctionRef:
    """The function must be in the target's region (and partition) and, when its ARN
    names an account, in the account the credentials are for (``account()``: asked only
    then). A mismatch is an error before any change: Lambda would otherwise act on what
    the client's region and account say, or fail halfway."""
    ref = parse_function(text, source=source)
    if ref.region and ref.region != region:
        raise LayerError(
            f"{source} {text!r} is in region {ref.region}, but this run targets {region}: "
            "a function can only use layers from its own region; name a function there, or "
            "set layer.region to the function's"
        )
    if ref.account and account is not None:
        mine = account()
        if ref.account != mine:
            raise LayerError(
                f"{source} {text!r} belongs to account {ref.account}, but the AWS "
                f"credentials are for account {mine}: use that account's credentials, or "
                "name a function of this one"
            )
    return ref


_KMS_KEY = r"(?:mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
_KMS_ALIAS = r"alias/[a-zA-Z0-9/_-]{1,250}"
_KMS_RE = re.compile(
    rf"arn:{_PARTITION}:kms:{_REGION}:{_ACCOUNT}:(?:key/{_KMS_KEY}|{_KMS_ALIAS})"
    rf"|{_KMS_KEY}|{_KMS_ALIAS}"
)


def check_kms_key(text: str, *, regions: Sequence[str], source: str = "layer.kms_key_id") -> str:
    """``layer.kms_key_id``: a key ID, an alias, or the ARN of either. An ARN names its
    region, which must be every region the zips go to (S3 encrypts with a key of the
    bucket's own region), and a partition that fits it. Checked before any upload."""
    match = _KMS_RE.fullmatch(text)
    if match is None:
        raise LayerError(
            f"{source} {text!r} is not a KMS key: use a key ID, alias/<name>, or the ARN "
            "of either (arn:aws:kms:<region>:<account>:key/<id>)"
        )
    if match["region"]:
        _check_partition(text, match["partition"], match["region"], source)
        for region in regions:
            if region != match["region"]:
                raise LayerError(
                    f"{source} {text!r} is a key in region {match['region']}, but the zips go "
                    f"to a bucket in {region}: S3 needs a key of the bucket's region; use an "
                    "alias (alias/<name>) defined in every region"
                )
    return text


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
