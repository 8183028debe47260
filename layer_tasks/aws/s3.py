"""S3: the private bucket the layer zips go through, its lifecycle rule, the upload.

Read-only inspection (`inspect_bucket`, `planned_lifecycle`) is separate from the
changes (`create_bucket`, `put_lifecycle`, `upload_layer`) so `deploy --dry-run` can
plan with read calls only. Settings on an existing bucket are never weakened or
changed: what differs from the defaults is reported.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig

from ..errors import LayerError
from ..manifest import Manifest

MiB = 1024 * 1024
PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
TLS_SID = "DenyInsecureTransport"
ABORT_MULTIPART_DAYS = 1


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


# --- layout -------------------------------------------------------------------------


def layer_prefix(prefix: str, name: str) -> str:
    """``<prefix>/<name>/``: every object of this layer lives under it."""
    return f"{prefix.strip('/')}/{name}/" if prefix.strip("/") else f"{name}/"


def object_key(prefix: str, name: str, when: dt.datetime, suffix: int = 0) -> str:
    """``<prefix>/<name>/<YYYYmmdd-HHMMSS>/<name>.zip`` in UTC; ``suffix`` > 0 adds
    ``-N`` to the timestamp folder for a second upload within the same second."""
    stamp = when.astimezone(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    if suffix:
        stamp = f"{stamp}-{suffix}"
    return f"{layer_prefix(prefix, name)}{stamp}/{name}.zip"


def manifest_key(zip_key: str) -> str:
    return zip_key[: -len(".zip")] + ".manifest.json" if zip_key.endswith(".zip") else zip_key


# --- bucket ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BucketState:
    name: str
    exists: bool
    differences: tuple[str, ...] = ()


def tls_policy(bucket: str, region: str) -> dict[str, Any]:
    arn = f"arn:{_partition(region)}:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": TLS_SID,
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def encryption_config(kms_key_id: str = "") -> dict[str, Any]:
    if kms_key_id:
        default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key_id}
        return {
            "Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": True}]
        }
    return {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


def _has_tls_deny(policy_text: str) -> bool:
    try:
        statements = json.loads(policy_text).get("Statement", [])
    except ValueError:
        return False
    if isinstance(statements, dict):
        statements = [statements]
    for st in statements:
        cond = st.get("Condition", {}).get("Bool", {})
        if st.get("Effect") == "Deny" and str(cond.get("aws:SecureTransport")).lower() == "false":
            return True
    return False


# What S3 answers when a bucket has no such setting at all.
_NO_PUBLIC_ACCESS_BLOCK = "NoSuchPublicAccessBlockConfiguration"
_NO_ENCRYPTION = "ServerSideEncryptionConfigurationNotFoundError"
_NO_POLICY = "NoSuchBucketPolicy"


def _setting(
    read: Callable[..., dict[str, Any]], bucket: str, missing: str
) -> dict[str, Any] | None:
    """One of the bucket's settings (``read`` is the S3 getter), or None when it has none."""
    try:
        return read(Bucket=bucket)
    except ClientError as exc:
        if _code(exc) != missing:
            raise
        return None


def _differences(s3: Any, bucket: str, *, plain_http: bool) -> list[str]:
    """What an existing bucket lacks compared with what we would have created."""
    found: list[str] = []
    pab = _setting(s3.get_public_access_block, bucket, _NO_PUBLIC_ACCESS_BLOCK)
    if pab is None:
        found.append("no public access block")
    else:
        config = pab["PublicAccessBlockConfiguration"]
        off = [k for k in PUBLIC_ACCESS_BLOCK if not config.get(k)]
        if off:
            found.append(f"public access block settings off: {', '.join(off)}")
    if _setting(s3.get_bucket_encryption, bucket, _NO_ENCRYPTION) is None:
        found.append("no default encryption")
    if not plain_http:
        policy = _setting(s3.get_bucket_policy, bucket, _NO_POLICY)
        if not _has_tls_deny(policy["Policy"] if policy else ""):
            found.append("no bucket policy denying non-TLS access (aws:SecureTransport)")
    return found


def inspect_bucket(s3: Any, bucket: str, region: str, *, plain_http: bool = False) -> BucketState:
    """Read-only: does the bucket exist, is it ours, in our region, how does it differ."""
    try:
        response = s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        status = _status(exc)
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        if status == 404 or _code(exc) in ("404", "NoSuchBucket"):
            return BucketState(bucket, exists=False)
        if status == 301 or _code(exc) in ("301", "PermanentRedirect"):
            other = headers.get("x-amz-bucket-region", "another region")
            raise _wrong_region(bucket, other, region) from None
        if status == 400 or _code(exc) in ("400", "ExpiredToken", "BadRequest"):
            # HEAD answers carry no error code; S3's 400 here is almost always an expired
            # or malformed session token (403 would be a permission problem).
            raise LayerError(
                f"S3 rejected the request for bucket {bucket!r} (400 Bad Request): the AWS "
                "credentials are most likely expired; refresh them (aws sso login, new "
                "session token) and run again"
            ) from None
        if status == 403 or _code(exc) in ("403", "AccessDenied"):
            raise LayerError(
                f"bucket {bucket!r} exists but this identity cannot use it (403): it belongs "
                "to another account or s3:ListBucket is not granted; choose another "
                "layer.bucket or grant access"
            ) from None
        raise
    actual = response.get("BucketRegion") or response.get("ResponseMetadata", {}).get(
        "HTTPHeaders", {}
    ).get("x-amz-bucket-region")
    if actual and actual != region:
        raise _wrong_region(bucket, actual, region)
    return BucketState(
        bucket, exists=True, differences=tuple(_differences(s3, bucket, plain_http=plain_http))
    )


def _wrong_region(bucket: str, actual: str, region: str) -> LayerError:
    return LayerError(
        f"bucket {bucket!r} is in {actual}, not {region}: a layer must be published from a "
        f"bucket in its own region; set layer.region to {actual} or use another layer.bucket"
    )


def create_bucket(
    s3: Any, bucket: str, region: str, *, kms_key_id: str = "", plain_http: bool = False
) -> list[str]:
    """Create a private, encrypted bucket (TLS-only policy over https). Returns notes."""
    params: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":  # us-east-1 rejects an explicit LocationConstraint
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    notes: list[str] = []
    try:
        s3.create_bucket(**params)
    except ClientError as exc:
        code = _code(exc)
        if code == "BucketAlreadyOwnedByYou":
            notes.append(
                f"bucket {bucket} already existed (owned by you); settings left as they are"
            )
            return notes + _complete_private_settings(
                s3, bucket, region, kms_key_id=kms_key_id, plain_http=plain_http
            )
        if code == "BucketAlreadyExists":
            raise LayerError(
                f"bucket name {bucket!r} is taken by another account: S3 names are global; "
                "choose another layer.bucket"
            ) from None
        if code in (
            "InvalidBucketName",
            "InvalidLocationConstraint",
            "IllegalLocationConstraintException",
        ):
            raise LayerError(
                f"cannot create bucket {bucket!r} in {region}: {code}: "
                f"{exc.response.get('Error', {}).get('Message', '')}"
            ) from None
        raise
    # Private and encrypted before anything is put in it.
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK)
    s3.put_bucket_encryption(
        Bucket=bucket, ServerSideEncryptionConfiguration=encryption_config(kms_key_id)
    )
    if plain_http:
        # The policy would deny every request this tool makes over http.
        notes.append("plain-http endpoint: TLS-only bucket policy skipped")
    else:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(tls_policy(bucket, region)))
    return notes


def _complete_private_settings(
    s3: Any, bucket: str, region: str, *, kms_key_id: str, plain_http: bool
) -> list[str]:
    """Add the private settings a bucket of ours lacks entirely; never change one it has.

    `create_bucket` is only called when the bucket was not there a moment before, so
    "already owned by you" means our own CreateBucket succeeded but its answer was lost
    (botocore's retry then gets this error), or a concurrent deploy is creating it. Either
    way the bucket may have none of the settings yet.
    """
    added: list[str] = []
    if _setting(s3.get_public_access_block, bucket, _NO_PUBLIC_ACCESS_BLOCK) is None:
        s3.put_public_access_block(
            Bucket=bucket, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK
        )
        added.append("public access block")
    if _setting(s3.get_bucket_encryption, bucket, _NO_ENCRYPTION) is None:
        s3.put_bucket_encryption(
            Bucket=bucket, ServerSideEncryptionConfiguration=encryption_config(kms_key_id)
        )
        added.append("default encryption")
    if not plain_http and _setting(s3.get_bucket_policy, bucket, _NO_POLICY) is None:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(tls_policy(bucket, region)))
        added.append("TLS-only bucket policy")
    return [f"it had no {what}: added" for what in added]


# --- lifecycle ------------------------------------------------------------------------


def lifecycle_rule_id(name: str) -> str:
    return f"layer-tasks-{name}"


def lifecycle_rule(prefix: str, name: str, days: int) -> dict[str, Any]:
    if isinstance(days, bool) or not isinstance(days, int) or days <= 0:
        raise LayerError(f"lifecycle days must be a whole number of 1 or more, got {days!r}")
    return {
        "ID": lifecycle_rule_id(name),
        "Status": "Enabled",
        "Filter": {"Prefix": layer_prefix(prefix, name)},
        "Expiration": {"Days": days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_MULTIPART_DAYS},
    }


def merge_lifecycle(
    existing: list[dict[str, Any]], rule: dict[str, Any]
) -> tuple[list[dict[str, Any]], str | None]:
    """Put ``rule`` in place of the rule with its ID, keeping every other rule.

    Returns (rules, change) where change is "create", "update" or None (same rule).
    """
    merged: list[dict[str, Any]] = []
    change: str | None = "create"
    for current in existing:
        if current.get("ID") == rule["ID"]:
            same = all(current.get(k) == v for k, v in rule.items())
            change = None if same else "update"
            merged.append(rule)
        else:
            merged.append(current)
    if change == "create":
        merged.append(rule)
    return merged, change


def get_lifecycle_rules(s3: Any, bucket: str) -> list[dict[str, Any]]:
    try:
        return list(s3.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", []))
    except ClientError as exc:
        if _code(exc) in ("NoSuchLifecycleConfiguration", "NoSuchBucket"):
            return []
        raise


def put_lifecycle(s3: Any, bucket: str, rules: list[dict[str, Any]]) -> None:
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})


def ensure_lifecycle(s3: Any, bucket: str, prefix: str, name: str, days: int) -> str | None:
    """Merge our rule into the bucket's lifecycle; returns the change made (or None)."""
    rules, change = merge_lifecycle(
        get_lifecycle_rules(s3, bucket), lifecycle_rule(prefix, name, days)
    )
    if change:
        put_lifecycle(s3, bucket, rules)
    return change


# --- upload ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Uploaded:
    bucket: str
    key: str
    manifest_key: str
    version_id: str | None
    checksum_sha256: str | None


def key_exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _status(exc) == 404 or _code(exc) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def transfer_config() -> TransferConfig:
    # Imported here: boto3's transfer stack takes ~0.2 s to import, which a no-change
    # deploy (nothing to upload) and every non-AWS task should not pay.
    from boto3.s3.transfer import TransferConfig

    # Multipart above 16 MiB with concurrent 16 MiB parts: a 60 MB layer goes in 4 parts.
    return TransferConfig(
        multipart_threshold=16 * MiB, multipart_chunksize=16 * MiB, max_concurrency=8
    )


def _progress(total: int, label: str) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=label,
        disable=not sys.stderr.isatty(),
        leave=False,
    )


class _IfNoneMatch:
    """Adds ``IfNoneMatch: *`` to the write that creates the object (PutObject for a
    small file, CompleteMultipartUpload for a large one): if another deploy wrote the
    same key first, S3 answers 412 and nothing is overwritten. The transfer manager
    does not accept the argument itself, hence the event hook, on for one upload only."""

    EVENTS = (
        "before-parameter-build.s3.PutObject",
        "before-parameter-build.s3.CompleteMultipartUpload",
    )

    def __init__(self, s3: Any) -> None:
        self.events = s3.meta.events

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        params.setdefault("IfNoneMatch", "*")

    def __enter__(self) -> _IfNoneMatch:
        for event in self.EVENTS:
            self.events.register(event, self, unique_id=f"layer-tasks-{event}")
        return self

    def __exit__(self, *exc: object) -> None:
        for event in self.EVENTS:
            self.events.unregister(event, unique_id=f"layer-tasks-{event}")


def _precondition_failed(exc: Exception) -> bool:
    text = str(exc)
    return "PreconditionFailed" in text or "(412)" in text


def free_keys(s3: Any, bucket: str, prefix: str, name: str, when: dt.datetime) -> Iterator[str]:
    """Candidate keys for this upload, skipping those that already exist."""
    for suffix in range(100):
        key = object_key(prefix, name, when, suffix)
        if not key_exists(s3, bucket, key):
            yield key
    raise LayerError(f"too many uploads of {name} within one second under s3://{bucket}")


def upload_layer(
    s3: Any,
    bucket: str,
    prefix: str,
    zip_path: Path,
    manifest: Manifest,
    *,
    when: dt.datetime | None = None,
    kms_key_id: str = "",
    log: Callable[[str], None] = print,
) -> Uploaded:
    """Upload the zip (multipart, SHA-256 checksums, metadata) and its manifest beside it.

    Never overwrites an object: a taken key gets a ``-N`` suffix on its folder.
    """
    from boto3.exceptions import S3UploadFailedError

    when = when or dt.datetime.now(dt.timezone.utc)
    size = Path(zip_path).stat().st_size
    extra: dict[str, Any] = {
        "ChecksumAlgorithm": "SHA256",
        "ContentType": "application/zip",
        "Metadata": {
            "code_sha256": manifest.code_sha256,
            "unzipped_bytes": str(manifest.unzipped_bytes),
            "requirements_sha256": manifest.requirements_sha256,
        },
    }
    if kms_key_id:
        extra.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key_id)
    for key in free_keys(s3, bucket, prefix, manifest.name, when):
        try:
            with _IfNoneMatch(s3), _progress(size, f"upload {Path(zip_path).name}") as bar:
                s3.upload_file(
                    str(zip_path),
                    bucket,
                    key,
                    ExtraArgs=extra,
                    Callback=bar.update,
                    Config=transfer_config(),
                )
        except S3UploadFailedError as exc:
            if _precondition_failed(exc):
                log(f"s3://{bucket}/{key} was taken meanwhile; trying the next key")
                continue
            if "(AccessDenied)" in str(exc):
                raise LayerError(
                    f"access denied on PutObject to s3://{bucket}/{key}: grant s3:PutObject "
                    f"on arn:aws:s3:::{bucket}/{layer_prefix(prefix, manifest.name)}* to this "
                    "identity (see docs/s3-layer-deployment-guide.md, IAM)"
                ) from None
            raise LayerError(f"upload to s3://{bucket}/{key} failed: {exc}") from None
        break
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    if (
        head.get("ContentLength") != size
        or head.get("Metadata", {}).get("code_sha256") != manifest.code_sha256
    ):
        raise LayerError(f"s3://{bucket}/{key} does not hold the zip just uploaded; deploy again")
    mkey = manifest_key(key)
    put: dict[str, Any] = {"ChecksumAlgorithm": "SHA256", "ContentType": "application/json"}
    if kms_key_id:
        put.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key_id)
    s3.put_object(Bucket=bucket, Key=mkey, Body=manifest.to_json().encode(), **put)
    return Uploaded(
        bucket=bucket,
        key=key,
        manifest_key=mkey,
        version_id=head.get("VersionId") if head.get("VersionId") not in (None, "null") else None,
        checksum_sha256=head.get("ChecksumSHA256"),
    )


def usage(s3: Any, bucket: str, prefix: str, name: str) -> tuple[int, int]:
    """(objects, bytes) under the layer's prefix; (0, 0) when the bucket is missing."""
    objects = total = 0
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=layer_prefix(prefix, name)
        ):
            for item in page.get("Contents", []):
                objects += 1
                total += int(item.get("Size", 0))
    except ClientError as exc:
        if _code(exc) == "NoSuchBucket":
            return 0, 0
        raise
    return objects, total
