"""The boto3 session and clients for one run, created once and passed in.

Everything comes from boto3's own chain (profiles, SSO, ``AWS_REGION`` /
``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_S3`` /
``_LAMBDA``); ``layer.region`` only pins the region when set. The local sandbox passes
an explicit endpoint and throwaway credentials instead, for its run only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import (
    NoCredentialsError,
    ProfileNotFound,
    SSOTokenLoadError,
    TokenRetrievalError,
)

from ..errors import LayerError
from ..settings import LayerSettings


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
    return Config(
        retries={"mode": settings.retry_mode, "max_attempts": settings.max_attempts},
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
    try:
        return boto3.Session(**kwargs)
    except ProfileNotFound as exc:
        raise LayerError(f"{exc}: check AWS_PROFILE and ~/.aws/config") from None


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
    check_credentials(session)
    config = client_config(settings)
    extra: dict[str, Any] = {"endpoint_url": endpoint_url} if endpoint_url else {}
    s3 = session.client("s3", region_name=region, config=config, **extra)
    lam = session.client("lambda", region_name=region, config=config, **extra)
    return Clients(s3=s3, lambda_=lam, region=region)
