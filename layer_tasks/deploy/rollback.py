"""Roll a stage back (or forward) to a published layer version.

Check first, then change: the version must still exist (``GetLayerVersion``: a deleted
version cannot be put into a configuration) and must be built for the configured
runtime and architecture. Only then is the stage pointed at it through
`chalice_config.set_stage_layers` (other layers of the stage are kept; only this
layer's version changes) and the ARN file rewritten. Any failure before that leaves
both files as they were.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

from layer_tasks.aws.functions import apply_function_layers, get_function
from layer_tasks.aws.lambda_ import LayerVersion, get_layer_version, iter_layer_versions
from layer_tasks.config.settings import LayerSettings
from layer_tasks.config.validate import whole_number
from layer_tasks.errors import LayerError
from layer_tasks.model.arns import (
    MAX_VERSION,
    LayerArn,
    is_layer_arn,
    parse_layer_arn,
    replace_layer_versions,
)
from layer_tasks.project import chalice_config
from layer_tasks.project.arn_file import write_arn


def parse_version(value: object) -> int:
    """``--version`` as given on the command line: a positive whole number."""
    number = whole_number(value)
    if number is None or not 1 <= number <= MAX_VERSION:
        raise LayerError(
            f"--version must be a positive whole number (a published layer version, see "
            f"`inv layer.versions`), got {value!r}"
        )
    return number


def check_args(version: object, previous: bool) -> int | None:
    """The version asked for (None with ``--previous``); checked before any AWS call."""
    if (version is None) == (not previous):
        raise LayerError("pass either --version N or --previous")
    return parse_version(version) if version is not None else None


def check_fits(version: LayerVersion, settings: LayerSettings) -> None:
    """The version must declare the configured runtime and architecture."""
    if settings.runtime not in version.runtimes:
        declared = ", ".join(version.runtimes) or "none"
        raise LayerError(
            f"layer {settings.name} version {version.version} is built for runtimes "
            f"{declared}, not {settings.runtime} (layer.python); pick another version"
        )
    # Layers published before Lambda had architectures (2021) declare none: they are x86_64.
    architectures = version.architectures or ("x86_64",)
    if settings.architecture not in architectures:
        raise LayerError(
            f"layer {settings.name} version {version.version} is built for "
            f"{', '.join(architectures)}, not {settings.architecture} (layer.architecture); "
            "pick another version"
        )


def stage_entry(layers: Sequence[str], name: str) -> LayerArn | None:
    """The stage's version of layer ``name``, if it uses one."""
    for text in layers:
        if is_layer_arn(text):
            arn = parse_layer_arn(text)
            if arn.name == name:
                return arn
    return None


@dataclass(frozen=True)
class RollbackPlan:
    name: str
    stage: str
    was: LayerArn | None  # what the stage used (None: this layer was not in the stage)
    was_detail: LayerVersion | None  # None when that version is gone
    now: LayerVersion
    before: list[str]  # the stage's layers now
    after: list[str]  # the stage's layers after the rollback


def plan_rollback(
    client: LambdaClient, settings: LayerSettings, *, version: object = None, previous: bool = False
) -> RollbackPlan:
    """Decide and check the target version; changes nothing."""
    number = check_args(version, previous)
    name = settings.name
    before = chalice_config.read_stage_layers(settings.chalice_config, settings.stage)
    current = stage_entry(before, name)
    if previous:
        if current is None:
            raise LayerError(
                f"stage {settings.stage} does not use layer {name}, so it has no previous "
                "version; pass --version N"
            )
        older = [v for v in iter_layer_versions(client, name) if v.version < current.version]
        if not older:
            raise LayerError(
                f"no version of layer {name} older than {current.version} is still published; "
                "nothing to roll back to"
            )
        number = max(v.version for v in older)
    assert number is not None
    target = get_layer_version(client, name, number)
    if target is None:
        raise LayerError(
            f"layer {name} version {number} does not exist (never published, or deleted); "
            "`inv layer.versions` lists the versions you can roll back to"
        )
    check_fits(target, settings)
    was_detail = None
    if current is not None:
        was_detail = get_layer_version(client, name, current.version)
    return RollbackPlan(
        name=name,
        stage=settings.stage,
        was=current,
        was_detail=was_detail,
        now=target,
        before=before,
        after=replace_layer_versions(before, [target.arn]),
    )


def apply_rollback(
    plan: RollbackPlan,
    settings: LayerSettings,
    *,
    region: str | None = None,
    client: LambdaClient | None = None,
    function: str = "",
) -> tuple[list[str], list[str]] | None:
    """Point the stage (and ``function``, when given) at ``plan.now``; write the ARN file.

    Returns the function's layers (before, after) when a function was updated.
    """
    folder = settings.arn_file.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise LayerError(
            f"cannot write the ARN file {settings.arn_file}: its folder does not exist or is "
            "not writable"
        )
    if function:
        assert client is not None, "a function is updated through its Lambda client"
        get_function(client, function)  # a wrong name fails here, before any file changes
    chalice_config.set_stage_layers(
        settings.chalice_config,
        settings.stage,
        plan.after,
        region=region,
        config_lock_dir=settings.state_dir,
    )
    write_arn(settings.arn_file, plan.now.arn)
    if function and client is not None:
        return apply_function_layers(client, function, [plan.now.arn], region=region)
    return None


def describe(label: str, arn: LayerArn | None, detail: LayerVersion | None) -> str:
    """One line of the was/now report."""
    if arn is None and detail is None:
        return f"{label}: (no version of this layer)"
    if detail is None:
        return f"{label}: version {arn.version if arn else '?'} (deleted)  {arn}"
    size = f"{detail.code_size:,} bytes zipped" if detail.code_size is not None else "size unknown"
    return f"{label}: version {detail.version}  created {detail.created}  {size}  {detail.arn}"
