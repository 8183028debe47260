"""Lambda layer versions: publish from S3, list, look up, delete.

The client is passed in (see `session.make_clients`). ``ClientError`` is turned into
`LayerError` with the step's context where the user can act on it; a layer or version
that does not exist is a normal answer (nothing / None), not an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..errors import LayerError
from ..manifest import Manifest

DESCRIPTION_LIMIT = 256  # PublishLayerVersion's Description maximum
_NOT_FOUND = ("ResourceNotFoundException", "ResourceNotFound", "404")


@dataclass(frozen=True)
class LayerVersion:
    version: int
    arn: str
    layer_arn: str
    created: str
    description: str
    runtimes: tuple[str, ...]
    architectures: tuple[str, ...]
    code_sha256: str | None = None
    code_size: int | None = None
    license_info: str | None = None


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _is_not_found(exc: ClientError) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return _code(exc) in _NOT_FOUND or status == 404


def layer_arn_of(version_arn: str) -> str:
    """``arn:...:layer:name:7`` -> ``arn:...:layer:name``."""
    head, _, tail = version_arn.rpartition(":")
    return head if tail.isdigit() else version_arn


def _from_api(item: dict[str, Any]) -> LayerVersion:
    # ListLayerVersions items carry no Content; GetLayerVersion/Publish responses do.
    arn = str(item["LayerVersionArn"])
    content = item.get("Content") or {}
    size = content.get("CodeSize")
    return LayerVersion(
        version=int(item["Version"]),
        arn=arn,
        layer_arn=str(item.get("LayerArn") or layer_arn_of(arn)),
        created=str(item.get("CreatedDate", "")),
        description=str(item.get("Description", "")),
        runtimes=tuple(item.get("CompatibleRuntimes") or ()),
        architectures=tuple(item.get("CompatibleArchitectures") or ()),
        code_sha256=content.get("CodeSha256") or None,
        code_size=int(size) if size is not None else None,
        license_info=item.get("LicenseInfo") or None,
    )


def iter_layer_versions(client: Any, name: str) -> Iterator[LayerVersion]:
    """Every published version of layer ``name``, newest first, across all pages.

    A layer that does not exist yields nothing (ListLayerVersions answers an empty
    list for it on AWS; some emulators answer 404).
    """
    paginator = client.get_paginator("list_layer_versions")
    try:
        for page in paginator.paginate(LayerName=name):
            for item in page.get("LayerVersions", []):
                yield _from_api(item)
    except ClientError as exc:
        if _is_not_found(exc):
            return
        raise


def get_layer_version(client: Any, name: str, version: int) -> LayerVersion | None:
    """One version with its CodeSha256 and CodeSize; None when missing or deleted."""
    try:
        response = client.get_layer_version(LayerName=name, VersionNumber=int(version))
    except ClientError as exc:
        if _is_not_found(exc):
            return None
        raise
    return _from_api(response)


def latest_layer_version(client: Any, name: str) -> LayerVersion | None:
    """The newest version, with its content details, or None if nothing is published."""
    for newest in iter_layer_versions(client, name):
        # The list item has no CodeSha256; fetch the full record (it may have been
        # deleted in between, in which case the list's view is still the best answer).
        return get_layer_version(client, name, newest.version) or newest
    return None


def delete_layer_version(client: Any, name: str, version: int) -> None:
    client.delete_layer_version(LayerName=name, VersionNumber=int(version))


# --- publishing -----------------------------------------------------------------------

_DESCRIPTION_RE = re.compile(r"requirements-sha256=([0-9a-f]{6,64}).*?unzipped=([0-9]+)")


def describe(manifest: Manifest, tool: str = "layer-tasks") -> str:
    """A Description (<= 256 chars) that carries the requirements hash and unzipped size.

    `parse_description` reads it back, so `versions` can show the unzipped size of a
    version published from another machine.
    """
    text = (
        f"{manifest.name} python{manifest.python} {manifest.architecture}; "
        f"requirements-sha256={manifest.requirements_sha256} "
        f"unzipped={manifest.unzipped_bytes} files={manifest.files}; {tool}"
    )
    if len(text) > DESCRIPTION_LIMIT:
        # Keep the parseable part; shorten the hash (12 hex digits still identify a set).
        text = (
            f"requirements-sha256={manifest.requirements_sha256[:12]} "
            f"unzipped={manifest.unzipped_bytes}; {tool}"
        )
    return text[:DESCRIPTION_LIMIT]


def parse_description(description: str) -> tuple[str | None, int | None]:
    """(requirements hash, unzipped bytes) from a Description written by `describe`."""
    match = _DESCRIPTION_RE.search(description or "")
    if not match:
        return None, None
    return match.group(1), int(match.group(2))


def publish_from_s3(
    client: Any,
    *,
    name: str,
    bucket: str,
    key: str,
    manifest: Manifest,
    object_version: str | None = None,
    license_info: str = "",
) -> LayerVersion:
    """PublishLayerVersion from an S3 object; the returned CodeSha256 must be the local one.

    A mismatch means Lambda published other bytes than we built (wrong object, a
    concurrent overwrite): fail loudly so no config ever points at it.
    """
    content: dict[str, str] = {"S3Bucket": bucket, "S3Key": key}
    if object_version:
        content["S3ObjectVersion"] = object_version
    params: dict[str, Any] = {
        "LayerName": name,
        "Description": describe(manifest),
        "Content": content,
        "CompatibleRuntimes": [manifest.runtime],
        "CompatibleArchitectures": [manifest.architecture],
    }
    if license_info:
        params["LicenseInfo"] = license_info
    try:
        response = client.publish_layer_version(**params)
    except ClientError as exc:
        code = _code(exc)
        message = exc.response.get("Error", {}).get("Message", "")
        if code in ("AccessDenied", "AccessDeniedException"):
            raise  # the task glue names the IAM fix
        raise LayerError(
            f"publishing layer {name} from s3://{bucket}/{key} failed: {code}: {message}"
        ) from None
    published = _from_api(response)
    if published.code_sha256 != manifest.code_sha256:
        raise LayerError(
            f"Lambda published {published.arn} with CodeSha256 {published.code_sha256!r}, "
            f"but the local zip's is {manifest.code_sha256!r}: the S3 object is not the zip "
            "that was built; the ARN file and config were left unchanged - rebuild and deploy "
            "again"
        )
    return published


def matches(version: LayerVersion, manifest: Manifest) -> bool:
    """True when ``version`` already holds exactly this zip for this runtime/architecture."""
    return (
        version.code_sha256 == manifest.code_sha256
        and manifest.runtime in version.runtimes
        and (not version.architectures or manifest.architecture in version.architectures)
    )


def find_published(client: Any, name: str, manifest: Manifest) -> LayerVersion | None:
    """The latest version when it already holds this zip (idempotent deploy), else None."""
    latest = latest_layer_version(client, name)
    if latest is not None and matches(latest, manifest):
        return latest
    return None
