"""The one boundary between botocore's errors and the project's.

boto3 raises ``ClientError`` with a service-specific code (S3's ``NoSuchBucket``,
Lambda's ``ResourceNotFoundException``, a bare ``404`` for a HEAD), connection errors
that name no operation, and the transfer manager's ``S3UploadFailedError`` with the
real error only in its message and ``__context__``. Here each becomes one of a few
`AwsError` kinds carrying the operation and the resource, so the rest of the code
matches on types (``except NotFound``), never on codes or message text.

Every kind is a `LayerError`: one that nobody catches ends as one ``error:`` line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from layer_tasks.errors import LayerError

IAM_GUIDE = "see docs/s3-layer-deployment-guide.md, IAM"


class AwsError(LayerError):
    """An AWS call failed. ``operation`` (e.g. ``PutObject``), ``resource`` (e.g.
    ``s3://bucket/key``), the service's ``code`` and HTTP ``status`` say which and why."""

    def __init__(
        self,
        detail: str,
        *,
        operation: str = "",
        resource: str = "",
        code: str = "",
        status: int | None = None,
        region: str | None = None,
    ) -> None:
        self.detail = detail
        self.operation = operation
        self.resource = resource
        self.code = code
        self.status = status
        self.region = region  # S3 says where a bucket really is (x-amz-bucket-region)
        super().__init__(self._text())

    def _text(self) -> str:
        on = f" ({self.resource})" if self.resource else ""
        return f"{self.operation or 'an AWS call'} failed: {self.detail}{on}"


class NotFound(AwsError):
    """The bucket, key, layer, version, function or setting does not exist."""


class AccessDenied(AwsError):
    def _text(self) -> str:
        on = f" on {self.resource}" if self.resource else ""
        return f"access denied on {self.operation or 'an AWS call'}: grant it to this identity{on} ({IAM_GUIDE})"


class BadCredentials(AwsError):
    def _text(self) -> str:
        op = self.operation or "an AWS call"
        if self.code in _EXPIRED:
            return f"AWS credentials have expired ({op}): refresh them (aws sso login, new session token)"
        return f"AWS rejected the credentials ({op}: {self.detail}): check AWS_PROFILE or the access keys"


class Unavailable(AwsError):
    """Throttled, a 5xx, a dropped connection or a timeout: still so after the retries."""

    def _text(self) -> str:
        on = f" ({self.resource})" if self.resource else ""
        return (
            f"{self.operation or 'an AWS call'} failed after retries: {self.detail}{on}; "
            "check the network and run again (steps after it were not run)"
        )


class AnswerLost(Unavailable):
    """The request was sent and its answer lost (a dropped connection, a read timeout):
    AWS may have carried it out. Not retried blindly where that would act twice."""


class CredentialsProblem(LayerError):
    """boto3's chain found no usable credentials, region or configuration: nothing was
    sent. The one wording of each, for the session's own checks and for the net under
    the tasks alike."""


def no_credentials() -> CredentialsProblem:
    return CredentialsProblem(
        "no AWS credentials found: configure a profile (aws configure / AWS_PROFILE), "
        "SSO (aws sso login), or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; "
        "or try it locally with --local"
    )


def no_region() -> CredentialsProblem:
    return CredentialsProblem(
        "no AWS region set: set layer.region in invoke.yaml, INVOKE_LAYER_REGION, "
        "AWS_REGION, or a region in your AWS profile"
    )


def sso_token_expired(exc: BaseException) -> CredentialsProblem:
    return CredentialsProblem(f"AWS SSO token is missing or expired: run `aws sso login` ({exc})")


def credentials_unresolved(exc: BaseException) -> CredentialsProblem:
    what = " ".join(str(exc).split()) or type(exc).__name__
    return CredentialsProblem(
        f"the AWS credentials could not be resolved ({what}): check the environment "
        "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together), the profile's "
        "credential_process and the credentials file"
    )


def profile_not_found(exc: BaseException) -> CredentialsProblem:
    return CredentialsProblem(f"{exc}: check AWS_PROFILE and ~/.aws/config")


def config_unreadable(exc: Any) -> CredentialsProblem:
    """botocore's ``ConfigParseError`` (its ``kwargs`` name the file)."""
    path = getattr(exc, "kwargs", {}).get("path", "the AWS config file")
    return CredentialsProblem(
        f"cannot parse the AWS config file {path}: fix its syntax, or point "
        "AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE at valid files"
    )


def may_have_arrived(error: BaseException | None) -> bool:
    """A connection error after the request went out (ConnectionClosedError,
    ReadTimeoutError); a failed connect (EndpointConnectionError, ConnectTimeoutError)
    never sent it."""
    from botocore.exceptions import EndpointConnectionError, HTTPClientError

    return isinstance(error, HTTPClientError) and not isinstance(error, EndpointConnectionError)


class Unreachable(LayerError):
    """The endpoint could not be reached at all (after the retries): nothing was sent."""


class PreconditionFailed(AwsError):
    """A conditional request's condition did not hold (S3's 412)."""


class Conflict(AwsError):
    """The resource exists already or is being changed (bucket names, statement IDs)."""


class InvalidRequest(AwsError):
    """AWS refused the request as made (a 4xx that is none of the above)."""


class WrongRegion(InvalidRequest):
    """S3 answered 301: the bucket lives in another region (``region``)."""


_NOT_FOUND = {
    "404",
    "NotFound",
    "NoSuchBucket",
    "NoSuchKey",
    "ResourceNotFound",
    "ResourceNotFoundException",
    "ParameterNotFound",  # SSM
    "NoSuchLifecycleConfiguration",
    "NoSuchBucketPolicy",
    "NoSuchPublicAccessBlockConfiguration",
    "ServerSideEncryptionConfigurationNotFoundError",
}
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}
_CREDENTIALS = {
    *_EXPIRED,
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
}
_ACCESS = {"403", "AccessDenied", "AccessDeniedException", "Forbidden"}
_UNAVAILABLE = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalError",
    "ServiceException",
}
_PRECONDITION = {"412", "PreconditionFailed"}
_CONFLICT = {
    "BucketAlreadyExists",
    "BucketAlreadyOwnedByYou",
    "ResourceConflictException",
    "OperationAborted",
    "ConditionalRequestConflict",
}
_REDIRECT = {"301", "PermanentRedirect"}


def _kind(code: str, status: int | None, operation: str) -> type[AwsError]:
    if code in _CREDENTIALS:
        return BadCredentials
    if code in _REDIRECT or status == 301:
        return WrongRegion
    if code in _NOT_FOUND or status == 404:
        return NotFound
    if code in _ACCESS or status == 403:
        return AccessDenied
    if code in _PRECONDITION or status == 412:
        return PreconditionFailed
    if code in _CONFLICT or status == 409:
        return Conflict
    if code in _UNAVAILABLE or status == 429 or (status or 0) >= 500:
        return Unavailable
    if operation.startswith("Head") and status == 400:
        # A HEAD answer has no body, so no code: S3's 400 there is almost always an
        # expired or malformed session token (a permission problem would be 403).
        return BadCredentials
    return InvalidRequest


def from_client_error(exc: Any, resource: str = "") -> AwsError:
    """The `AwsError` for a botocore ``ClientError``."""
    response = exc.response or {}
    error = response.get("Error", {}) or {}
    meta = response.get("ResponseMetadata", {}) or {}
    code = str(error.get("Code", "") or "")
    status = meta.get("HTTPStatusCode")
    operation = str(getattr(exc, "operation_name", "") or "")
    message = str(error.get("Message", "") or "")
    kind = _kind(code, status, operation)
    region = (meta.get("HTTPHeaders") or {}).get("x-amz-bucket-region")
    detail = f"{code}: {message}" if code and message else code or message or f"HTTP {status}"
    if kind is BadCredentials and not code:
        detail = f"HTTP {status}, most likely expired or malformed credentials"
    return kind(
        detail, operation=operation, resource=resource, code=code, status=status, region=region
    )


def translate(exc: BaseException, resource: str = "") -> LayerError | None:
    """A user-fixable error for a library exception, or None for a real bug."""
    if isinstance(exc, LayerError):
        return exc
    from boto3.exceptions import S3UploadFailedError
    from botocore import exceptions as bx

    if isinstance(exc, bx.ClientError):
        return from_client_error(exc, resource)
    if isinstance(exc, S3UploadFailedError):
        # The transfer manager re-raises the part's ClientError as text; the original
        # is the exception it was handling.
        cause = exc.__context__
        if isinstance(cause, (bx.ClientError, bx.BotoCoreError)):
            return translate(cause, resource)
        return Unavailable(str(exc), operation="upload", resource=resource)
    if isinstance(exc, bx.NoCredentialsError):
        return no_credentials()
    if isinstance(exc, bx.NoRegionError):
        return no_region()
    if isinstance(exc, (bx.TokenRetrievalError, bx.SSOTokenLoadError)):
        return sso_token_expired(exc)
    if isinstance(exc, bx.ConfigParseError):
        return config_unreadable(exc)
    if isinstance(exc, bx.ProfileNotFound):
        return profile_not_found(exc)
    if isinstance(exc, bx.EndpointConnectionError):
        # Nothing was sent: no operation failed, the endpoint was not there.
        return Unreachable(
            f"cannot reach AWS: {exc}; check the network, AWS_ENDPOINT_URL and the region"
        )
    if isinstance(exc, (bx.HTTPClientError, bx.ConnectionError)):
        # A dropped connection or a timeout that outlasted botocore's retries.
        kind = AnswerLost if may_have_arrived(exc) else Unavailable
        return kind(
            str(exc), operation=str(getattr(exc, "operation_name", "") or ""), resource=resource
        )
    return None


@contextlib.contextmanager
def boundary(resource: str = "") -> Iterator[None]:
    """Run AWS calls; botocore's and boto3's errors leave as `AwsError` kinds naming
    ``resource``. Anything else (a bug) passes through unchanged."""
    try:
        yield
    except LayerError:
        raise
    except Exception as exc:
        error = translate(exc, resource)
        if error is None:
            raise
        raise error from exc
