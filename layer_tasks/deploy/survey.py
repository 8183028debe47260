"""The survey of one target: every check that can run before a change, then
the read calls. Nothing here changes anything, in AWS or on disk.

    checks:  settings, sharing entries, build or reuse, budget, ARN file, Chalice config,
             function
    reads:   the latest version; the bucket, its lifecycle and a free key only when
             something will be uploaded
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from layer_tasks.aws import functions, lambda_, permissions, s3, ssm
from layer_tasks.aws.session import Clients
from layer_tasks.build.archive import code_sha256
from layer_tasks.build.sbom import sbom_beside
from layer_tasks.config.settings import LayerSettings
from layer_tasks.config.validate import validate_bucket_name
from layer_tasks.deploy.model import Log, Options
from layer_tasks.deploy.plan import Found, unchanged_version
from layer_tasks.errors import LayerError
from layer_tasks.model.app import App, AppPackage
from layer_tasks.model.manifest import Manifest
from layer_tasks.project import arn_file, chalice_config
from layer_tasks.report.compare import deploy_diff


def _load_existing_build(settings: LayerSettings) -> Manifest:
    manifest = Manifest.load(settings.manifest_path)
    if not settings.zip_path.is_file():
        raise LayerError(f"no layer zip at {settings.zip_path}: run `inv layer.build` first")
    if code_sha256(settings.zip_path) != manifest.code_sha256:
        raise LayerError(
            f"{settings.zip_path} does not match {settings.manifest_path} (CodeSha256 differs): "
            "run `inv layer.build` again"
        )
    return manifest


def _check_budget(manifest: Manifest, settings: LayerSettings, app: AppPackage | None) -> None:
    from layer_tasks.build.footprint import over_budget_message

    message = over_budget_message(manifest, settings, app)
    if message:
        raise LayerError(f"{message} (nothing was uploaded)")


def load_or_build(
    settings: LayerSettings, *, build: bool, dry_run: bool, log: Log, app: App | None = None
) -> Found:
    """Build, reuse or load the zip: a `Found` with only the build fields set (and the
    app's package for this target, after the check that no distribution is in both)."""
    from layer_tasks.build.app_package import check_duplicates, measure_app

    package = measure_app(settings, app, log=log) if app is not None else None
    if not build:
        manifest: Manifest | None = _load_existing_build(settings)
        step = "existing zip"
    elif dry_run:
        from layer_tasks.build.pipeline import current_manifest

        manifest = current_manifest(settings, package)
        step = "reuse" if manifest is not None else "rebuild"
    else:
        from layer_tasks.build.pipeline import build_layer

        result = build_layer(settings, log=log, app=package)
        manifest, step = result.manifest, "reuse" if result.reused else "rebuild"
    if manifest is not None:
        check_duplicates(manifest.distributions, package, settings)
    return Found(
        build=step,
        manifest=manifest,
        region="",
        plain_http=False,
        latest=None,
        bucket=None,
        app=package,
    )


def _placeholder_arn(settings: LayerSettings, found: Found) -> str:
    """An ARN of this layer one version past the latest: what the config check assumes
    for the version a publish will make (same layer, so it replaces the same entries)."""
    if found.latest is not None:
        return f"{found.latest.layer_arn}:{found.latest.version + 1}"
    if found.arn_before:
        return f"{lambda_.layer_arn_of(found.arn_before)}:1"
    return f"arn:aws:lambda:{found.region}:000000000000:layer:{settings.name}:1"


def survey(
    settings: LayerSettings,
    clients: Clients,
    options: Options,
    *,
    log: Log = print,
    built: Found | None = None,
    outputs: bool = True,
) -> Found:
    """The survey: local checks, build (unless dry run or ``built``), then read calls only.

    ``outputs=False``: one target of several whose ARN file, config and function are
    another target's (`make_outputs_plan`): they are neither read nor checked here."""
    force, update_config = options.force, options.update_config and outputs
    validate_bucket_name(settings.bucket)
    for entry in settings.share_with:
        permissions.grant_for(entry)  # a malformed principal fails before any build
    found = built or load_or_build(
        settings, build=options.build, dry_run=options.dry_run, log=log, app=options.app
    )
    if found.manifest is not None:
        _check_budget(found.manifest, settings, found.app)
    # The outputs are read and checked first: a broken ARN file or config, or one that
    # cannot be written, fails before any upload.
    arn_before = config_before = None
    if outputs:
        arn_before = arn_file.read_arn(settings.arn_file)
        arn_file.check_writable(settings.arn_file)
    if update_config:
        layers = chalice_config.read_stage_layers(settings.chalice_config, settings.stage)
        config_before = tuple(layers)
    if outputs and settings.function:
        functions.get_function(clients.lambda_, settings.function)  # exists, readable
    latest = lambda_.latest_layer_version(clients.lambda_, settings.name)
    sbom = sbom_beside(settings.zip_path)
    found = replace(
        found,
        region=clients.region,
        plain_http=clients.plain_http,
        latest=latest,
        arn_before=arn_before,
        config_before=config_before,
        diff=deploy_diff(clients, settings, found.manifest, latest, log=log),
        sbom=sbom if found.manifest is not None and sbom.is_file() else None,
        ssm_before=_ssm_value(settings, clients),
    )
    unchanged = unchanged_version(found)
    if update_config:
        target = unchanged.arn if unchanged and not force else _placeholder_arn(settings, found)
        changes = chalice_config.preview_stage_layers(
            settings.chalice_config, settings.stage, [target], region=clients.region
        )
        found = replace(found, config_changes=changes)
    if force or unchanged is None:
        # Something will be uploaded: the bucket (ours? in our region?), its lifecycle
        # and a free key are read now. A no-change deploy reads none of them.
        when = options.when or dt.datetime.now(dt.timezone.utc)
        bucket = s3.inspect_bucket(
            clients.s3, settings.bucket, clients.region, plain_http=clients.plain_http
        )
        rules: list[dict[str, object]] = []
        key = s3.object_key(settings.prefix, settings.name, when)
        if bucket.exists:
            rules = s3.get_lifecycle_rules(clients.s3, settings.bucket)
            key = s3.free_key(clients.s3, settings.bucket, settings.prefix, settings.name, when)
        found = replace(found, bucket=bucket, lifecycle_rules=tuple(rules), key=key)
    return found


def _ssm_value(settings: LayerSettings, clients: Clients) -> str | None:
    if not settings.ssm_name:
        return None
    if clients.ssm is None:
        raise LayerError("layer.ssm_parameter is set, but these AWS clients have no SSM client")
    return ssm.read_parameter(clients.ssm, settings.ssm_name)
