"""Find the manifest that deploy stored beside a published version's zip in S3.

A layer version does not say which S3 object it was published from (GetLayerVersion's
``Content`` has a pre-signed download URL, not the key), and a Description written by
another tool or an older layer-tasks carries no key either. What every version does
carry is its ``CodeSha256``, and every stored manifest records the ``code_sha256`` of
its zip. So: list the manifests under ``<prefix>/<name>/``, read them nearest the
version's creation time first (the upload happens seconds before the publish, so the
first one read is almost always the one), and take the one whose ``code_sha256``
matches. A match is exact whatever the key layout, the clock or the description; no
match (the lifecycle rule expired it, or another tool published the version) is None.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

from layer_tasks.aws.errors import NotFound, boundary
from layer_tasks.aws.s3 import layer_prefix
from layer_tasks.errors import LayerError
from layer_tasks.model.manifest import Manifest
from layer_tasks.util.bounds import MAX_TEXT_FILE_BYTES, check_json_depth

MANIFEST_SUFFIX = ".manifest.json"
_STAMP = "%Y%m%d-%H%M%S"


def _stamp(key: str) -> dt.datetime | None:
    """The upload time in ``<prefix>/<name>/<YYYYmmdd-HHMMSS>[-N]/<name>.manifest.json``."""
    folder = key.rsplit("/", 2)[-2] if key.count("/") >= 1 else ""
    try:
        return dt.datetime.strptime(folder[:15], _STAMP).replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None


def _created(created: str) -> dt.datetime | None:
    # Lambda's CreatedDate: "2026-11-30T12:00:00.000+0000".
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return dt.datetime.strptime(created, fmt)
        except ValueError:
            continue
    return None


def manifest_keys(s3: S3Client, bucket: str, prefix: str, name: str) -> list[str]:
    """Every stored manifest key of this layer; [] when the bucket does not exist."""
    keys: list[str] = []
    try:
        with boundary(f"s3://{bucket}/{layer_prefix(prefix, name)}"):
            for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=layer_prefix(prefix, name)
            ):
                keys += [
                    str(item["Key"])
                    for item in page.get("Contents", [])
                    if str(item["Key"]).endswith(MANIFEST_SUFFIX)
                ]
    except NotFound:
        return []
    return keys


def nearest_first(keys: list[str], created: str) -> list[str]:
    """``keys`` ordered by how close their upload folder is to ``created`` (newest first
    when the time is unknown)."""
    when = _created(created)

    def distance(key: str) -> tuple[int, float, str]:
        stamp = _stamp(key)
        if when is None or stamp is None:
            return (1, 0.0, "")
        return (0, abs((when - stamp).total_seconds()), key)

    newest = sorted(keys, reverse=True)
    return sorted(newest, key=distance)


def read_manifest(s3: S3Client, bucket: str, key: str) -> dict[str, Any] | None:
    """One stored manifest as a mapping; None when it is gone or not a JSON object.

    What S3 holds is untrusted input (anyone who can write the bucket can put it there):
    at most `MAX_TEXT_FILE_BYTES` are read, nesting is bounded before parsing."""
    try:
        with boundary(f"s3://{bucket}/{key}"):
            stream = s3.get_object(Bucket=bucket, Key=key)["Body"]
            try:
                body = stream.read(MAX_TEXT_FILE_BYTES + 1)
            finally:
                stream.close()
    except NotFound:
        return None  # expired between the listing and the read
    if len(body) > MAX_TEXT_FILE_BYTES:
        return None
    try:
        text = body.decode("utf-8")
        check_json_depth(text, f"s3://{bucket}/{key}")
        data = json.loads(text)
    except (ValueError, LayerError):
        return None
    return data if isinstance(data, dict) else None


def _checked(bucket: str, key: str, data: dict[str, Any]) -> dict[str, Any]:
    """The manifest of the version asked for, its fields checked as a local one's are."""
    try:
        Manifest.from_dict(data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LayerError(
            f"the stored manifest s3://{bucket}/{key} is unreadable ({exc}): it was changed "
            "after the deploy that wrote it; deploy again to store a fresh one"
        ) from None
    return data


def find_manifest(
    s3: S3Client, bucket: str, prefix: str, name: str, code_sha256: str, created: str = ""
) -> tuple[str, dict[str, Any]] | None:
    """(key, manifest) of the stored manifest whose zip has ``code_sha256``, or None."""
    if not code_sha256:
        return None
    for key in nearest_first(manifest_keys(s3, bucket, prefix, name), created):
        data = read_manifest(s3, bucket, key)
        if data is not None and data.get("code_sha256") == code_sha256:
            return key, _checked(bucket, key, data)
    return None
