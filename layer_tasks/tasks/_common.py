"""Glue shared by the task modules: settings from the Context, errors to exit codes.

Only the modules in this package import Invoke. Every task body is wrapped so that a
`LayerError` (a failure the user can fix) ends as one ``error: ...`` line on stderr and
exit status 1, never a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from invoke import Context, Exit, task

from ..errors import LayerError
from ..redact import redact
from ..settings import LayerSettings

F = TypeVar("F", bound=Callable[..., Any])


def plain(value: Any) -> Any:
    """Invoke's DataProxy (and nested ones) as plain dicts and lists."""
    if isinstance(value, Mapping) or hasattr(value, "_config"):
        return {str(k): plain(value[k]) for k in value}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def settings_from(c: Context, **overrides: Any) -> LayerSettings:
    """`LayerSettings` from ``c.layer``, with task flags (not None) taking precedence."""
    raw = plain(c.config.get("layer", {}))
    raw.update({k: v for k, v in overrides.items() if v is not None})
    return LayerSettings.from_mapping(raw, base_dir=Path.cwd())


def to_exit(error: BaseException) -> Exit:
    return Exit(redact(f"error: {error}"), code=1)


def translate(exc: BaseException) -> LayerError | None:
    """A user-fixable error from a library exception, or None for a real bug.

    The AWS modules already raise `LayerError` with the step's context; this is the
    net under them for the credential and region errors boto3 raises lazily.
    """
    if isinstance(exc, LayerError):
        return exc
    try:
        from botocore import exceptions as bx
    except ImportError:  # pragma: no cover - boto3 is a dependency
        return None
    if isinstance(exc, bx.NoCredentialsError):
        return LayerError(
            "no AWS credentials found: configure a profile (aws configure / AWS_PROFILE), "
            "SSO (aws sso login), or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, bx.NoRegionError):
        return LayerError("no AWS region set: set layer.region in invoke.yaml or AWS_REGION")
    if isinstance(exc, (bx.TokenRetrievalError, bx.SSOTokenLoadError)):
        return LayerError(f"AWS SSO token is missing or expired: run `aws sso login` ({exc})")
    if isinstance(exc, bx.ProfileNotFound):
        return LayerError(f"{exc}: check AWS_PROFILE and ~/.aws/config")
    if isinstance(exc, bx.EndpointConnectionError):
        return LayerError(
            f"cannot reach AWS: {exc}; check the network, AWS_ENDPOINT_URL and the region"
        )
    if isinstance(exc, (bx.HTTPClientError, bx.ConnectionError)):
        # A dropped connection or a timeout that outlasted botocore's retries.
        op = getattr(exc, "operation_name", None) or "an AWS call"
        return LayerError(
            f"{op} failed after retries: {exc}; check the network and run again "
            "(steps after it were not run)"
        )
    if isinstance(exc, bx.ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        op = getattr(exc, "operation_name", "AWS call")
        if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
            return LayerError(
                f"AWS credentials have expired ({op}): refresh them (aws sso login, new session token)"
            )
        if code in (
            "InvalidClientTokenId",
            "UnrecognizedClientException",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
        ):
            return LayerError(
                f"AWS rejected the credentials ({op}: {code}): check AWS_PROFILE or the access keys"
            )
        if code in ("AccessDenied", "AccessDeniedException"):
            return LayerError(
                f"access denied on {op}: grant it to this identity (see docs/s3-layer-deployment-guide.md, IAM)"
            )
        return LayerError(
            f"{op} failed: {code}: {exc.response.get('Error', {}).get('Message', '')}"
        )
    return None


def layer_task(*args: Any, **kwargs: Any) -> Any:
    """``@task`` whose user-fixable failures become ``error: ...`` and exit 1."""

    def decorate(body: F) -> Any:
        @functools.wraps(body)
        def wrapper(*a: Any, **kw: Any) -> Any:
            try:
                return body(*a, **kw)
            except Exit:
                raise
            except Exception as exc:
                error = translate(exc)
                if error is None:
                    raise
                raise to_exit(error) from None

        return task(wrapper, **kwargs)

    if len(args) == 1 and callable(args[0]) and not kwargs:
        return decorate(args[0])
    return decorate
