"""`size-report` and `budget` append to GITHUB_STEP_SUMMARY when it is set, and only then."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.cli import copy_project, inv_here


@pytest.mark.slow
def test_size_report_and_budget_write_the_step_summary_only_when_set(
    small_project: Path, tmp_path: Path
) -> None:
    project = copy_project(small_project, tmp_path / "p")
    summary = tmp_path / "summary.md"
    quiet = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}

    plain = inv_here(project, "layer.size-report", env=quiet)
    assert plain.returncode == 0, plain.stderr
    assert not summary.exists()
    assert not list(tmp_path.rglob("*.md"))  # nothing written anywhere else either

    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    report = inv_here(project, "layer.size-report", "--json", env=env)
    assert report.returncode == 0, report.stderr
    assert report.stdout.lstrip().startswith("{")  # the summary never goes to stdout
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("### Layer test-layer (python3.12, x86_64): size")
    assert "262,144,000 bytes" in text and "52,428,800 bytes (direct upload)" in text

    over = inv_here(project, "layer.budget", env={**env, "INVOKE_LAYER_RESERVE_MB": "250"})
    assert over.returncode == 1
    assert over.stderr.startswith("error: layer test-layer is")
    sections = summary.read_text(encoding="utf-8").split("### ")[1:]
    assert len(sections) == 2
    assert sections[1].startswith("Layer test-layer (python3.12, x86_64): over budget")
    assert "❌ over by" in sections[1]
