"""The diff task: what changed between two versions, the local build or manifest files."""

from __future__ import annotations

import json as jsonlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from invoke import Context

from layer_tasks.errors import LayerError
from layer_tasks.tasks._common import layer_task, settings_from

# The task imports what it uses when it runs (the AWS side pulls in botocore): `inv
# --list` does not pay for it (see bench/startup_bench.py).
if TYPE_CHECKING:
    from layer_tasks.report.diff import LayerDiff


@layer_task(
    help={
        "from": "A version number, `latest`, `local` or a manifest path (default: latest).",
        "to": "A version number, `latest`, `local` or a manifest path (default: local).",
        "json": "Print the diff as JSON.",
        "local": "Read versions from the local moto sandbox on 127.0.0.1.",
    }
)
def diff(
    c: Context,
    from_: str | None = None,
    to: str | None = None,
    json: bool = False,
    local: bool = False,
) -> LayerDiff | None:
    """What changed between two layers: distributions, sizes, pruning, bytecode."""
    from layer_tasks.report.compare import LATEST, LOCAL, ManifestMissing, parse_side, resolve
    from layer_tasks.report.diff import diff_manifests
    from layer_tasks.tasks._aws import open_aws

    settings = settings_from(c).stage_layer()
    explicit = {"from": from_ is not None, "to": to is not None}
    sides = {
        "from": parse_side(from_ or LATEST, base_dir=Path.cwd()),
        "to": parse_side(to or LOCAL, base_dir=Path.cwd()),
    }
    clients = None
    if any(side.needs_aws for side in sides.values()):
        settings, clients = open_aws(settings, local, read_only=True)
    resolved = {}
    # Files first: a missing local build fails before any AWS call.
    for which, side in sorted(sides.items(), key=lambda item: item[1].needs_aws):
        try:
            resolved[which] = resolve(side, settings, clients)
        except ManifestMissing as missing:
            if explicit[which]:
                raise LayerError(f"{missing}: nothing to compare") from None
            # The default side: say so in one line, not a failure.
            if json:
                print(jsonlib.dumps({"missing": str(missing)}))
            else:
                print(f"{missing}: nothing to compare")
            return None
    result = diff_manifests(
        resolved["from"].manifest,
        resolved["to"].manifest,
        old_label=resolved["from"].label,
        new_label=resolved["to"].label,
    )
    sys.stdout.write(result.as_json() if json else "\n".join(result.lines()) + "\n")
    return result
