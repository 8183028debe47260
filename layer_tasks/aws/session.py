"""The boto3 session and clients for one run, created once and passed in.

Everything comes from boto3's own chain (profiles, SSO, ``AWS_REGION`` /
``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_S3`` /
``_LAMBDA``); ``layer.region`` only pins the region when set. The local sandbox passes
an explicit endpoint and throwaway credentials instead, for its run only.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from botocore.exceptions import (
    ConfigParseError,
    NoCredentialsError,
    ProfileNotFound,
    SSOTokenLoadError,
    TokenRetrievalError,
)

if TYPE_CHECKING:
    from botocore.config import Config

from ..errors import LayerError
from ..settings import LayerSettings, validate_region
from .errors import boundary
from .s3 import ExpectedOwner


@dataclass(frozen=True)
class Clients:
    """The clients one run uses. ``lambda_`` because ``lambda`` is a keyword."""

    s3: Any
    lambda_: Any
    region: str

    @property
    def s3_endpoint(self) -> str:
        return str(self.s3.meta.endpoint_url)

    @property
    def plain_http(self) -> bool:
        """True over a plain-http endpoint (a local moto server): TLS policies do not apply."""
        return urlparse(self.s3_endpoint).scheme == "http"


def client_config(settings: LayerSettings) -> Config:
    from botocore.config import Config  # here: it pulls in urllib3, ~80 ms

    return Config(
        # total_max_attempts counts the first request too, as AWS's own `max_attempts`
        # setting does; botocore's `max_attempts` key would count retries only (one more).
        retries={"mode": settings.retry_mode, "total_max_attempts": settings.max_attempts},
        # Bucket names with dots break virtual-hosted TLS; path style works everywhere
        # an endpoint is overridden, virtual style is AWS's default otherwise.
        s3={"addressing_style": "auto"},
    )


def make_session(
    settings: LayerSettings,
    *,
    credentials: tuple[str, str] | None = None,
) -> Any:
    kwargs: dict[str, Any] = {}
    if settings.region:
        kwargs["region_name"] = settings.region
    if credentials is not None:
        kwargs["aws_access_key_id"], kwargs["aws_secret_access_key"] = credentials
    import boto3  # here: ~0.2 s to import, and only AWS tasks need it

    try:
        return boto3.Session(**kwargs)
    except ProfileNotFound as exc:
        raise LayerError(f"{exc}: check AWS_PROFILE and ~/.aws/config") from None
    except ConfigParseError as exc:
        raise config_parse_error(exc) from None


def config_parse_error(exc: ConfigParseError) -> LayerError:
    path = exc.kwargs.get("path", "the AWS config file")
    return LayerError(
        f"cannot parse the AWS config file {path}: fix its syntax, or point "
        "AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE at valid files"
    )


def check_credentials(session: Any) -> None:
    """Fail before any work when there are no usable credentials.

    Resolving them is local (no request); an SSO token that is missing or expired fails
    here too. Static keys that AWS has revoked or expired only fail on the first call,
    and the task glue turns that ``ClientError`` into one line as well.
    """
    try:
        creds = session.get_credentials()
        frozen = creds.get_frozen_credentials() if creds is not None else None
    except (TokenRetrievalError, SSOTokenLoadError) as exc:
        raise LayerError(
            f"AWS SSO token is missing or expired: run `aws sso login` ({exc})"
        ) from None
    except NoCredentialsError:
        frozen = None
    if frozen is None or not frozen.access_key:
        raise LayerError(
            "no AWS credentials found: configure a profile (aws configure / AWS_PROFILE), "
            "SSO (aws sso login), or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; "
            "or try it locally with --local"
        )


def make_clients(
    settings: LayerSettings,
    *,
    endpoint_url: str | None = None,
    credentials: tuple[str, str] | None = None,
) -> Clients:
    """Session + S3 and Lambda clients after the credential and region pre-flight."""
    session = make_session(settings, credentials=credentials)
    region = session.region_name
    if not region:
        raise LayerError(
            "no AWS region set: set layer.region in invoke.yaml, INVOKE_LAYER_REGION, "
            "AWS_REGION, or a region in your AWS profile"
        )
    # layer.region is checked with the settings; one from the environment or the
    # profile is checked here, before botocore raises InvalidRegionError on it.
    validate_region(region, "the AWS region (AWS_REGION, AWS_DEFAULT_REGION or the profile)")
    check_credentials(session)
    frozen = session.get_credentials().get_frozen_credentials()
    redact_in_logs(frozen.secret_key, frozen.token)
    config = client_config(settings)
    extra: dict[str, Any] = {"endpoint_url": endpoint_url} if endpoint_url else {}
    s3 = session.client("s3", region_name=region, config=config, **extra)
    lam = session.client("lambda", region_name=region, config=config, **extra)
    for client in (s3, lam):
        client.meta.events.register("after-call-error", name_failed_operation)

    def caller_account() -> str:
        sts = session.client("sts", region_name=region, config=config, **extra)
        with boundary("the caller's identity"):
            return str(sts.get_caller_identity()["Account"])

    ExpectedOwner(lambda: settings.bucket_owner or caller_account()).attach(s3)
    return Clients(s3=s3, lambda_=lam, region=region)


def name_failed_operation(exception: BaseException, event_name: str = "", **_: Any) -> None:
    """Tag a failed call's exception with its operation (``after-call-error`` event).

    botocore's connection errors (a dropped connection, a timeout) do not say which call
    failed, unlike ``ClientError``; the task glue puts the name in the ``error:`` line.
    """
    if not getattr(exception, "operation_name", None):
        with contextlib.suppress(AttributeError):  # an exception type with __slots__
            exception.operation_name = event_name.rsplit(".", 1)[-1]  # type: ignore[attr-defined]


class _Redact(logging.Filter):
    """Replaces credential values in log records with ``***``.

    botocore logs each request's canonical form and headers at DEBUG, session token
    included; `inv --debug` turns the root logger to DEBUG, which would print it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.values: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.values:
            message = record.getMessage()
            redacted = message
            for value in self.values:
                redacted = redacted.replace(value, "***")
            if redacted != message:
                record.msg, record.args = redacted, ()
        return True


_REDACT = _Redact()
_LOG_ROOTS = ("botocore", "boto3", "s3transfer", "urllib3")


def redact_in_logs(*values: str | None) -> None:
    """Keep these values out of every log record of the AWS libraries (this process)."""
    _REDACT.values.update(v for v in values if v and len(v) >= 8)
    # A logger's filter sees only its own records, so it goes on each module's logger.
    names = [n for n in logging.Logger.manager.loggerDict if n.split(".")[0] in _LOG_ROOTS]
    for name in [*_LOG_ROOTS, *names]:
        logger = logging.getLogger(name)
        if _REDACT not in logger.filters:
            logger.addFilter(_REDACT)
