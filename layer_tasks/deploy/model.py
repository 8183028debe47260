"""What a deploy takes and gives, shared by the one-target and the several-target deploy:
the flags (`Options`), the result (`Outcome`), and the signal to plan again (`Outdated`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from layer_tasks.deploy.plan import Plan, ShowDiff
from layer_tasks.errors import LayerError
from layer_tasks.model.app import App
from layer_tasks.model.arns import parse_layer_arn
from layer_tasks.model.manifest import Manifest
from layer_tasks.report.diff import LayerDiff

Log = Callable[[str], None]
# How often a deploy plans again after waiting for the lock (each time, another deploy
# published in between) before it gives up.
REPLANS = 3


@dataclass(frozen=True)
class Outcome:
    plan: Plan
    arn: str | None  # None after a dry run
    version: int | None
    published: bool
    manifest: Manifest | None = None
    # A deploy to several targets: each target's outcome, in plan order (this one is
    # the outputs plan's, with the stage target's ARN).
    targets: tuple[Outcome, ...] = ()

    @property
    def diff(self) -> LayerDiff | None:
        """What this deploy changed (several targets: the stage target's diff)."""
        shown = next((s.diff for s in self.plan.steps if isinstance(s, ShowDiff)), None)
        if shown is None:
            staged = next((t for t in self.targets if t.arn == self.arn), None)
            return staged.diff if staged is not None else None
        return shown

    @property
    def region(self) -> str:
        return parse_layer_arn(self.arn).region if self.arn else ""

    def entry(self) -> dict[str, object]:
        """This target's line in the ARNs file."""
        assert self.manifest is not None and self.arn is not None
        return {
            "architecture": self.manifest.architecture,
            "region": self.region,
            "layer": self.manifest.name,
            "version": self.version,
            "arn": self.arn,
            "code_sha256": self.manifest.code_sha256,
        }


@dataclass(frozen=True)
class Options:
    """How a deploy runs (the task's flags): plain data for `survey.survey`."""

    build: bool = True  # False: publish the zip already built (`layer.publish`)
    force: bool = False
    dry_run: bool = False
    update_config: bool = True
    when: dt.datetime | None = None  # the time in the S3 key (tests fix it)
    app: App | None = None  # the Chalice app beside the layer (project.app), if any


class TargetsFailed(LayerError):
    """A deploy to several targets in which some failed: each target's own error, kept
    whole (an `aws.errors.Unavailable` stays one), with the target it happened to."""

    def __init__(
        self, failures: Sequence[tuple[str, LayerError]], targets: int, config_name: str
    ) -> None:
        self.failures = tuple(failures)
        super().__init__(
            f"the deploy failed for {len(self.failures)} of {targets} targets: "
            + "; ".join(f"{label}: {error}" for label, error in self.failures)
            + f". The ARN file, {config_name} and the ARNs file were left as they were; "
            "deploy again (targets already published are reused)"
        )


class Outdated(Exception):
    """Another deploy published while this one waited for the lock: plan again."""
