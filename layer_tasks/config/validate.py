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
# A number's text: ASCII digits, for a decimal with a fraction, and nothing else: no
# sign (no setting or flag takes a negative number), no exponent, nothing around them (a
# value is refused, never trimmed: ' 5', '+5', '-0' and '5\n' are not numbers, as
# 'name\n' is no name).
_INT_RE = re.compile(r"[0-9]+")
_FLOAT_RE = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")


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


# One rule for every number a user gives, from invoke.yaml, an INVOKE_LAYER_* variable
# or a flag: a number (never a bool, which Python counts as one), or ASCII
# text. int() and float() alone take '\u0662', '1_0' and 'inf'; int() refuses more than
# 4,300 digits with a ValueError of its own.
_MAX_DIGITS = 30  # more than any bound below: such a number is only ever "too large"


def whole_number(value: Any) -> int | None:
    """``value`` as a whole number under the one rule, or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if not isinstance(value, str) or not _INT_RE.fullmatch(text := value):
        return None
    if len(text.lstrip("0")) > _MAX_DIGITS:
        return 10**_MAX_DIGITS
    return int(text)


def decimal_number(value: Any) -> float | None:
    """``value`` as a float under the one rule (too large: infinity), or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    if isinstance(value, str):
        if not _FLOAT_RE.fullmatch(text := value):
            return None
        return float(text)  # 400 digits are infinity, not an error
    try:
        return float(value)
    except OverflowError:  # an int too large for a float
        return math.inf


def in_range(what: str, value: Any, number: float, minimum: float, maximum: float) -> None:
    """One line naming ``what`` and its range when ``number`` is outside it."""
    if number < minimum:
        raise LayerError(f"{what} must be at least {_bound(minimum)}, got {shown(value)}")
    if number > maximum:
        raise LayerError(f"{what} must be at most {_bound(maximum)}, got {shown(value)}")


def _bound(bound: float) -> str:
    return str(bound) if isinstance(bound, int) else f"{bound:g}"


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` for an error line, cut short: a 5,000-digit number is not shown whole."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}...{text[-2:]}"


def whole_flag(flag: str, value: Any, minimum: int, maximum: int) -> int | None:
    """A task's whole-number flag as typed (None: not given), in its range: ``--top ''``
    is no number, not "not given"."""
    if value is None:
        return None
    number = whole_number(value)
    if number is None:
        raise LayerError(f"{flag} must be a whole number, got {shown(value)}")
    in_range(flag, value, number, minimum, maximum)
    return number


def as_int(key: str, value: Any, minimum: int, maximum: int) -> int:
    number = whole_number(value)
    if number is None:
        raise LayerError(f"layer.{key} must be a whole number, got {shown(value)}")
    in_range(f"layer.{key}", value, number, minimum, maximum)
    return number


def as_mib(key: str, value: Any, maximum: float) -> float:
    # YAML's .inf and 1.0e400 are floats too: infinity and NaN are refused here, not
    # later as an OverflowError when MiB become bytes.
    number = decimal_number(value)
    if number is None:
        raise LayerError(f"layer.{key} must be a number of MiB, got {shown(value)}")
    if not math.isfinite(number) or number < 0:
        raise LayerError(
            f"layer.{key} must be a finite number of MiB, zero or more, got {shown(value)}"
        )
    in_range(f"layer.{key}", value, number, 0, maximum)
    return number


def as_positive(key: str, value: Any, unit: str, maximum: float) -> float:
    number = decimal_number(value)
    if number is None:
        raise LayerError(f"layer.{key} must be a number of {unit}, got {shown(value)}")
    if not number > 0:  # NaN too
        raise LayerError(f"layer.{key} must be a number of {unit} above zero, got {shown(value)}")
    in_range(f"layer.{key}", value, number, 0, maximum)
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


def untrimmed(source: str, text: str) -> str:
    """``text`` when no whitespace surrounds it; else one line naming ``source``. A name,
    an ARN or an account ID is used exactly as given or refused, never trimmed: a value
    with a stray newline (``'123456789012\\n'``, a file read whole) is not the value
    AWS or Chalice would be given as written, and a trimmed guess would be acted on."""
    if text != text.strip():
        raise LayerError(
            f"{source} {text!r} has whitespace around it: remove it (names, ARNs and IDs "
            "are used exactly as given, never trimmed)"
        )
    return text


def as_str_list(key: str, value: Any) -> tuple[str, ...]:
    """A list of strings, each whole (`untrimmed`)."""
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        # Comma-separated, so that one string (an INVOKE_LAYER_* variable) also works;
        # spaces beside a comma are the list's layout ("a, b"), not part of an item.
        text = untrimmed(f"layer.{key}", as_text(key, value))
        parts = (part.strip(" ") for part in text.split(","))
        return tuple(untrimmed(f"layer.{key} entry", part) for part in parts if part)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(untrimmed(f"layer.{key} entry", as_text(key, v)) for v in value)
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
