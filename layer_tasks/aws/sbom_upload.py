"""Upload the layer's SBOM beside its zip in S3 (``<...>/<name>.cdx.json``).

Kept apart from `s3.upload_layer` so deploy can add it as one step after the zip and
manifest: the same encryption settings, never overwriting an object.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

from layer_tasks.aws.errors import boundary
from layer_tasks.util.redact import for_storage


def sbom_key(zip_key: str) -> str:
    """The S3 key of the SBOM uploaded beside ``<...>/<name>.zip``."""
    return zip_key[: -len(".zip")] + ".cdx.json" if zip_key.endswith(".zip") else zip_key


def upload_sbom(
    s3: S3Client, bucket: str, zip_key: str, path: Path, *, kms_key_id: str = ""
) -> str:
    """Put ``path`` at `sbom_key` of ``zip_key`` and return that key.

    An object already there (another deploy's) raises `errors.PreconditionFailed`."""
    key = sbom_key(zip_key)
    put: dict[str, Any] = {
        "ChecksumAlgorithm": "SHA256",
        "ContentType": "application/vnd.cyclonedx+json",
        # The zip's folder is new for every upload: an object already there is another
        # deploy's, and S3 then answers 412 instead of replacing it.
        "IfNoneMatch": "*",
    }
    if kms_key_id:
        put.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key_id)
    with boundary(f"s3://{bucket}/{key}"):
        # Through the storage boundary, like every object the tool writes.
        text = Path(path).read_bytes().decode("utf-8", "surrogateescape")
        body = for_storage(text).encode("utf-8", "surrogateescape")
        s3.put_object(Bucket=bucket, Key=key, Body=body, **put)
    return key
