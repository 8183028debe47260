"""What is published: the versions of the layer, and one version's size.

`list_versions` reads Lambda (and S3 for the usage footer) and returns plain data;
`VersionsReport.text` and `.json` render it, so the task only prints.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

from layer_tasks.aws import lambda_, s3
from layer_tasks.aws.errors import AwsError
from layer_tasks.build.footprint import naturalsize
from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError
from layer_tasks.project import chalice_config


@dataclass(frozen=True)
class Usage:
    bucket: str
    where: str  # s3://bucket/<prefix>/<name>/
    objects: int | None  # None: could not be read (then ``problem`` says why)
    bytes: int | None
    problem: str = ""


@dataclass(frozen=True)
class VersionsReport:
    layer: str
    stage: str
    config: str
    rows: tuple[dict[str, Any], ...]
    usage: Usage | None

    def json(self) -> str:
        usage = None
        if self.usage is not None and self.usage.objects is not None:
            usage = {
                "bucket": self.usage.bucket,
                "objects": self.usage.objects,
                "bytes": self.usage.bytes,
            }
        return json.dumps(
            {"layer": self.layer, "versions": list(self.rows), "s3_usage": usage}, indent=2
        )

    def text(self) -> str:
        out = [
            f"{'':2}{'version':>7}  {'created':<29}{'zipped':>10}{'unzipped':>11}  "
            f"{'CodeSha256':<45}runtimes / architectures"
        ]
        for row in self.rows:
            mark = "*" if row["in_config"] else " "
            zipped = naturalsize(row["code_size"]) if row["code_size"] is not None else "?"
            size = row["unzipped_bytes"]
            unzipped = naturalsize(size) if size is not None else "?"
            out.append(
                f"{mark:2}{row['version']:>7}  {row['created']:<29}{zipped:>10}{unzipped:>11}  "
                f"{row['code_sha256'] or '?':<45}"
                f"{','.join(row['runtimes'])} / {','.join(row['architectures'])}"
            )
        if any(row["in_config"] for row in self.rows):
            out.append(f"* used by stage {self.stage} in {self.config}")
        if self.usage is not None:
            if self.usage.objects is None:
                out.append(f"S3 usage under {self.usage.where} unavailable: {self.usage.problem}")
            else:
                size = self.usage.bytes or 0
                out.append(
                    f"S3 usage under {self.usage.where}: {self.usage.objects} objects, "
                    f"{naturalsize(size)} ({size:,} bytes)"
                )
        return "\n".join(out)


def stage_arns(settings: LayerSettings) -> set[str]:
    try:
        return set(chalice_config.read_stage_layers(settings.chalice_config, settings.stage))
    except LayerError:
        return set()  # no config or no such stage: nothing to mark


def _usage(s3_client: S3Client, settings: LayerSettings) -> Usage:
    where = f"s3://{settings.bucket}/{s3.layer_prefix(settings.prefix, settings.name)}"
    try:
        objects, total = s3.usage(s3_client, settings.bucket, settings.prefix, settings.name)
    except AwsError as exc:  # the listing is the answer; the usage is only its footer
        return Usage(settings.bucket, where, None, None, str(exc))
    return Usage(settings.bucket, where, objects, total)


def version_rows(
    lambda_client: LambdaClient, name: str, in_use: Collection[str]
) -> list[dict[str, Any]]:
    """Every published version of layer ``name``, newest first, as plain rows
    (``in_config``: its ARN is in ``in_use``). No versions: an empty list."""
    rows = []
    for item in lambda_.iter_layer_versions(lambda_client, name):
        full = lambda_.get_layer_version(lambda_client, name, item.version) or item
        rows.append(
            {
                "version": full.version,
                "arn": full.arn,
                "created": full.created,
                "code_size": full.code_size,
                "unzipped_bytes": lambda_.parse_description(full.description)[1],
                "code_sha256": full.code_sha256,
                "runtimes": list(full.runtimes),
                "architectures": list(full.architectures),
                "in_config": full.arn in in_use,
            }
        )
    return rows


def list_versions(
    lambda_client: LambdaClient, s3_client: S3Client, settings: LayerSettings, region: str
) -> VersionsReport:
    """Every published version, newest first, marking the one the stage's config uses."""
    rows = version_rows(lambda_client, settings.name, stage_arns(settings))
    if not rows:
        raise LayerError(
            f"layer {settings.name} has no published versions in {region}: run `inv layer.deploy`"
        )
    usage = _usage(s3_client, settings) if settings.bucket else None
    return VersionsReport(
        settings.name, settings.stage, str(settings.chalice_config), tuple(rows), usage
    )


def find_version(
    client: LambdaClient, name: str, number: int | None, region: str
) -> lambda_.LayerVersion:
    """Version ``number`` (the latest when None), or a `LayerError` saying it is not there."""
    if number is None:
        found = lambda_.latest_layer_version(client, name)
        if found is None:
            raise LayerError(
                f"layer {name} has no published versions in {region}: run `inv layer.deploy`"
            )
        return found
    found = lambda_.get_layer_version(client, name, number)
    if found is None:
        raise LayerError(
            f"layer {name} has no version {number} in {region}: see `inv layer.versions`"
        )
    return found


def code_size_line(name: str, version: lambda_.LayerVersion) -> str:
    size = version.code_size or 0
    return f"{name} version {version.version}: {size:,} bytes ({naturalsize(size)})"
