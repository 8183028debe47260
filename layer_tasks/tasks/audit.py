"""``layer.audit``: known-vulnerability scan of the built layer (opt-in, needs network)."""

from __future__ import annotations

import json as jsonlib
import sys
from dataclasses import asdict
from typing import Any

from invoke import Context

from layer_tasks.errors import LayerError
from layer_tasks.tasks import _app
from layer_tasks.tasks._common import layer_task, settings_from


@layer_task(
    iterable=["ignore"],
    help={
        "json": "Print pip-audit's findings as JSON.",
        "ignore": "A vulnerability ID to ignore after review (repeat for several).",
        "service": "Vulnerability service: pypi (default) or osv.",
    },
)
def audit(c: Context, json: bool = False, ignore: Any = None, service: str = "pypi") -> None:
    """Scan the layer's resolved distributions with pip-audit (needs the audit extra + network)."""
    # Imported when the task runs, not for `inv --list` (see bench/startup_bench.py).
    from layer_tasks.build.pipeline import build_layer, current_manifest
    from layer_tasks.report.audit import pins_from_manifest, run_pip_audit, verdict

    if service not in ("pypi", "osv"):
        raise LayerError(f"--service must be pypi or osv, got {service!r}")
    # Every architecture installs the same distributions: the stage's layer stands for all.
    settings = settings_from(c).stage_layer()
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    # The build a Chalice app's layer has (its imports are an input of the build).
    app = _app.measured(settings, _app.find(settings), log)
    manifest = current_manifest(settings, app)
    if manifest is None:
        print("no current build: building first", file=sys.stderr, flush=True)
        manifest = build_layer(settings, log=log, app=app).manifest
    pins = pins_from_manifest(manifest)
    print(
        f"auditing {len(pins)} distributions of {manifest.name} with pip-audit ({service})",
        file=sys.stderr,
    )
    report = run_pip_audit(pins, ignore=list(ignore or []), service=service)
    if json:
        print(jsonlib.dumps(asdict(report), indent=2))
    else:
        for finding in report.findings:
            fix = ", ".join(finding.fix_versions) or "no fixed version yet"
            print(f"{finding.name} {finding.version}: {finding.vuln_id} (fixed in {fix})")
        print(
            f"{len(report.audited)} audited, {len(report.findings)} finding(s), {len(report.skipped)} skipped"
        )
    problem = verdict(report)
    if problem:
        raise LayerError(problem)
