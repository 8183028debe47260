"""Credential and region values checked before boto3 sees them.

A value with a control character (a token pasted with its trailing newline) or a
non-ASCII one cannot go into an HTTP header: botocore fails on every attempt with an
error that quotes the whole header, signature and token included. Checked up front,
the error names where the value came from and never shows it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from layer_tasks.errors import LayerError

CHECKED_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
)
CHECKED_PREFIXES = ("AWS_ENDPOINT_URL",)
_CREDENTIAL_VARIABLES = CHECKED_VARIABLES[:4]
# Printable ASCII without surrounding whitespace: what every one of these values is.
_CLEAN = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?", re.ASCII)
_HOW = (
    "contains a control character, surrounding whitespace or a non-ASCII character "
    "(a trailing newline from a copy and paste?): set it again without it"
)


def is_clean(value: str) -> bool:
    return bool(_CLEAN.fullmatch(value))


def check_environment(environ: Mapping[str, str], *, credentials: bool = True) -> None:
    """Refuse a credential, region, profile or endpoint variable that is not clean
    (the credential variables only when boto3 will read them: ``credentials``)."""
    for name in sorted(environ):
        checked = name in CHECKED_VARIABLES or name.startswith(CHECKED_PREFIXES)
        if not credentials and name in _CREDENTIAL_VARIABLES:
            continue
        if checked and environ[name] and not is_clean(environ[name]):
            raise LayerError(f"the environment variable {name} {_HOW}")


def check_resolved(frozen: Any, method: str | None, region: str) -> None:
    """The same for what boto3 resolved (a profile or credentials file, SSO, a process)."""
    source = f"from {method}" if method else "that boto3 found"
    for what, value in (
        ("access key ID", frozen.access_key),
        ("secret access key", frozen.secret_key),
        ("session token", frozen.token),
    ):
        if value and not is_clean(value):
            raise LayerError(f"the AWS {what} {source} {_HOW}")
    if not is_clean(region):
        raise LayerError(f"the AWS region (layer.region, AWS_REGION or the profile's) {_HOW}")
