"""Checks of single ``layer.*`` values, each a one-line `LayerError` naming the key.

Two kinds: the ``validate_*`` functions check a name AWS (or Chalice) must accept, and
are used wherever such a name comes in; the ``as_*`` parsers turn a value from
``invoke.yaml`` or an ``INVOKE_LAYER_*`` string into its type, or refuse it.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Sequence
from typing import Any

from layer_tasks.errors import LayerError

# Every pattern below is used with `fullmatch` and ASCII classes only: `$` also matches
# before a trailing newline ('name\n' passed), and `\d` matches any Unicode digit
# ('us-east-\u0661'), neither of which AWS accepts.
_LAYER_NAME_RE = re.compile(r"[a-zA-Z0-9_-]{1,140}")
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IPV4_RE = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}")
_REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")
# S3's "safe characters" for object keys.
_PREFIX_SEGMENT_RE = re.compile(r"[A-Za-z0-9!_.*'()-]+")
# Lambda's FunctionName: a name, a partial ARN (account:function:name) or a full ARN,
# with an optional version or alias qualifier.
_FUNCTION_RE = re.compile(
    r"(arn:aws[a-z-]*:lambda:[a-z]{2}(-[a-z]+)+-[0-9]:)?([0-9]{12}:)?(function:)?"
    r"[a-zA-Z0-9_-]{1,64}(:(\$LATEST|[a-zA-Z0-9_-]{1,128}))?"
)
_STAGE_RE = re.compile(r"[A-Za-z0-9_-]+")
_ACCOUNT_RE = re.compile(r"[0-9]{12}")
# SSM parameter names: a-zA-Z0-9_.- with '/' levels; a hierarchy starts with '/'.
_SSM_RE = re.compile(r"(/[A-Za-z0-9_.-]+)+|[A-Za-z0-9_.-]+")
_INT_RE = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def validate_layer_name(name: str) -> str:
    if not _LAYER_NAME_RE.fullmatch(name):
        raise LayerError(
            f"layer.name {name!r} is not a valid Lambda layer name: use 1-140 letters, "
            "digits, '-' or '_'"
        )
    return name


def validate_bucket_name(bucket: str) -> str:
    """S3's general-purpose bucket naming rules, checked before any AWS call."""
    if not bucket:
        raise LayerError(
            "no S3 bucket configured: set layer.bucket in invoke.yaml or INVOKE_LAYER_BUCKET"
        )
    problem = None
    if not _BUCKET_RE.fullmatch(bucket):
        problem = (
            "use 3-63 lowercase letters, digits, '.' or '-', starting and ending "
            "with a letter or digit"
        )
    elif ".." in bucket or ".-" in bucket or "-." in bucket:
        problem = "adjacent '.', '.-' or '-.' are not allowed"
    elif _IPV4_RE.fullmatch(bucket):
        problem = "it must not look like an IP address"
    elif bucket.startswith(("xn--", "sthree-", "amzn-s3-demo-")):
        problem = "the prefixes 'xn--', 'sthree-' and 'amzn-s3-demo-' are reserved"
    elif bucket.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")):
        problem = "that suffix is reserved by S3"
    if problem:
        raise LayerError(f"layer.bucket {bucket!r} is not a valid S3 bucket name: {problem}")
    return bucket


def validate_region(region: str, what: str = "layer.region") -> str:
    """An AWS region name, checked before botocore sees it (it raises InvalidRegionError)."""
    if not _REGION_RE.fullmatch(region):
        raise LayerError(f"{what} {region!r} is not an AWS region name (e.g. us-east-1)")
    return region


def _empty_or_whole(pattern: re.Pattern[str], value: str, error: str) -> str:
    """``value`` when it is empty or ``pattern`` matches all of it; else ``error``."""
    if value and not pattern.fullmatch(value):
        raise LayerError(error)
    return value


def validate_function(function: str) -> str:
    """``layer.function`` (or ``--function``): empty, or a name or ARN Lambda accepts."""
    return _empty_or_whole(
        _FUNCTION_RE,
        function,
        f"layer.function {function!r} is not a Lambda function name or ARN: use 1-64 "
        "letters, digits, '-' or '_', or the function's ARN",
    )


def validate_prefix(prefix: str) -> str:
    """The S3 key prefix: ``a/b/c`` made of S3-safe characters; empty means the bucket root."""
    if prefix and not all(
        _PREFIX_SEGMENT_RE.fullmatch(part) and part not in (".", "..") for part in prefix.split("/")
    ):
        raise LayerError(
            f"layer.prefix {prefix!r} is not a safe S3 key prefix: use segments of letters, "
            "digits and !-_.*'() joined by single '/', no '.' or '..' segment, and no '/' "
            "at either end (e.g. layers or team/layers)"
        )
    return prefix


def validate_stage(stage: str) -> str:
    if not stage:
        raise LayerError("layer.stage must not be empty")
    if not _STAGE_RE.fullmatch(stage):
        # Chalice names each function <app>-<stage>: Lambda's name characters only.
        raise LayerError(
            f"layer.stage {stage!r} is not a Chalice stage name: use letters, digits, '-' or '_'"
        )
    return stage


def validate_account_id(account: str) -> str:
    """``layer.bucket_owner``: empty, or a 12-digit AWS account ID."""
    return _empty_or_whole(
        _ACCOUNT_RE,
        account,
        f"layer.bucket_owner {account!r} is not a 12-digit AWS account ID "
        "(quote it in YAML, or its leading zeros are lost)",
    )


def validate_ssm_parameter(name: str) -> str:
    """An SSM parameter name (after the template is filled in)."""
    if (
        len(name) > 1011
        or not _SSM_RE.fullmatch(name)
        or name.lstrip("/").lower().startswith(("aws", "ssm"))
        or name.count("/") > 15
    ):
        raise LayerError(
            f"layer.ssm_parameter gives {name!r}, which is not an SSM parameter name: use "
            "letters, digits and _.- in up to 15 '/'-separated levels starting with '/', "
            "not beginning with aws or ssm (e.g. /layers/{name}/{python}/{arch})"
        )
    return name


def as_int(key: str, value: Any, minimum: int | None = None) -> int:
    # Strings come from INVOKE_LAYER_*; int() alone would take ' 7', '1_0' and '\u0667'.
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and _INT_RE.fullmatch(value.strip()))
    ):
        raise LayerError(f"layer.{key} must be a whole number, got {value!r}")
    number = int(value)
    if minimum is not None and number < minimum:
        raise LayerError(f"layer.{key} must be at least {minimum}, got {number}")
    return number


def as_mib(key: str, value: Any) -> float:
    # YAML's .inf and 1.0e400 are floats too: infinity and NaN are refused here, not
    # later as an OverflowError when MiB become bytes.
    if isinstance(value, bool) or not (
        isinstance(value, (int, float))
        or (isinstance(value, str) and _FLOAT_RE.fullmatch(value.strip()))
    ):
        raise LayerError(f"layer.{key} must be a number of MiB, got {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        number = math.inf
    if not math.isfinite(number) or number < 0:
        raise LayerError(f"layer.{key} must be a finite number of MiB, zero or more, got {value!r}")
    return number


def as_positive(key: str, value: Any, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise LayerError(f"layer.{key} must be a number of {unit}, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise LayerError(f"layer.{key} must be a number of {unit}, got {value!r}") from None
    if not 0 < number < float("inf"):
        raise LayerError(f"layer.{key} must be a number of {unit} above zero, got {value!r}")
    return number


def as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in (
        "1",
        "true",
        "yes",
        "on",
        "0",
        "false",
        "no",
        "off",
    ):
        return value.lower() in ("1", "true", "yes", "on")
    raise LayerError(f"layer.{key} must be true or false, got {value!r}")


def as_text(key: str, value: str) -> str:
    # A lone surrogate (YAML "\ud800") is not text: it fails later, far from here, as
    # a UnicodeEncodeError when it becomes a path or a request.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise LayerError(
            f"layer.{key} holds {value[exc.start]!r} at position {exc.start}, a lone "
            "surrogate that is not text: remove the \\u escape"
        ) from None
    return value


def as_choice(key: str, value: Any, choices: Sequence[str], what: str, joiner: str = ", ") -> str:
    """``value`` when it is one of ``choices``, whole; else one line naming them."""
    choice = as_str(key, value)
    if choice not in choices:
        raise LayerError(f"layer.{key} {choice!r} is not {what}; use {joiner.join(choices)}")
    return choice


def as_str(key: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise LayerError(f"layer.{key} must be a string, got {value!r}")
    return as_text(key, value)


def as_str_list(key: str, value: Any) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        # Comma-separated, so that one string (e.g. from YAML) also works.
        return tuple(part.strip() for part in as_text(key, value).split(",") if part.strip())
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(as_text(key, v) for v in value)
    raise LayerError(f"layer.{key} must be a list of strings, got {value!r}")


def as_account_ids(key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, int) and not isinstance(item, bool):
                raise LayerError(
                    f"layer.{key} entry {item!r} is a number: quote account IDs "
                    "('012345678901'), because YAML reads an unquoted ID with a leading 0 "
                    "as an octal number, which is another account"
                )
    return as_str_list(key, value)


def as_template(key: str, value: str, fields: Sequence[str]) -> str:
    """A ``str.format`` template that uses only ``fields``, each plainly (``{name}``)."""
    allowed = ", ".join("{" + f + "}" for f in fields)
    try:
        parsed = list(string.Formatter().parse(value))
    except ValueError:
        raise LayerError(f"layer.{key} {value!r} is not a template: use {allowed}") from None
    for _, name, spec, conversion in parsed:
        if name is not None and (name not in fields or spec or conversion):
            raise LayerError(f"layer.{key} {value!r} uses {{{name}}}: use only {allowed}")
    return value


def unique(key: str, items: tuple[str, ...]) -> tuple[str, ...]:
    seen = [item for i, item in enumerate(items) if item in items[:i]]
    if seen:
        raise LayerError(f"layer.{key} names {seen[0]!r} twice")
    return items
