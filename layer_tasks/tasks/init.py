"""``layer.init`` (``layer-tasks init``): set a Chalice project up for its layer."""

from __future__ import annotations

import sys
from pathlib import Path

from invoke import Context

from layer_tasks.tasks._common import layer_task, settings_from


@layer_task(
    help={
        "stage": "The Chalice stage that uses the layer (needed when the config has several).",
        "region": "The AWS region of the layer and its bucket (default: boto3's chain).",
        "bucket": "The S3 bucket for the layer's zips (default: <app>-layers-{region}).",
        "python": "The Lambda Python, e.g. 3.12 (default: the one running this, as Chalice picks it).",
        "ci": "Also write the deploy workflow for this CI (github).",
    }
)
def init(
    c: Context,
    stage: str | None = None,
    region: str | None = None,
    bucket: str | None = None,
    python: str | None = None,
    ci: str = "",
) -> None:
    """In a Chalice project: write the layer's settings, .gitignore lines, (--ci github) a workflow."""
    from invoke.util import yaml  # Invoke's own YAML, the one that will read invoke.yaml

    from layer_tasks import __version__
    from layer_tasks.aws.session import make_session
    from layer_tasks.config.validate import validate_region
    from layer_tasks.project import init as setup

    settings = settings_from(c)
    root = Path.cwd()
    app_name, stages = setup.chalice_project(root, settings.chalice_config)
    if region:
        validate_region(region, "--region")
    chain = region or settings.region or make_session(settings).region_name or ""
    inferred = setup.infer(
        app_name,
        stages,
        config=settings.chalice_config,
        stage=stage,
        region=chain,
        bucket=bucket or settings.bucket or None,
        python=python or f"{sys.version_info[0]}.{sys.version_info[1]}",
    )
    setup.check(inferred, root)
    changes = setup.plan_files(
        root,
        inferred,
        folders=(settings.dist_dir, settings.state_dir),
        ci=ci,
        tool_version=__version__,
        load_yaml=yaml.safe_load,
    )
    setup.apply(changes)
    print("\n".join(setup.report(changes, inferred, root)))
