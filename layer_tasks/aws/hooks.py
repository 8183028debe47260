"""botocore event hooks: what every request of a client carries, and what a failed one says.

Kept apart from the service modules so that the session (which attaches them) and the
S3 module (which uses one for a single upload) import them without importing each other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class ExpectedOwner:
    """Puts ``ExpectedBucketOwner`` on every S3 request that accepts it.

    S3 bucket names are global: a bucket of the configured name may belong to another
    account whose policy lets us write ("bucket sniping"). With the owner on every call,
    S3 answers 403 instead of acting on such a bucket. The account is resolved on the
    first S3 call (STS GetCallerIdentity, or layer.bucket_owner), so a run that never
    touches S3 makes no STS call.
    """

    UNIQUE_ID = "layer-tasks-expected-bucket-owner"

    def __init__(self, account: Callable[[], str]) -> None:
        self._resolve = account
        self._account: str | None = None

    @property
    def account(self) -> str:
        if self._account is None:
            self._account = self._resolve()
        return self._account

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if "ExpectedBucketOwner" in model.input_shape.members:
            params.setdefault("ExpectedBucketOwner", self.account)

    def attach(self, s3: S3Client) -> ExpectedOwner:
        s3.meta.events.register("before-parameter-build.s3", self, unique_id=self.UNIQUE_ID)
        return self


class IfNoneMatch:
    """Adds ``IfNoneMatch: *`` to the write that creates the object (PutObject for a
    small file, CompleteMultipartUpload for a large one): if another deploy wrote the
    same key first, S3 answers 412 and nothing is overwritten. The transfer manager
    does not accept the argument itself, hence the event hook, on for one upload only."""

    EVENTS = (
        "before-parameter-build.s3.PutObject",
        "before-parameter-build.s3.CompleteMultipartUpload",
    )

    def __init__(self, s3: S3Client) -> None:
        self.events = s3.meta.events

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        params.setdefault("IfNoneMatch", "*")

    def __enter__(self) -> IfNoneMatch:
        for event in self.EVENTS:
            self.events.register(event, self, unique_id=f"layer-tasks-{event}")
        return self

    def __exit__(self, *exc: object) -> None:
        for event in self.EVENTS:
            self.events.unregister(event, unique_id=f"layer-tasks-{event}")


def name_failed_operation(exception: BaseException, event_name: str = "", **_: Any) -> None:
    """Tag a failed call's exception with its operation (``after-call-error`` event).

    botocore's connection errors (a dropped connection, a timeout) do not say which call
    failed, unlike ``ClientError``; the task glue puts the name in the ``error:`` line.
    """
    if not getattr(exception, "operation_name", None):
        with contextlib.suppress(AttributeError):  # an exception type with __slots__
            exception.operation_name = event_name.rsplit(".", 1)[-1]  # type: ignore[attr-defined]
