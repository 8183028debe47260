"""`inv layer.*` as a user types it, in a subprocess: exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from support.cli import inv, write_requirements


def assert_one_error(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    assert needle in errors[0]


def test_list_shows_layer_tasks_with_help(project: Path) -> None:
    out = inv(project, "--list").stdout
    for name in ("layer.build", "layer.size-report", "layer.budget", "layer.check-requirements"):
        line = next(line for line in out.splitlines() if line.strip().startswith(name + " "))
        assert len(line.split(None, 1)[1]) > 10, f"{name} has no help text"


def test_build_size_report_and_budget(project: Path) -> None:
    build = inv(project, "layer.build")
    assert build.returncode == 0, build.stderr
    assert (project / "dist" / "test-layer.zip").is_file()
    report = inv(project, "layer.size-report", "--json", "--top", "1")
    data = json.loads(report.stdout)
    assert len(data["distributions"]) == 1 and data["distributions_total"] == 3
    assert data["limits"]["unzipped_limit_bytes"] == 262_144_000
    text = inv(project, "layer.size-report").stdout
    assert "alpha" in text and "unzipped limit" in text and "direct upload" in text
    ok = inv(project, "layer.budget")
    assert ok.returncode == 0 and "margin" in ok.stdout


def test_budget_fails_over_threshold_and_names_largest(project: Path) -> None:
    proc = inv(project, "layer.budget", env={"INVOKE_LAYER_BUDGET_MB": "0.001"})
    assert_one_error(proc, "over the budget")
    assert "epsilon" in proc.stderr


def test_check_requirements(project: Path, wheelhouse: Path) -> None:
    ok = inv(project, "layer.check-requirements")
    assert ok.returncode == 0, ok.stderr
    write_requirements(project / "requirements-b.txt", wheelhouse, "epsilon==0.9")
    assert_one_error(inv(project, "layer.check-requirements"), "not the union")


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"INVOKE_LAYER_REQUIREMENTS": "missing.txt"}, "not found"),
        ({"INVOKE_LAYER_PYTHON": "3.9"}, "not a Lambda Python runtime"),
        ({"INVOKE_LAYER_PYTHON": "abc"}, "not a Lambda Python runtime"),
        ({"INVOKE_LAYER_ARCHITECTURE": "sparc"}, "not a Lambda architecture"),
        # A dist_dir below a file cannot be created (this also holds when running as root).
        ({"INVOKE_LAYER_DIST_DIR": "requirements-all.txt/dist"}, "cannot create layer.dist_dir"),
    ],
)
def test_bad_input_is_one_error_line(project: Path, env: dict[str, str], needle: str) -> None:
    assert_one_error(inv(project, "layer.build", env=env), needle)
    assert not (project / "dist" / "test-layer.zip").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_unwritable_dist_dir(project: Path) -> None:
    dist = project / "dist"
    dist.mkdir()
    dist.chmod(0o500)
    try:
        assert_one_error(inv(project, "layer.build"), "not writable")
    finally:
        dist.chmod(0o700)
