"""The boto3 session and clients for one run, created once and passed in.

Everything comes from boto3's own chain (profiles, SSO, ``AWS_REGION`` /
``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_S3`` /
``_LAMBDA``); ``layer.region`` only pins the region when set. The local sandbox passes
an explicit endpoint and throwaway credentials instead, for its run only.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlparse

if TYPE_CHECKING:
    from botocore.config import Config
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_ssm import SSMClient

from layer_tasks.aws import errors, values_check
from layer_tasks.aws.deadline import Deadline
from layer_tasks.aws.errors import boundary
from layer_tasks.aws.hooks import ExpectedOwner, name_failed_operation
from layer_tasks.config.settings import LayerSettings
from layer_tasks.config.validate import validate_region
from layer_tasks.util import redact


@dataclass(frozen=True)
class Clients:
    """The clients one run uses. ``lambda_`` because ``lambda`` is a keyword."""

    s3: S3Client
    lambda_: LambdaClient
    region: str
    # S3 for the upload (PutObject, multipart parts): the long read timeout. None: ``s3``.
    s3_upload: S3Client | None = None
    # Only when layer.ssm_parameter is set.
    ssm: SSMClient | None = None
    # The account the credentials are for (STS GetCallerIdentity, once, when first asked).
    account: Callable[[], str] | None = None

    @property
    def uploads(self) -> S3Client:
        return self.s3 if self.s3_upload is None else self.s3_upload

    @property
    def s3_endpoint(self) -> str:
        return str(self.s3.meta.endpoint_url)

    @property
    def plain_http(self) -> bool:
        """True over a plain-http endpoint (a local moto server): TLS policies do not apply."""
        return urlparse(self.s3_endpoint).scheme == "http"


# The files boto3's chain reads: (variable, default when unset, what it is).
_CHAIN_FILES = (
    ("AWS_CONFIG_FILE", "~/.aws/config", "the AWS config file"),
    ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials", "the AWS credentials file"),
    ("AWS_WEB_IDENTITY_TOKEN_FILE", "", "the AWS web identity token file"),
    ("AWS_CA_BUNDLE", "", "the CA bundle boto3 trusts"),
)


# The keys of the AWS config and credentials files that name a file the chain reads or
# runs: credential_process's program, the CA bundle, the web identity token.
_NAMED_IN_CONFIG = {
    "credential_process": "the program credential_process runs",
    "ca_bundle": "the CA bundle boto3 trusts",
    "web_identity_token_file": "the AWS web identity token file",
}


def chain_files() -> list[tuple[str, str]]:
    """(path, what it is) of each file boto3's chain reads, existing or not, and those
    that its config and credentials files name."""
    found = []
    for variable, default, what in _CHAIN_FILES:
        path = os.environ.get(variable) or default
        if path:
            found.append((os.path.expanduser(path), f"{what} ({variable})"))
    for config, _what in found[:2]:
        found += _named_in(config)
    return found


def _named_in(config: str) -> list[tuple[str, str]]:
    """The files an AWS config or credentials file names (any profile), read as text."""
    import configparser
    import shlex

    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        if not os.path.isfile(config) or os.path.getsize(config) > 1024 * 1024:
            return []
        parser.read(config, encoding="utf-8")
    except (OSError, UnicodeError, configparser.Error):
        return []  # unreadable: boto3 says so itself when a task uses it
    named = []
    for section in parser.sections():
        for key, what in _NAMED_IN_CONFIG.items():
            value = parser.get(section, key, fallback="").strip()
            if key == "credential_process" and value:
                try:
                    value = shlex.split(value)[0]
                except (ValueError, IndexError):
                    continue
            if value:
                named.append((os.path.expanduser(value), f"{what} ({config} [{section}])"))
    return named


def client_config(settings: LayerSettings, *, read_timeout: float | None = None) -> Config:
    from botocore.config import Config  # here: it pulls in urllib3, ~80 ms

    return Config(
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout if read_timeout is None else read_timeout,
        # total_max_attempts counts the first request too, as AWS's own `max_attempts`
        # setting does; botocore's `max_attempts` key would count retries only (one more).
        retries=cast(
            "Any", {"mode": settings.retry_mode, "total_max_attempts": settings.max_attempts}
        ),
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
    from botocore.exceptions import ConfigParseError, ProfileNotFound

    try:
        return boto3.Session(**kwargs)
    except ProfileNotFound as exc:
        raise errors.profile_not_found(exc) from None
    except ConfigParseError as exc:
        raise errors.config_unreadable(exc) from None


def check_credentials(session: Any) -> None:
    """Fail before any work when there are no usable credentials.

    Resolving them is local (no request); an SSO token that is missing or expired fails
    here too. Static keys that AWS has revoked or expired only fail on the first call,
    and the task glue turns that ``ClientError`` into one line as well.
    """
    from botocore.exceptions import (
        BotoCoreError,
        NoCredentialsError,
        SSOTokenLoadError,
        TokenRetrievalError,
    )

    try:
        creds = session.get_credentials()
        frozen = creds.get_frozen_credentials() if creds is not None else None
    except (TokenRetrievalError, SSOTokenLoadError) as exc:
        raise errors.sso_token_expired(exc) from None
    except NoCredentialsError:
        frozen = None
    except (BotoCoreError, ValueError, OSError) as exc:
        # Any other way the chain fails while it resolves them: a key without its secret
        # (PartialCredentialsError), a credential_process that fails or prints no JSON
        # (CredentialRetrievalError, JSONDecodeError), a file it cannot read.
        raise errors.credentials_unresolved(exc) from None
    if frozen is None or not frozen.access_key:
        raise errors.no_credentials()


def make_clients(
    settings: LayerSettings,
    *,
    endpoint_url: str | None = None,
    credentials: tuple[str, str] | None = None,
    read_only: bool = False,
) -> Clients:
    """Session + S3 and Lambda clients after the credential and region checks.
    ``read_only``: a task that changes nothing, which gives up sooner on a silent
    endpoint (`deadline.READ_ONLY_SECONDS`)."""
    values_check.check_environment(os.environ, credentials=credentials is None)
    session = make_session(settings, credentials=credentials)
    region = session.region_name
    if not region:
        raise errors.no_region()
    # layer.region is checked with the settings; one from the environment or the
    # profile is checked here, before botocore raises InvalidRegionError on it.
    validate_region(region, "the AWS region (AWS_REGION, AWS_DEFAULT_REGION or the profile)")
    check_credentials(session)
    resolved = session.get_credentials()
    frozen = resolved.get_frozen_credentials()
    redact.add(frozen.secret_key, frozen.token)
    values_check.check_resolved(frozen, getattr(resolved, "method", None), region)
    config = client_config(settings)
    upload_config = client_config(settings, read_timeout=settings.upload_read_timeout)
    extra: dict[str, Any] = {"endpoint_url": endpoint_url} if endpoint_url else {}
    s3 = session.client("s3", region_name=region, config=config, **extra)
    s3_upload = session.client("s3", region_name=region, config=upload_config, **extra)
    lam = session.client("lambda", region_name=region, config=config, **extra)
    ssm = (
        session.client("ssm", region_name=region, config=config, **extra)
        if settings.ssm_parameter
        else None
    )
    deadline = Deadline(settings.deadline_minutes)
    watched = [(s3, "read_timeout"), (s3_upload, "upload_read_timeout"), (lam, "read_timeout")]
    for client, read_setting in watched + ([(ssm, "read_timeout")] if ssm else []):
        client.meta.events.register("after-call-error", name_failed_operation)
        deadline.watch(
            client,
            connect=settings.connect_timeout,
            read=client.meta.config.read_timeout,
            read_setting=read_setting,
            max_attempts=settings.max_attempts,
            read_only=read_only,
        )

    @functools.cache
    def caller_account() -> str:
        sts = session.client("sts", region_name=region, config=config, **extra)
        deadline.watch(
            sts,
            connect=settings.connect_timeout,
            read=sts.meta.config.read_timeout,
            read_setting="read_timeout",
            max_attempts=settings.max_attempts,
            read_only=read_only,
        )
        with boundary("the caller's identity"):
            return str(sts.get_caller_identity()["Account"])

    owner = ExpectedOwner(lambda: settings.bucket_owner or caller_account())
    owner.attach(s3)
    owner.attach(s3_upload)
    return Clients(
        s3=s3, lambda_=lam, region=region, s3_upload=s3_upload, ssm=ssm, account=caller_account
    )
