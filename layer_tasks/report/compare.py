"""The two sides of a diff: a published version, the local build, or a manifest file.

``inv layer.diff`` and ``deploy`` both come here; the comparison itself is the pure
`diff.diff_manifests`. AWS clients are passed in, and only asked when a side is a
published version.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layer_tasks.aws import lambda_
from layer_tasks.aws.manifests import find_manifest
from layer_tasks.aws.s3 import layer_prefix
from layer_tasks.aws.session import Clients
from layer_tasks.config.settings import LayerSettings
from layer_tasks.config.validate import in_range, whole_number
from layer_tasks.errors import LayerError
from layer_tasks.model.arns import MAX_VERSION
from layer_tasks.model.manifest import Manifest
from layer_tasks.report.diff import EMPTY_MANIFEST, LayerDiff, diff_manifests, load_manifest_file

Log = Callable[[str], None]
LATEST = "latest"
LOCAL = "local"


@dataclass(frozen=True)
class Side:
    """What the user asked for: ``kind`` is "version", "latest", "local" or "path"."""

    kind: str
    version: int = 0
    path: Path | None = None

    @property
    def needs_aws(self) -> bool:
        return self.kind in ("version", "latest")


class ManifestMissing(LayerError):
    """A published version whose manifest is not (or no longer) stored in S3; uncaught,
    it is one ``error:`` line like any other `LayerError`."""


def parse_side(spec: str, *, base_dir: Path) -> Side:
    text = spec  # as typed, never trimmed: ' 3' is not version 3
    if text == LOCAL:
        return Side("local")
    if text == LATEST:
        return Side("latest")
    if re.fullmatch(r"[0-9]+", text, re.ASCII):
        number = whole_number(text) or 0  # 30 digits or more: past any version
        if number < 1:
            raise LayerError(f"layer versions start at 1, got {spec!r}")
        in_range("a layer version", spec, number, 1, MAX_VERSION)
        return Side("version", version=number)
    path = Path(text).expanduser()
    path = path if path.is_absolute() else base_dir / path
    if not path.is_file():
        raise LayerError(
            f"{spec!r} is not a version number, `latest`, `local` or a manifest file: "
            "see `inv layer.versions` for the published numbers"
        )
    return Side("path", path=path)


@dataclass(frozen=True)
class Resolved:
    label: str
    manifest: Mapping[str, Any]


def _missing_message(settings: LayerSettings, version: int, region: str) -> str:
    where = f"s3://{settings.bucket}/{layer_prefix(settings.prefix, settings.name)}"
    return (
        f"version {version} of layer {settings.name} in {region} has no stored manifest "
        f"under {where} (expired after layer.lifecycle_days, or not published by layer-tasks)"
    )


def version_manifest(
    clients: Clients, settings: LayerSettings, found: lambda_.LayerVersion
) -> dict[str, Any]:
    """The stored manifest of a published version; `ManifestMissing` when there is none."""
    if not settings.bucket:
        raise LayerError(
            "layer.bucket is not set: the stored manifests are read from it; set it in "
            "invoke.yaml or INVOKE_LAYER_BUCKET"
        )
    match = find_manifest(
        clients.s3,
        settings.bucket,
        settings.prefix,
        settings.name,
        found.code_sha256 or "",
        found.created,
    )
    if match is None:
        raise ManifestMissing(_missing_message(settings, found.version, clients.region))
    return match[1]


def resolve(side: Side, settings: LayerSettings, clients: Clients | None) -> Resolved:
    """The manifest for one side. Raises `ManifestMissing` for a version without one."""
    if side.kind == "local":
        return Resolved(LOCAL, load_manifest_file(settings.manifest_path))
    if side.kind == "path":
        assert side.path is not None
        return Resolved(str(side.path), load_manifest_file(side.path))
    assert clients is not None
    if side.kind == "latest":
        found = lambda_.latest_layer_version(clients.lambda_, settings.name)
        if found is None:
            return Resolved("(nothing published)", EMPTY_MANIFEST)
    else:
        found = lambda_.get_layer_version(clients.lambda_, settings.name, side.version)
        if found is None:
            raise LayerError(
                f"layer {settings.name} has no version {side.version} in {clients.region}: "
                "see `inv layer.versions`"
            )
    return Resolved(f"version {found.version}", version_manifest(clients, settings, found))


def deploy_diff(
    clients: Clients,
    settings: LayerSettings,
    manifest: Manifest | None,
    latest: lambda_.LayerVersion | None,
    *,
    log: Log = print,
) -> LayerDiff | None:
    """What this deploy changes against the latest published version, for deploy to
    print before it publishes (and in ``--dry-run``).

    None, with one line logged, when there is nothing to compare: a dry run that would
    rebuild (the new build is not known yet) or a latest version without a stored
    manifest. Nothing published yet compares against an empty layer.
    """
    if manifest is None:
        log("diff: not known yet, the layer would be rebuilt first (`inv layer.build`)")
        return None
    # Through its JSON: every field the manifest has, including ones added after this.
    new = json.loads(manifest.to_json())
    if latest is None:
        return diff_manifests(EMPTY_MANIFEST, new, old_label="(nothing published)", new_label=LOCAL)
    label = f"version {latest.version}"
    if latest.code_sha256 == manifest.code_sha256:
        # The same zip, so the same contents: no S3 read, and a no-change deploy keeps
        # to ListLayerVersions + GetLayerVersion.
        return diff_manifests(new, new, old_label=label, new_label=LOCAL)
    try:
        old = version_manifest(clients, settings, latest)
    except ManifestMissing as missing:
        log(f"diff: {missing}")
        return None
    return diff_manifests(old, new, old_label=label, new_label=LOCAL)
