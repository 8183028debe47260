"""Delete old layer versions without ever breaking a rollback that is still wanted.

A deleted version can never be put into a configuration again, so: the newest
``keep`` versions (at least 1) stay, and so does every version that something still
references - any stage of the Chalice config, the ARN file, a given function. The
plan is pure data (`plan_cleanup`), so ``--dry-run`` shows exactly what would go.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

from layer_tasks.aws.errors import AwsError
from layer_tasks.aws.functions import get_function
from layer_tasks.aws.lambda_ import LayerVersion, delete_layer_version, iter_layer_versions
from layer_tasks.config.settings import LayerSettings
from layer_tasks.config.validate import in_range, whole_number
from layer_tasks.errors import LayerError
from layer_tasks.model.arns import MAX_VERSION, is_layer_arn, parse_layer_arn
from layer_tasks.project import chalice_config
from layer_tasks.project.arn_file import read_arn


@dataclass(frozen=True)
class CleanupPlan:
    name: str
    keep: tuple[LayerVersion, ...]  # the newest N
    referenced: tuple[LayerVersion, ...]  # older, but still in use: kept
    delete: tuple[LayerVersion, ...]  # oldest first


def referenced_versions(name: str, arns: Iterable[str]) -> set[int]:
    """Version numbers of layer ``name`` among ``arns``.

    Matched by name only (not account/region): keeping one version too many is cheap,
    deleting one in use is not.
    """
    versions = set()
    for text in arns:
        if is_layer_arn(text):
            arn = parse_layer_arn(text)
            if arn.name == name:
                versions.add(arn.version)
    return versions


def check_keep(keep: object) -> int:
    """``--keep`` as typed: a whole number of at least 1."""
    number = whole_number(keep)
    if number is None:
        raise LayerError(
            f"--keep must be a whole number of versions to keep (at least 1), got {keep!r}"
        )
    if number < 1:
        raise LayerError(
            "--keep must be at least 1: deleting every version makes rollback impossible"
        )
    in_range("--keep", keep, number, 1, MAX_VERSION)
    return number


def plan_cleanup(
    name: str, versions: Sequence[LayerVersion], keep: int, referenced: Iterable[str]
) -> CleanupPlan:
    check_keep(keep)
    newest_first = sorted(versions, key=lambda v: v.version, reverse=True)
    in_use = referenced_versions(name, referenced)
    older = newest_first[keep:]
    return CleanupPlan(
        name=name,
        keep=tuple(newest_first[:keep]),
        referenced=tuple(v for v in older if v.version in in_use),
        delete=tuple(reversed([v for v in older if v.version not in in_use])),
    )


def run_cleanup(
    client: LambdaClient,
    plan: CleanupPlan,
    *,
    dry_run: bool = False,
    log: Callable[[str], None] = print,
) -> list[int]:
    """Delete (or with ``dry_run`` list) the plan's versions; returns the numbers deleted."""
    deleted: list[int] = []
    for version in plan.delete:
        what = f"{plan.name} version {version.version} (created {version.created})"
        if dry_run:
            log(f"would delete {what}")
            continue
        try:
            delete_layer_version(client, plan.name, version.version)
        except AwsError as exc:
            done = ", ".join(map(str, deleted)) or "none"
            raise LayerError(
                f"deleting {what} failed ({exc.detail}); deleted so far: {done}"
            ) from None
        deleted.append(version.version)
        log(f"deleted {what}: it can no longer be rolled back to")
    return deleted


@dataclass(frozen=True)
class CleanupResult:
    plan: CleanupPlan
    versions: int  # how many were published
    deleted: tuple[int, ...]
    dry_run: bool
    notes: tuple[str, ...] = ()

    def lines(self, keep: int) -> list[str]:
        out = list(self.notes)
        out += [
            f"keeping {self.plan.name} version {v.version}: still referenced"
            for v in self.plan.referenced
        ]
        if not self.plan.delete:
            out.append(
                f"nothing to delete: {self.versions} version(s) of {self.plan.name}, keeping {keep}"
            )
        elif self.dry_run:
            out.append(
                f"dry run: {len(self.plan.delete)} version(s) would be deleted; nothing was changed"
            )
        else:
            out.append(f"deleted {len(self.deleted)} version(s) of {self.plan.name}")
        return out


def cleanup(
    client: LambdaClient,
    settings: LayerSettings,
    keep: int,
    *,
    dry_run: bool = False,
    log: Callable[[str], None] = print,
) -> CleanupResult:
    """Delete all but the newest ``keep`` versions, keeping every one that a config
    stage, the ARN file or ``settings.function`` still uses."""
    notes: list[str] = []
    referenced: set[str] = set()
    if settings.chalice_config.exists() or settings.chalice_config.is_symlink():
        referenced |= chalice_config.all_referenced_arns(settings.chalice_config)
    else:
        notes.append(f"note: no Chalice config at {settings.chalice_config}; not checking stages")
    from_file = read_arn(settings.arn_file)
    if from_file:
        referenced.add(from_file)
    if settings.function:
        referenced |= {layer.arn for layer in get_function(client, settings.function).layers}
    versions = list(iter_layer_versions(client, settings.name))
    plan = plan_cleanup(settings.name, versions, keep, referenced)
    deleted = run_cleanup(client, plan, dry_run=dry_run, log=log) if plan.delete else []
    return CleanupResult(plan, len(versions), tuple(deleted), dry_run, tuple(notes))
