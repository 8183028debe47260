"""Known-vulnerability scan of the layer's resolved distributions, with pip-audit.

What is scanned is what the layer holds: every distribution in the build manifest,
pinned to the version that was installed for the Lambda target (not the requirement
specifiers, which may allow several versions). pip-audit queries a vulnerability
service over the network (PyPI's by default, OSV with ``service="osv"``), so this is
opt-in (``inv layer.audit``, the ``audit`` nox session) and never part of a build.

A distribution pip-audit could not look up is a failure too: "no known
vulnerabilities" must not mean "nothing was checked".
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from layer_tasks.errors import LayerError
from layer_tasks.model.manifest import Manifest

INSTALL_HINT = "pip install 'layer-tasks[audit]'"


@dataclass(frozen=True)
class Finding:
    name: str
    version: str
    vuln_id: str
    fix_versions: tuple[str, ...]
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuditReport:
    audited: tuple[str, ...]  # "name==version" pins that were looked up
    findings: tuple[Finding, ...]
    skipped: tuple[tuple[str, str], ...]  # (name, reason) pip-audit could not look up


def pins_from_manifest(manifest: Manifest) -> list[str]:
    """``name==version`` for every distribution in the layer, sorted."""
    if not manifest.distributions:
        raise LayerError(
            f"the manifest of {manifest.name} lists no distributions: run `inv layer.build`"
        )
    return sorted(f"{d.name}=={d.version}" for d in manifest.distributions)


def parse_report(text: str) -> AuditReport:
    """pip-audit's ``--format json`` output as an `AuditReport`."""
    try:
        data = json.loads(text)
        dependencies = data["dependencies"]
    except (ValueError, KeyError, TypeError):
        raise LayerError(f"pip-audit gave no JSON report: {text.strip()[-200:]!r}") from None
    audited, findings, skipped = [], [], []
    for dep in dependencies:
        name = str(dep.get("name", "?"))
        if "skip_reason" in dep:
            skipped.append((name, str(dep["skip_reason"])))
            continue
        version = str(dep.get("version", "?"))
        audited.append(f"{name}=={version}")
        for vuln in dep.get("vulns", []):
            findings.append(
                Finding(
                    name=name,
                    version=version,
                    vuln_id=str(vuln.get("id", "?")),
                    fix_versions=tuple(vuln.get("fix_versions") or ()),
                    aliases=tuple(vuln.get("aliases") or ()),
                )
            )
    return AuditReport(tuple(audited), tuple(findings), tuple(skipped))


def pip_audit_available(python: str = sys.executable) -> bool:
    if python == sys.executable:
        return importlib.util.find_spec("pip_audit") is not None
    probe = subprocess.run(
        [python, "-c", "import pip_audit"], capture_output=True, check=False, timeout=60
    )
    return probe.returncode == 0


def run_pip_audit(
    pins: Sequence[str],
    *,
    ignore: Sequence[str] = (),
    service: str = "pypi",
    python: str = sys.executable,
    timeout: float = 600,
) -> AuditReport:
    """Run pip-audit on exactly these pins (no resolution, no install, no virtualenv)."""
    if not pip_audit_available(python):
        raise LayerError(f"pip-audit is not installed: {INSTALL_HINT}")
    with tempfile.TemporaryDirectory(prefix="layer-audit-") as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text("".join(f"{pin}\n" for pin in pins), encoding="utf-8")
        command = [
            python,
            "-m",
            "pip_audit",
            "--requirement",
            str(requirements),
            # The pins are the resolved set already: look them up as they are.
            "--no-deps",
            "--disable-pip",
            "--progress-spinner",
            "off",
            "--format",
            "json",
            "--vulnerability-service",
            service,
        ]
        for vuln_id in ignore:
            command += ["--ignore-vuln", vuln_id]
        try:
            proc = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise LayerError(
                f"pip-audit did not finish within {timeout:.0f} s: check network access to "
                f"the {service} vulnerability service"
            ) from None
    # Exit 1 with a report means "vulnerabilities found"; without one, pip-audit failed.
    if not proc.stdout.strip():
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise LayerError(
            f"pip-audit failed (exit {proc.returncode}): {last}; check network access to "
            f"the {service} vulnerability service"
        )
    return parse_report(proc.stdout)


def verdict(report: AuditReport) -> str | None:
    """The one-line failure for a report, or None when it is clean."""
    problems: list[str] = []
    if report.findings:
        names = sorted({f"{f.name}=={f.version}" for f in report.findings})
        ids = sorted({f.vuln_id for f in report.findings})
        problems.append(
            f"{len(ids)} known vulnerabilit{'y' if len(ids) == 1 else 'ies'} in "
            f"{', '.join(names)} ({', '.join(ids)}): upgrade to a fixed version, or pass "
            "--ignore ID after review"
        )
    if report.skipped:
        skipped = ", ".join(name for name, _ in report.skipped)
        problems.append(
            f"{len(report.skipped)} distribution(s) could not be audited ({skipped}): "
            "check network access to the vulnerability service"
        )
    return "; ".join(problems) or None
