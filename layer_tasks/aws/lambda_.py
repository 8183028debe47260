"""Lambda layer versions: publish from S3, list, look up, delete.

The client is passed in (see `session.make_clients`). botocore's errors come out as the
`errors.AwsError` kinds; a layer or version that does not exist is a normal answer
(nothing / None), not an error.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

from layer_tasks.aws.errors import (
    AccessDenied,
    AnswerLost,
    AwsError,
    NotFound,
    boundary,
    may_have_arrived,
)
from layer_tasks.errors import LayerError
from layer_tasks.model.manifest import Manifest

DESCRIPTION_LIMIT = 256  # PublishLayerVersion's Description maximum


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


def layer_arn_of(version_arn: str) -> str:
    """``arn:...:layer:name:7`` -> ``arn:...:layer:name``."""
    head, _, tail = version_arn.rpartition(":")
    return head if tail.isdigit() else version_arn


def _from_api(item: Mapping[str, Any]) -> LayerVersion:
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


def iter_layer_versions(client: LambdaClient, name: str) -> Iterator[LayerVersion]:
    """Every published version of layer ``name``, newest first, across all pages.

    A layer that does not exist yields nothing (ListLayerVersions answers an empty
    list for it on AWS; some emulators answer 404).
    """
    paginator = client.get_paginator("list_layer_versions")
    try:
        with boundary(f"layer {name}"):
            for page in paginator.paginate(LayerName=name):
                yield from (_from_api(item) for item in page.get("LayerVersions", []))
    except NotFound:
        return


def get_layer_version(client: LambdaClient, name: str, version: int) -> LayerVersion | None:
    """One version with its CodeSha256 and CodeSize; None when missing or deleted."""
    try:
        with boundary(f"layer {name} version {version}"):
            response = client.get_layer_version(LayerName=name, VersionNumber=int(version))
    except NotFound:
        return None
    return _from_api(response)


def latest_layer_version(client: LambdaClient, name: str) -> LayerVersion | None:
    """The newest version, with its content details, or None if nothing is published."""
    for newest in iter_layer_versions(client, name):
        # The list item has no CodeSha256; fetch the full record (it may have been
        # deleted in between, in which case the list's view is still the best answer).
        return get_layer_version(client, name, newest.version) or newest
    return None


def delete_layer_version(client: LambdaClient, name: str, version: int) -> None:
    with boundary(f"layer {name} version {version}"):
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


def publish_params(
    manifest: Manifest, *, name: str, bucket: str, key: str, license_info: str = ""
) -> dict[str, Any]:
    """PublishLayerVersion's arguments for the zip at ``s3://bucket/key`` (plain data, so
    the deploy plan holds exactly what will be sent)."""
    params: dict[str, Any] = {
        "LayerName": name,
        "Description": describe(manifest),
        "Content": {"S3Bucket": bucket, "S3Key": key},
        "CompatibleRuntimes": [manifest.runtime],
        "CompatibleArchitectures": [manifest.architecture],
    }
    if license_info:
        params["LicenseInfo"] = license_info
    return params


def publish(
    client: LambdaClient, params: dict[str, Any], object_version: str | None = None
) -> LayerVersion:
    """PublishLayerVersion with ``params`` (see `publish_params`)."""
    content = params["Content"]
    where = f"s3://{content['S3Bucket']}/{content['S3Key']}"
    if object_version:
        params = {**params, "Content": {**content, "S3ObjectVersion": object_version}}
    try:
        with boundary(f"layer {params['LayerName']}"):
            response = client.publish_layer_version(**params)
    except (AccessDenied, AnswerLost):
        raise  # the first names the IAM fix; the second is `publish_or_adopt`'s to judge
    except AwsError as exc:
        raise exc.with_context(
            f"publishing layer {params['LayerName']} from {where} failed"
        ) from None
    return _from_api(response)


def check_code_sha256(published: LayerVersion, expected: str) -> None:
    """The CodeSha256 Lambda reports must be the local zip's.

    A mismatch means Lambda published other bytes than we built (wrong object, a
    concurrent overwrite): fail loudly so no config ever points at it.
    """
    if published.code_sha256 != expected:
        raise LayerError(
            f"Lambda published {published.arn} with CodeSha256 {published.code_sha256!r}, "
            f"but the local zip's is {expected!r}: the S3 object is not the zip "
            "that was built; the ARN file and config were left unchanged - rebuild and deploy "
            "again"
        )


def matches(version: LayerVersion, manifest: Manifest) -> bool:
    """True when ``version`` already holds exactly this zip for this runtime/architecture."""
    return (
        version.code_sha256 == manifest.code_sha256
        and manifest.runtime in version.runtimes
        and (not version.architectures or manifest.architecture in version.architectures)
    )


# --- publishing once, when an answer is lost ------------------------------------------
#
# PublishLayerVersion has no idempotency token: when the connection drops after Lambda
# received the request, botocore's retry would publish the same zip a second time. So
# for this one operation a possibly-delivered failure is not retried blindly; the
# versions published since the first attempt are looked at first.

_NO_BLIND_RETRY = "layer-tasks-publish-no-blind-retry"
# How far before our first attempt a version's CreatedDate may be and still be ours:
# Lambda's clock against this machine's.
CLOCK_SKEW = dt.timedelta(minutes=5)


def _no_blind_retry(caught_exception: BaseException | None = None, **_: Any) -> bool | None:
    # ``needs-retry``: botocore uses the first answer that is not None, and False means
    # "do not retry"; registered first, this one wins for a possibly-delivered request
    # (see errors.may_have_arrived).
    return False if may_have_arrived(caught_exception) else None


def _created(version: LayerVersion) -> dt.datetime | None:
    # Lambda's format: 2024-05-01T12:00:00.123+0000 (some emulators drop the fraction).
    for layout in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return dt.datetime.strptime(version.created, layout)
        except ValueError:
            continue
    return None


def find_adoptable(
    client: LambdaClient,
    name: str,
    manifest: Manifest,
    description: str,
    since: dt.datetime,
    newer_than: int = 0,
) -> LayerVersion | None:
    """The newest version created at or after ``since`` (and numbered above
    ``newer_than``) that is exactly what we meant to publish: same CodeSha256, runtimes,
    architectures and description."""
    for listed in iter_layer_versions(client, name):
        if listed.version <= newer_than:
            break  # newest first: one this deploy published before (an aligning one)
        created = _created(listed)
        if created is None:
            continue  # its age is unknown: not adoptable
        if created < since:
            break  # newest first: everything after this one is older
        if (
            listed.description != description
            or set(listed.runtimes) != {manifest.runtime}
            or set(listed.architectures) != {manifest.architecture}
        ):
            continue
        full = get_layer_version(client, name, listed.version)
        if full is not None and full.code_sha256 == manifest.code_sha256:
            return full
    return None


@dataclass(frozen=True)
class Publication:
    version: LayerVersion
    adopted: bool  # True: an earlier attempt published it and its answer was lost


def publish_or_adopt(
    client: LambdaClient,
    params: dict[str, Any],
    manifest: Manifest,
    *,
    object_version: str | None = None,
    attempts: int | None = None,
    newer_than: int = 0,
    log: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> Publication:
    """`publish`, but a lost answer never publishes a duplicate version.

    When an attempt fails after the request may have reached Lambda, the versions
    published since the first attempt are listed; one that matches is adopted (and
    said so), otherwise the publish is tried again, up to ``attempts`` times (default:
    the client's own ``total_max_attempts``). Other errors (throttling, 5xx) are still
    retried by botocore inside each attempt.
    """
    # botocore-stubs type every event handler as returning None; a needs-retry handler's
    # answer is what botocore acts on.
    client.meta.events.register_first(
        "needs-retry.lambda.PublishLayerVersion",
        cast("Callable[..., None]", _no_blind_retry),
        unique_id=_NO_BLIND_RETRY,
    )
    if attempts is None:
        # botocore sets every Config option as an attribute; its stubs declare none of them.
        config = cast("Any", client.meta.config)
        attempts = int(config.retries.get("total_max_attempts") or 3)
    name = str(params["LayerName"])
    description = str(params.get("Description", ""))
    since = dt.datetime.now(dt.timezone.utc) - CLOCK_SKEW
    for attempt in range(1, max(1, attempts) + 1):
        try:
            published = publish(client, params, object_version)
        except AnswerLost as lost:
            found = find_adoptable(client, name, manifest, description, since, newer_than)
            if found is not None:
                log(
                    f"PublishLayerVersion's answer was lost ({lost.detail}); adopted version "
                    f"{found.version}, which that request published (same CodeSha256, "
                    "runtimes, architectures and description): no duplicate"
                )
                return Publication(found, adopted=True)
            if attempt >= attempts:
                raise
            log(
                f"PublishLayerVersion's answer was lost ({lost.detail}) and no version was "
                f"published; publishing again ({attempt + 1}/{attempts})"
            )
            # botocore's own backoff, as its retries would have waited (imported here:
            # botocore.utils costs ~150 ms, which only this rare path should pay).
            from botocore.retries.standard import ExponentialBackoff, RetryContext

            sleep(ExponentialBackoff().delay_amount(RetryContext(attempt_number=attempt)))
            continue
        return Publication(published, adopted=False)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
