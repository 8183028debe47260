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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import (
        LifecycleRuleTypeDef,
        PublicAccessBlockConfigurationTypeDef,
        ServerSideEncryptionByDefaultTypeDef,
        ServerSideEncryptionConfigurationTypeDef,
    )

from layer_tasks.aws.errors import (
    AccessDenied,
    AwsError,
    BadCredentials,
    Conflict,
    InvalidRequest,
    NotFound,
    PreconditionFailed,
    WrongRegion,
    boundary,
)
from layer_tasks.aws.hooks import IfNoneMatch
from layer_tasks.config.platform import MiB
from layer_tasks.errors import LayerError
from layer_tasks.model.manifest import Manifest
from layer_tasks.util.redact import for_storage

PUBLIC_ACCESS_BLOCK: PublicAccessBlockConfigurationTypeDef = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
TLS_SID = "DenyInsecureTransport"
ABORT_MULTIPART_DAYS = 1


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


def encryption_config(kms_key_id: str = "") -> ServerSideEncryptionConfigurationTypeDef:
    if kms_key_id:
        default: ServerSideEncryptionByDefaultTypeDef = {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": kms_key_id,
        }
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


def _setting(read: Callable[..., Mapping[str, Any]], bucket: str) -> Mapping[str, Any] | None:
    """One of the bucket's settings (``read`` is the S3 getter), or None when it has none."""
    try:
        with boundary(f"s3://{bucket}"):
            return read(Bucket=bucket)
    except NotFound:
        return None


def _differences(s3: S3Client, bucket: str, *, plain_http: bool) -> list[str]:
    """What an existing bucket lacks compared with what we would have created."""
    found: list[str] = []
    pab = _setting(s3.get_public_access_block, bucket)
    if pab is None:
        found.append("no public access block")
    else:
        config = pab["PublicAccessBlockConfiguration"]
        off = [k for k in PUBLIC_ACCESS_BLOCK if not config.get(k)]
        if off:
            found.append(f"public access block settings off: {', '.join(off)}")
    if _setting(s3.get_bucket_encryption, bucket) is None:
        found.append("no default encryption")
    if not plain_http:
        policy = _setting(s3.get_bucket_policy, bucket)
        if not _has_tls_deny(policy["Policy"] if policy else ""):
            found.append("no bucket policy denying non-TLS access (aws:SecureTransport)")
    return found


def inspect_bucket(
    s3: S3Client, bucket: str, region: str, *, plain_http: bool = False
) -> BucketState:
    """Read-only: does the bucket exist, is it ours, in our region, how does it differ."""
    try:
        with boundary(f"s3://{bucket}"):
            response = s3.head_bucket(Bucket=bucket)
    except NotFound:
        return BucketState(bucket, exists=False)
    except WrongRegion as exc:
        raise _wrong_region(bucket, exc.region or "another region", region) from None
    except BadCredentials as exc:
        # The first S3 call of a deploy: the usual place where old session tokens show.
        raise exc.reworded(
            f"S3 rejected the request for bucket {bucket!r} (400 Bad Request): the AWS "
            "credentials are most likely expired; refresh them (aws sso login, new "
            "session token) and run again"
        ) from None
    except AccessDenied as exc:
        # With ExpectedBucketOwner on every call, a bucket of another account is a 403
        # here, before anything is written to it.
        raise exc.reworded(
            f"bucket {bucket!r} exists but this identity cannot use it (403): it belongs "
            "to another account or s3:ListBucket is not granted; choose another "
            "layer.bucket or grant access"
        ) from None
    actual = response.get("BucketRegion") or response.get("ResponseMetadata", {}).get(
        "HTTPHeaders", {}
    ).get("x-amz-bucket-region")
    if actual and actual != region:
        raise _wrong_region(bucket, actual, region)
    return BucketState(
        bucket, exists=True, differences=tuple(_differences(s3, bucket, plain_http=plain_http))
    )


def _wrong_region(bucket: str, actual: str, region: str) -> WrongRegion:
    where = WrongRegion(
        f"in {actual}", operation="HeadBucket", resource=f"s3://{bucket}", region=actual
    )
    return where.reworded(
        f"bucket {bucket!r} is in {actual}, not {region}: a layer must be published from a "
        f"bucket in its own region; set layer.region to {actual} or use another layer.bucket"
    )


def create_bucket(
    s3: S3Client, bucket: str, region: str, *, kms_key_id: str = "", plain_http: bool = False
) -> list[str]:
    """Create a private, encrypted bucket (TLS-only policy over https). Returns notes."""
    params: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":  # us-east-1 rejects an explicit LocationConstraint
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    notes: list[str] = []
    try:
        with boundary(f"s3://{bucket}"):
            s3.create_bucket(**params)
    except Conflict as exc:
        if exc.code != "BucketAlreadyOwnedByYou":
            raise exc.reworded(
                f"bucket name {bucket!r} is taken by another account: S3 names are global; "
                "choose another layer.bucket"
            ) from None
        notes.append(f"bucket {bucket} already existed (owned by you); settings left as they are")
        return notes + _complete_private_settings(
            s3, bucket, region, kms_key_id=kms_key_id, plain_http=plain_http
        )
    except InvalidRequest as exc:
        raise exc.reworded(f"cannot create bucket {bucket!r} in {region}: {exc.detail}") from None
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
    s3: S3Client, bucket: str, region: str, *, kms_key_id: str, plain_http: bool
) -> list[str]:
    """Add the private settings a bucket of ours lacks entirely; never change one it has.

    `create_bucket` is only called when the bucket was not there a moment before, so
    "already owned by you" means our own CreateBucket succeeded but its answer was lost
    (botocore's retry then gets this error), or a concurrent deploy is creating it. Either
    way the bucket may have none of the settings yet.
    """
    added: list[str] = []
    if _setting(s3.get_public_access_block, bucket) is None:
        s3.put_public_access_block(
            Bucket=bucket, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK
        )
        added.append("public access block")
    if _setting(s3.get_bucket_encryption, bucket) is None:
        s3.put_bucket_encryption(
            Bucket=bucket, ServerSideEncryptionConfiguration=encryption_config(kms_key_id)
        )
        added.append("default encryption")
    if not plain_http and _setting(s3.get_bucket_policy, bucket) is None:
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


def get_lifecycle_rules(s3: S3Client, bucket: str) -> list[dict[str, Any]]:
    found = _setting(s3.get_bucket_lifecycle_configuration, bucket)
    return list(found.get("Rules", [])) if found else []


def put_lifecycle(s3: S3Client, bucket: str, rules: list[dict[str, Any]]) -> None:
    # Plain data from the plan: the bucket's own rules as S3 gave them, and `lifecycle_rule`'s.
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": cast("list[LifecycleRuleTypeDef]", rules)}
    )


def ensure_lifecycle(s3: S3Client, bucket: str, prefix: str, name: str, days: int) -> str | None:
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


def key_exists(s3: S3Client, bucket: str, key: str) -> bool:
    try:
        with boundary(f"s3://{bucket}/{key}"):
            s3.head_object(Bucket=bucket, Key=key)
    except NotFound:
        return False
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


def free_key(s3: S3Client, bucket: str, prefix: str, name: str, when: dt.datetime) -> str:
    """The key this upload will use: the first of ``object_key(..., suffix)`` not taken.

    Read at planning time, so `--dry-run` prints the key the upload then uses."""
    for suffix in range(100):
        key = object_key(prefix, name, when, suffix)
        if not key_exists(s3, bucket, key):
            return key
    raise LayerError(f"too many uploads of {name} within one second under s3://{bucket}")


def _holds(head: dict[str, Any], size: int, manifest: Manifest) -> bool:
    """Does the object (a HeadObject answer) hold exactly this zip?"""
    if head.get("ContentLength") != size:
        return False
    if head.get("Metadata", {}).get("code_sha256") != manifest.code_sha256:
        return False
    # A single-part upload's SHA-256 checksum is that of the whole object: the same value
    # as Lambda's CodeSha256. A multipart one (ETag "...-N") is a checksum of the parts'.
    checksum = head.get("ChecksumSHA256")
    multipart = "-" in str(head.get("ETag", "")) or "-" in str(checksum or "")
    return not checksum or multipart or checksum == manifest.code_sha256


def upload_layer(
    s3: S3Client,
    bucket: str,
    key: str,
    zip_path: Path,
    manifest: Manifest,
    *,
    kms_key_id: str = "",
    log: Callable[[str], None] = print,
) -> Uploaded:
    """Upload the zip to ``key`` (multipart, SHA-256 checksums, metadata), check what S3
    holds, and put the manifest beside it.

    Never overwrites an object (``IfNoneMatch: *``). A 412 means the key was written
    after the plan found it free: by this very upload when an attempt's answer was lost
    and botocore sent it again (then the object holds our bytes and is used), or by
    someone else (then the deploy stops: nothing of ours is in the way of theirs).
    """
    size = Path(zip_path).stat().st_size
    where = f"s3://{bucket}/{key}"
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
    try:
        with (
            boundary(where),
            IfNoneMatch(s3),
            _progress(size, f"upload {Path(zip_path).name}") as bar,
        ):
            s3.upload_file(
                str(zip_path),
                bucket,
                key,
                ExtraArgs=extra,
                Callback=bar.update,
                Config=transfer_config(),
            )
    except PreconditionFailed:
        if not _holds(_head(s3, bucket, key), size, manifest):
            raise LayerError(
                f"{where} was written by another deploy after this one planned to use it; "
                "nothing was overwritten: run the deploy again"
            ) from None
        log(f"{where} already holds this zip (an earlier attempt whose answer was lost)")
    except AccessDenied as exc:
        folder = key.rsplit("/", 2)[0]  # <prefix>/<name>, above the time-stamped folder
        raise exc.reworded(
            f"access denied on PutObject to {where}: grant s3:PutObject on "
            f"arn:aws:s3:::{bucket}/{folder}/* to this identity "
            "(see docs/s3-layer-deployment-guide.md, IAM)"
        ) from None
    except AwsError as exc:
        raise exc.with_context(f"upload to {where} failed") from None
    head = _head(s3, bucket, key)
    if not _holds(head, size, manifest):
        raise LayerError(
            f"{where} does not hold the zip just uploaded ({head.get('ContentLength')} bytes, "
            f"SHA-256 {head.get('ChecksumSHA256') or '?'}; the local zip: {size} bytes, "
            f"CodeSha256 {manifest.code_sha256}): deploy again"
        )
    mkey = manifest_key(key)
    put: dict[str, Any] = {"ChecksumAlgorithm": "SHA256", "ContentType": "application/json"}
    if kms_key_id:
        put.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key_id)
    with boundary(f"s3://{bucket}/{mkey}"):
        body = for_storage(manifest.to_json()).encode()
        s3.put_object(Bucket=bucket, Key=mkey, Body=body, **put)
    version = head.get("VersionId")
    return Uploaded(
        bucket=bucket,
        key=key,
        manifest_key=mkey,
        version_id=version if version not in (None, "null") else None,
    )


def _head(s3: S3Client, bucket: str, key: str) -> dict[str, Any]:
    with boundary(f"s3://{bucket}/{key}"):
        return dict(s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED"))


def usage(s3: S3Client, bucket: str, prefix: str, name: str) -> tuple[int, int]:
    """(objects, bytes) under the layer's prefix; (0, 0) when the bucket is missing."""
    objects = total = 0
    try:
        with boundary(f"s3://{bucket}"):
            for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=layer_prefix(prefix, name)
            ):
                for item in page.get("Contents", []):
                    objects += 1
                    total += int(item.get("Size", 0))
    except NotFound:
        return 0, 0
    return objects, total


def set_layer_lifecycle(
    s3: S3Client, bucket: str, region: str, prefix: str, name: str, days: int, *, plain_http: bool
) -> str:
    """Merge the layer's rule into an existing bucket's lifecycle; one line saying what
    changed (`inv layer.lifecycle`). The bucket is checked as a deploy checks it."""
    if not inspect_bucket(s3, bucket, region, plain_http=plain_http).exists:
        raise LayerError(
            f"bucket {bucket} does not exist in {region}: `inv layer.deploy` creates it"
        )
    change = ensure_lifecycle(s3, bucket, prefix, name, days)
    where = f"s3://{bucket}/{layer_prefix(prefix, name)}"
    if change:
        return (
            f"lifecycle: {change}d rule {lifecycle_rule_id(name)}: zips under {where} "
            f"expire after {days} days"
        )
    return f"lifecycle: unchanged ({where} expires after {days} days)"
