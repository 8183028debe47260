"""`layer.audit`: pip-audit on the built layer's resolved distributions.

The scan itself needs the network (a vulnerability service), so it is marked
``network`` and runs in the ``network``/``audit`` nox sessions; the report parsing, the
verdict and the task's failure modes are tested offline.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from invoke.main import program
from support.fakes import write_layer

from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError
from layer_tasks.model.manifest import Distribution
from layer_tasks.report.audit import (
    AuditReport,
    Finding,
    parse_report,
    pins_from_manifest,
    run_pip_audit,
    verdict,
)

REPORT = {
    "dependencies": [
        {
            "name": "urllib3",
            "version": "1.26.4",
            "vulns": [
                {
                    "id": "PYSEC-2021-108",
                    "fix_versions": ["1.26.5"],
                    "aliases": ["CVE-2021-33503"],
                    "description": "...",
                }
            ],
        },
        {"name": "six", "version": "1.16.0", "vulns": []},
        {"name": "private-pkg", "skip_reason": "Dependency not found on PyPI"},
    ],
    "fixes": [],
}
HAS_PIP_AUDIT = importlib.util.find_spec("pip_audit") is not None


def test_report_is_parsed_into_findings_and_skips() -> None:
    report = parse_report(json.dumps(REPORT))
    assert report.audited == ("urllib3==1.26.4", "six==1.16.0")
    assert report.findings == (
        Finding("urllib3", "1.26.4", "PYSEC-2021-108", ("1.26.5",), ("CVE-2021-33503",)),
    )
    assert report.skipped == (("private-pkg", "Dependency not found on PyPI"),)


def test_verdict_fails_on_findings_and_on_anything_not_audited() -> None:
    message = verdict(parse_report(json.dumps(REPORT)))
    assert message is not None
    assert "1 known vulnerability in urllib3==1.26.4 (PYSEC-2021-108)" in message
    assert "1 distribution(s) could not be audited (private-pkg)" in message
    clean = AuditReport(audited=("six==1.16.0",), findings=(), skipped=())
    assert verdict(clean) is None


@pytest.mark.parametrize("text", ["", "not json", '{"no": "dependencies"}'])
def test_a_report_that_is_not_one_is_a_layer_error(text: str) -> None:
    with pytest.raises(LayerError, match="pip-audit gave no JSON report"):
        parse_report(text)


def test_pins_are_the_manifests_resolved_versions(settings: LayerSettings) -> None:
    manifest = write_layer(
        settings,
        distributions=(
            Distribution("numpy", "1.26.4", 10, 1),
            Distribution("attrs", "23.2.0", 5, 1),
        ),
    )
    assert pins_from_manifest(manifest) == ["attrs==23.2.0", "numpy==1.26.4"]
    with pytest.raises(LayerError, match="lists no distributions"):
        pins_from_manifest(write_layer(settings))


@pytest.mark.skipif(HAS_PIP_AUDIT, reason="pip-audit is installed: the scan would need the network")
def test_audit_task_without_pip_audit_is_one_error_line(
    project: Path,
    settings: LayerSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A current build (so nothing is built), then the missing scanner is the error.
    from layer_tasks.build.pipeline import build_layer

    build_layer(settings, log=lambda _m: None)
    monkeypatch.chdir(project)
    with pytest.raises(SystemExit) as exit_info:
        program.run(["inv", "layer.audit"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == ["error: pip-audit is not installed: pip install 'layer-tasks[audit]'"]
    assert "Traceback" not in err


@pytest.mark.network
def test_pip_audit_finds_a_known_vulnerability() -> None:
    pytest.importorskip("pip_audit")
    report = run_pip_audit(["urllib3==1.26.4", "six==1.16.0"])
    assert any(f.name == "urllib3" for f in report.findings)
    assert "six==1.16.0" in report.audited
