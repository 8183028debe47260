"""A deploy lock that works across machines: one S3 object, written with conditional writes.

The lock is ``<prefix>/<name>/deploy.lock`` in the layer's bucket, beside its zips. As
Terraform's S3 backend does (``use_lockfile``), it is taken with ``PutObject`` and
``If-None-Match: *``: S3 creates the object for exactly one writer and answers every
other one 412. Its JSON body names the holder (host, pid, user, CI run, time, a random
token). Everything after that is conditional on the ETag the holder got back:

- a lock older than ``stale_after`` (by S3's own clock: the answer's ``Date`` minus the
  object's ``LastModified``, so no machine's clock matters) is taken over by overwriting
  it with ``If-Match: <its ETag>``: of two takers only one matches;
- `Lock.refresh` rewrites it the same way, so a long deploy never looks stale;
- `Lock.release` deletes it with ``If-Match: <our ETag>``: never someone else's lock.

Each write's body is unique (token, time), so its ETag is too, and a retried write whose
first answer was lost is recognised by the token (we hold the lock, not a stranger).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import getpass
import json
import os
import random
import secrets
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from typing_extensions import Unpack

from layer_tasks.aws.errors import (
    AccessDenied,
    AwsError,
    Conflict,
    NotFound,
    PreconditionFailed,
    boundary,
)
from layer_tasks.aws.s3 import layer_prefix
from layer_tasks.errors import LayerError

LOCK_NAME = "deploy.lock"
# The first variable set names the CI run: GitHub Actions, GitLab, Buildkite, CircleCI,
# AWS CodeBuild, Jenkins.
CI_RUN_VARS = (
    "GITHUB_RUN_ID",
    "CI_JOB_ID",
    "BUILDKITE_BUILD_ID",
    "CIRCLE_WORKFLOW_ID",
    "CODEBUILD_BUILD_ID",
    "BUILD_TAG",
)
# A lock body is untrusted input (anyone who can write the bucket can write it): read
# at most this much, and a holder only with fields of the kinds and sizes we write.
MAX_BODY_BYTES = 64 * 1024
MAX_FIELD_CHARS = 256
# Linux's largest pid (PID_MAX_LIMIT, 2**22); other systems stay far below 2**31.
MAX_PID = 2**31 - 1
# 412, or 409 ConditionalRequestConflict (S3's answer when another conditional write of
# the same key is in flight): either way someone else won.
_LOST_RACE = (PreconditionFailed, Conflict)


def lock_key(prefix: str, name: str) -> str:
    """``<prefix>/<name>/deploy.lock``."""
    return f"{layer_prefix(prefix, name)}{LOCK_NAME}"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ci_run(environ: Mapping[str, str]) -> str:
    for var in CI_RUN_VARS:
        if environ.get(var):
            return f"{var}={environ[var]}"
    return ""


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers) and no USER
        return "unknown"


@dataclass(frozen=True)
class Holder:
    """Who holds (or wants) the lock. Nothing secret: it is readable by anyone who can
    read the bucket."""

    host: str
    pid: int
    user: str
    ci_run: str
    since: str  # UTC, ISO 8601
    token: str
    refreshed: str = ""
    # This machine's boot: with the host, it says the holder's pid is one of ours.
    boot: str = ""

    @classmethod
    def here(cls, environ: Mapping[str, str] | None = None) -> Holder:
        return cls(
            host=socket.gethostname(),
            pid=os.getpid(),
            user=_user(),
            ci_run=_ci_run(os.environ if environ is None else environ),
            since=_iso(_utc_now()),
            token=secrets.token_hex(16),
            boot=_boot_id(),
        )

    def gone(self) -> bool:
        """True when the holder ran on this machine, since its last boot, and its
        process has ended (a deploy that was killed): its lock protects nothing."""
        if not self.boot or self.boot != _boot_id() or self.host != socket.gethostname():
            return False
        if not 0 < self.pid <= MAX_PID:
            return False  # not a pid we write: no process of ours to ask about
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except (OSError, OverflowError, ValueError):  # another user's; or not a pid here
            return False
        return False

    def body(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_body(cls, data: bytes) -> Holder | None:
        """The holder in a lock body; None when it is not one of ours (hand-written, or
        another tool's): every field must be of the kind and size we write, the pid a
        whole number in a pid's range, the text printable (it is shown in messages)."""
        if len(data) > MAX_BODY_BYTES:
            return None
        try:
            raw = json.loads(data)
        except (ValueError, RecursionError):
            return None
        if not isinstance(raw, dict):
            return None
        pid = raw.get("pid")
        if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid <= MAX_PID:
            return None
        text = {}
        for name in ("host", "token", "user", "ci_run", "since", "refreshed", "boot"):
            value = raw.get(name, "")
            if not isinstance(value, str) or not _printable(value):
                return None
            text[name] = value
        if not text["host"] or not text["token"]:
            return None
        return cls(pid=pid, **text)

    def describe(self) -> str:
        ci = f", {self.ci_run}" if self.ci_run else ""
        return f"{self.user}@{self.host} pid {self.pid}{ci}, since {self.since}"


@dataclass(frozen=True)
class LockState:
    """The lock object as it is in S3 now."""

    holder: Holder | None
    etag: str
    age: dt.timedelta

    def describe(self) -> str:
        who = self.holder.describe() if self.holder else "an unreadable lock body"
        return f"{who} ({_minutes(self.age)} old)"


def _printable(value: str) -> bool:
    return len(value) <= MAX_FIELD_CHARS and value.isprintable()


def _boot_id() -> str:
    try:  # Linux: a new value at every boot; two machines never share one
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _minutes(age: dt.timedelta) -> str:
    seconds = max(0, int(age.total_seconds()))
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


def _failed(exc: AwsError, action: str, bucket: str, key: str) -> AwsError:
    if isinstance(exc, NotFound):  # a missing key is handled by each caller: the bucket
        return exc.reworded(
            f"cannot {action} the deploy lock s3://{bucket}/{key}: bucket {bucket} does not "
            "exist (the deploy creates it before taking the lock)"
        )
    if isinstance(exc, AccessDenied):
        return exc.reworded(
            f"access denied when trying to {action} the deploy lock s3://{bucket}/{key}: grant "
            f"s3:GetObject, s3:PutObject and s3:DeleteObject on arn:aws:s3:::{bucket}/{key}"
        )
    return exc.with_context(f"cannot {action} the deploy lock s3://{bucket}/{key}")


def read_lock(s3: S3Client, bucket: str, key: str) -> LockState | None:
    """The lock as it is now, or None when there is none (or no bucket)."""
    try:
        with boundary(f"s3://{bucket}/{key}"):
            response = s3.get_object(Bucket=bucket, Key=key)
    except NotFound:  # no lock, or no bucket (then there is no lock either)
        return None
    except AwsError as exc:
        raise _failed(exc, "read", bucket, key) from None
    stream = response["Body"]
    try:
        data = stream.read(MAX_BODY_BYTES + 1)  # a larger body is not one of ours
    finally:
        stream.close()
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    return LockState(
        holder=Holder.from_body(data),
        etag=str(response["ETag"]),
        age=_age(date, response.get("LastModified")),
    )


def _age(date: Any, last_modified: Any) -> dt.timedelta:
    """How old the lock is by S3's clock on both sides (a machine with a wrong clock
    cannot make a lock stale); what the answer does not say clearly counts as new."""
    try:
        server_now = email.utils.parsedate_to_datetime(date) if date else _utc_now()
        if server_now.tzinfo is None:
            server_now = server_now.replace(tzinfo=dt.timezone.utc)
        age = server_now - last_modified
    except (TypeError, ValueError, OverflowError):
        return dt.timedelta(0)
    return age if isinstance(age, dt.timedelta) else dt.timedelta(0)


class _Condition(TypedDict, total=False):
    """The one condition a lock write carries."""

    IfMatch: str
    IfNoneMatch: str


def _put(
    s3: S3Client,
    bucket: str,
    key: str,
    body: bytes,
    kms_key_id: str,
    **condition: Unpack[_Condition],
) -> str:
    extra: dict[str, Any] = {"ChecksumAlgorithm": "SHA256", "ContentType": "application/json"}
    if kms_key_id:
        extra.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key_id)
    with boundary(f"s3://{bucket}/{key}"):
        return str(s3.put_object(Bucket=bucket, Key=key, Body=body, **extra, **condition)["ETag"])


def create(
    s3: S3Client, bucket: str, key: str, holder: Holder, *, kms_key_id: str = ""
) -> str | None:
    """Write the lock if there is none (``If-None-Match: *``); its ETag, or None if taken."""
    try:
        return _put(s3, bucket, key, holder.body(), kms_key_id, IfNoneMatch="*")
    except _LOST_RACE:
        return None
    except AwsError as exc:
        raise _failed(exc, "take", bucket, key) from None


def take_over(
    s3: S3Client, bucket: str, key: str, holder: Holder, stale_etag: str, *, kms_key_id: str = ""
) -> str | None:
    """Overwrite the lock only if it is still the one with ``stale_etag``; our ETag, or
    None when it changed or went away meanwhile (another taker won, or it was released)."""
    try:
        return _put(s3, bucket, key, holder.body(), kms_key_id, IfMatch=stale_etag)
    except (*_LOST_RACE, NotFound):
        return None
    except AwsError as exc:
        raise _failed(exc, "take over", bucket, key) from None


@dataclass
class Lock:
    """A lock we hold: ``etag`` is what S3 answered to our last write of it."""

    s3: S3Client
    bucket: str
    key: str
    holder: Holder
    etag: str
    kms_key_id: str = ""

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def refresh(self) -> None:
        """Rewrite the lock so its age starts again; fails if it is no longer ours."""
        # A new body gives a new ETag: a taker that read the old one cannot match it.
        holder = replace(self.holder, refreshed=_utc_now().isoformat(timespec="microseconds"))
        etag = take_over(
            self.s3, self.bucket, self.key, holder, self.etag, kms_key_id=self.kms_key_id
        )
        if etag is None:
            current = read_lock(self.s3, self.bucket, self.key)
            who = current.describe() if current else "nobody (it was removed)"
            raise LayerError(
                f"the deploy lock {self.where} is no longer ours: it is held by {who}; "
                "stopped before the next step - check what the other deploy did, then deploy again"
            )
        self.holder, self.etag = holder, etag

    def release(self, log: Callable[[str], None]) -> None:
        """Delete the lock only if it is still ours (``If-Match`` on our ETag)."""
        try:
            with boundary(self.where):
                self.s3.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=self.etag)
        except NotFound:
            log(f"deploy lock {self.where} was already gone")
        except _LOST_RACE:
            current = read_lock(self.s3, self.bucket, self.key)
            who = current.describe() if current else "someone else"
            log(
                f"warning: deploy lock {self.where} was taken over by {who} while this "
                "deploy held it; left in place"
            )
        except AwsError as exc:
            raise _failed(exc, "release", self.bucket, self.key) from None


def acquire(
    s3: S3Client,
    bucket: str,
    key: str,
    *,
    wait_seconds: float,
    stale_after: dt.timedelta,
    log: Callable[[str], None],
    kms_key_id: str = "",
    first_poll: float = 1.0,
    max_poll: float = 15.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Lock:
    """Take the lock, waiting up to ``wait_seconds`` (polling with capped exponential
    backoff and jitter) for its holder; take over a stale one with a warning.

    Raises `LayerError` naming the holder when the wait runs out.
    """
    holder = Holder.here()
    deadline = clock() + wait_seconds
    delay = first_poll
    announced = False
    where = f"s3://{bucket}/{key}"

    def held(etag: str) -> Lock:
        return Lock(s3, bucket, key, holder, etag, kms_key_id)

    while True:
        etag = create(s3, bucket, key, holder, kms_key_id=kms_key_id)
        if etag is not None:
            return held(etag)
        current = read_lock(s3, bucket, key)
        if current is None:
            continue  # released between our write and our read: try again at once
        if current.holder is not None and current.holder.token == holder.token:
            # Our own write: its answer was lost and botocore's retry met our lock (412).
            return held(current.etag)
        dead = current.holder is not None and current.holder.gone()
        if dead or current.age >= stale_after:
            etag = take_over(s3, bucket, key, holder, current.etag, kms_key_id=kms_key_id)
            if etag is not None:
                why = (
                    "whose process on this machine has ended"
                    if dead
                    else f"is older than {_minutes(stale_after)}"
                )
                log(f"warning: deploy lock {where} held by {current.describe()} {why}: taken over")
                return held(etag)
            continue  # another taker won, or it was released: look again
        remaining = deadline - clock()
        if remaining <= 0:
            raise LayerError(
                f"another deploy holds the lock {where}: {current.describe()}; waited "
                f"{wait_seconds:g} s - run again when it has finished, or, if no deploy is "
                "running, remove the lock with `inv layer.unlock`"
            )
        if not announced:
            log(
                f"deploy lock {where} is held by {current.describe()}; waiting up to "
                f"{wait_seconds:g} s"
            )
            announced = True
        # Jitter keeps several waiters from polling in step.
        sleep(min(remaining, delay * random.uniform(0.5, 1.0)))
        delay = min(delay * 2, max_poll)


@contextlib.contextmanager
def hold(s3: S3Client, bucket: str, key: str, **options: Any) -> Iterator[Lock]:
    """``with hold(...) as lock:`` the steps that change AWS; released however they end.
    ``options`` are `acquire`'s (``wait_seconds``, ``stale_after``, ``log``...)."""
    lock = acquire(s3, bucket, key, **options)
    try:
        yield lock
    finally:
        lock.release(options["log"])


def unlock(s3: S3Client, bucket: str, key: str) -> LockState | None:
    """Remove the lock whoever holds it; what was removed, or None when there was none."""
    current = read_lock(s3, bucket, key)
    if current is None:
        return None
    try:
        with boundary(f"s3://{bucket}/{key}"):
            s3.delete_object(Bucket=bucket, Key=key, IfMatch=current.etag)
    except NotFound:
        return None
    except _LOST_RACE:
        raise LayerError(
            f"the deploy lock s3://{bucket}/{key} changed while it was being removed "
            "(another deploy took it); nothing removed - run `inv layer.unlock` again "
            "if no deploy is running"
        ) from None
    except AwsError as exc:
        raise _failed(exc, "remove", bucket, key) from None
    return current


def unlock_report(removed: LockState | None, bucket: str, key: str) -> str:
    if removed is None:
        return f"no deploy lock at s3://{bucket}/{key}: nothing to remove"
    return f"removed the deploy lock s3://{bucket}/{key} held by {removed.describe()}"
