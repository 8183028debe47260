"""`inv layer.size-report --imports`: each distribution's import time from the read-only layer."""

from __future__ import annotations

import json
import os
import stat
import time
import zipfile
from pathlib import Path

import pytest
from support.cli import inv_here, make_project
from support.wheels import make_wheel

from layer_tasks.report.import_cost import read_only_layer

SLEEP = 0.3


@pytest.fixture
def sleepy_project(tmp_path: Path, wheelhouse: Path) -> Path:
    extra = tmp_path / "extra-wheels"
    extra.mkdir()
    # Sleeps at import: what a slow dependency costs at every cold start.
    make_wheel(
        extra,
        "sleepy",
        "1.0",
        {"sleepy/__init__.py": f"import time\ntime.sleep({SLEEP})\n", "sleepy/data.txt": "z" * 100},
    )
    project = make_project(tmp_path / "p", wheelhouse, "alpha==1.0", "epsilon==1.0", "sleepy==1.0")
    with open(project / "requirements-all.txt", "a", encoding="utf-8") as fh:
        fh.write(f"--find-links {extra}\n")
    return project


def test_the_sleeping_distribution_costs_its_sleep_and_ranks_first(sleepy_project: Path) -> None:
    # A layer without bytecode: every import compiles its source, as before `bytecode`.
    proc = inv_here(
        sleepy_project,
        "layer.size-report",
        "--imports",
        "--json",
        "--repeat",
        "2",
        env={"INVOKE_LAYER_BYTECODE": "none"},
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["measured"] and report["repeat"] == 2 and report["bytecode_files"] == 0
    first = report["costs"][0]
    assert first["name"] == "sleepy" and first["modules"] == ["sleepy"]
    assert len(first["seconds"]) == 2 and first["median_seconds"] >= SLEEP
    # Sleeping uses no CPU: the CPU column shows what the import itself costs.
    assert len(first["cpu_seconds"]) == 2 and first["cpu_median_seconds"] < SLEEP
    others = {c["name"]: c for c in report["costs"][1:]}
    assert set(others) == {"alpha", "beta", "epsilon"}
    assert all(c["median_seconds"] < SLEEP for c in others.values())
    assert others["epsilon"]["unzipped_bytes"] > 0 and not others["epsilon"]["failures"]
    assert report["together"]["median_seconds"] >= SLEEP

    text = inv_here(
        sleepy_project,
        "layer.size-report",
        "--imports",
        "--repeat",
        "1",
        env={"INVOKE_LAYER_BYTECODE": "none"},
    ).stdout
    table = text.splitlines()
    assert "the layer has no bytecode" in table[1]
    assert table[5].split()[0] == "sleepy"  # after header, blurb, blank, column names, rule
    assert table[-1].startswith("all together (4 modules)")


def test_a_target_this_host_cannot_run_says_so_in_one_line(
    tmp_path: Path, wheelhouse: Path
) -> None:
    project = make_project(tmp_path / "p", wheelhouse, "alpha==1.0")
    env = {"INVOKE_LAYER_ARCHITECTURE": "arm64"}
    assert os.uname().machine == "x86_64"  # the arm64 build is for another CPU here
    proc = inv_here(project, "layer.size-report", "--imports", env=env)
    assert proc.returncode == 0, proc.stderr
    assert (
        proc.stdout
        == f"imports not measured: this host ({os.uname().machine}) cannot run arm64 code\n"
    )
    as_json = json.loads(
        inv_here(project, "layer.size-report", "--imports", "--json", env=env).stdout
    )
    assert as_json["measured"] is False and "cannot run arm64" in as_json["reason"]


def test_the_layer_is_read_only_with_the_zips_times_and_removed_after(tmp_path: Path) -> None:
    zpath = tmp_path / "layer.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr(zipfile.ZipInfo("python/mod/__init__.py", (2020, 1, 2, 3, 4, 6)), "X = 1\n")
    with read_only_layer(zpath) as tree:
        init = tree / "mod" / "__init__.py"
        assert init.read_text() == "X = 1\n"
        assert stat.S_IMODE(init.stat().st_mode) == 0o444
        assert stat.S_IMODE((tree / "mod").stat().st_mode) == 0o555
        assert time.localtime(init.stat().st_mtime)[:6] == (2020, 1, 2, 3, 4, 6)
        root = tree.parent
    assert not root.exists()


def test_repeat_below_one_is_an_error(sleepy_project: Path) -> None:
    proc = inv_here(sleepy_project, "layer.size-report", "--imports", "--repeat", "0")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "error: --repeat must be at least 1, got '0'"
    assert not (sleepy_project / "dist").exists()
