"""The CI step summary: pure Markdown renderers, and the file written only when
GITHUB_STEP_SUMMARY is set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.fakes import make_settings

from layer_tasks.errors import LayerError
from layer_tasks.model.manifest import Distribution, Manifest
from layer_tasks.report import step_summary as ss
from layer_tasks.report.diff import diff_manifests

ARN = "arn:aws:lambda:us-east-1:123456789012:layer:demo-layer:7"


def _manifest(unzipped: int = 120_000_000, zipped: int = 38_000_000) -> Manifest:
    return Manifest(
        name="demo-layer",
        python="3.12",
        architecture="x86_64",
        code_sha256="abc=",
        zip_bytes=zipped,
        unzipped_bytes=unzipped,
        files=10,
        requirements_sha256="0" * 64,
        distributions=(Distribution("numpy", "2.1.3", 70_000_000, 5),),
        pruned={"tests": 1_000_000},
    )


def test_written_only_when_the_variable_is_set(tmp_path: Path) -> None:
    settings = [make_settings(tmp_path)]
    target = tmp_path / "summary.md"
    assert ss.checked_path(settings, environ={}) is None
    assert ss.checked_path(settings, environ={"GITHUB_STEP_SUMMARY": ""}) is None
    assert ss.write("# one\n", None) is False
    assert not target.exists()
    path = ss.checked_path(settings, environ={"GITHUB_STEP_SUMMARY": str(target)})
    assert path == target
    assert ss.write("# one\n", path) is True
    assert ss.write("# two", path) is True
    # Appended, never replaced: other steps write to the same file.
    assert target.read_text() == "# one\n\n# two\n\n"
    with pytest.raises(LayerError, match="cannot append to GITHUB_STEP_SUMMARY"):
        ss.write("x", tmp_path / "no" / "such" / "file")


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("no/such/summary.md", r"summary\.md: folder .*/no/such does not exist"),
        (".", r" is a folder: unset it"),
        (".chalice/config.json", r"config\.json is the Chalice config, which the tool manages"),
        (".state/x.md", r"x\.md is inside layer\.state_dir \(.*state\), which the tool manages"),
        # A FIFO held the task forever on its open().
        ("fifo", r"fifo is not a regular file \(a FIFO, device or socket\): unset it"),
    ],
)
def test_the_path_is_checked_before_any_change(tmp_path: Path, where: str, message: str) -> None:
    settings = make_settings(tmp_path)
    settings.state_dir.mkdir()
    os.mkfifo(tmp_path / "fifo")
    config = settings.chalice_config.read_bytes()
    env = {"GITHUB_STEP_SUMMARY": str(tmp_path / where)}
    with pytest.raises(LayerError, match="^GITHUB_STEP_SUMMARY .*" + message):
        ss.checked_path([settings], environ=env)
    assert settings.chalice_config.read_bytes() == config


def test_sizes_and_margins_to_both_limits(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, reserve_mb=10)
    md = ss.size_markdown(_manifest(), settings)
    assert md.startswith("### Layer demo-layer (python3.12, x86_64): size")
    used = 120_000_000 + 10 * 1024 * 1024
    assert f"| unzipped + reserve 10.0 MiB | 124.4 MiB ({used:,} bytes) | 262,144,000 bytes" in md
    assert f"✅ 125.6 MiB ({262_144_000 - used:+,} bytes)" in md
    assert "| zipped | 36.2 MiB (38,000,000 bytes) | 52,428,800 bytes (direct upload) | ✅" in md
    assert "Largest: numpy 66.8 MiB." in md
    over = ss.size_markdown(_manifest(zipped=60_000_000), settings)
    assert f"⚠️ through S3, over by 7.2 MiB ({52_428_800 - 60_000_000:+,} bytes)" in over
    assert "over budget" in ss.budget_markdown(_manifest(unzipped=260_000_000), settings)
    assert "within budget" in ss.budget_markdown(_manifest(), settings)
    assert "budget (layer.budget_mb)" not in md  # the budget is the limit: no second row
    tight = ss.budget_markdown(_manifest(), make_settings(tmp_path, budget_mb=100))
    assert (
        "| budget (layer.budget_mb) | 114.4 MiB | 104,857,600 bytes | ❌ over by 14.4 MiB" in tight
    )


def test_deploy_section_one_region_and_several(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    manifest = _manifest()
    old = {"distributions": [{"name": "numpy", "version": "1.26.4", "unzipped_bytes": 1}]}
    diff = diff_manifests(old, {"distributions": [{"name": "numpy", "version": "2.1.3"}]})

    published = ss.deploy_markdown(
        manifest, settings, [ss.RegionResult("us-east-1", ARN, 7, True)], diff
    )
    assert f"us-east-1: published `{ARN}`" in published
    assert "| upgraded | numpy | 1.26.4 -> 2.1.3 |" in published
    assert "262,144,000 bytes" in published

    same = ss.deploy_markdown(manifest, settings, [ss.RegionResult("us-east-1", ARN, 7, False)])
    assert "us-east-1: unchanged, version 7" in same
    assert "Diff" not in same

    rows = [
        ss.RegionResult("us-east-1", ARN, 7, True),
        ss.RegionResult("eu-west-1", ARN.replace("us-east-1", "eu-west-1"), 3, False),
        ss.RegionResult("ap-northeast-2", None, None, False),
    ]
    several = ss.deploy_markdown(None, settings, rows)
    assert "| target | result |" in several
    assert f"| us-east-1 | published `{ARN}` |" in several
    assert "| eu-west-1 | unchanged, version 3 (" in several
    assert "| ap-northeast-2 | dry run: would publish a new version |" in several

    arm = ss.RegionResult("us-east-1", ARN, 2, True, architecture="arm64")
    assert f"| arm64 in us-east-1 | published `{ARN}` |" in ss.deploy_markdown(
        None, settings, [rows[0], arm]
    )
