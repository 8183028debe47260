"""`layer-tasks init` in a fresh Chalice app, as a user types it (in-process), and
`--local` in the region boto3's chain names (issue 19 sections 2 and 4)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.chalice_app import add_app, chalice_config
from support.cli import write_requirements
from support.snapshot import project_files

from layer_tasks.local import sandbox
from layer_tasks.tasks.program import make_program

PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        make_program().run(["layer-tasks", *argv])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """What `chalice new-project demo` leaves: app.py, requirements.txt, a dev stage."""
    root = tmp_path / "demo"
    chalice_config(root)
    add_app(root, None)
    (root / "requirements.txt").write_text("", encoding="utf-8")
    monkeypatch.chdir(root)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-2")
    monkeypatch.delenv("AWS_REGION", raising=False)
    return root


def test_init_in_a_fresh_app_then_nothing_to_change(
    app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["init"], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f'init: Chalice app "demo" in {app}, stage dev:',
        "  invoke.yaml: created (the layer's settings)",
        "  requirements-layer.txt: created (the layer's packages: add them here)",
        "  .gitignore: created (ignores /dist/, /.layer-tasks/)",
        f"  layer: name demo-deps, requirements requirements-layer.txt, python {PYTHON}, "
        "stage dev, region ap-northeast-2, bucket demo-layers-{region}",
        "next: (first put the layer's packages into requirements-layer.txt)",
        "  layer-tasks deploy --local   # the whole pipeline against a local sandbox",
        "  layer-tasks deploy           # publish to AWS; stages.dev.layers gets the ARN",
        "  chalice deploy --stage dev",
    ]
    written = {p.name: p.read_bytes() for p in app.iterdir() if p.is_file()}
    code, out, _ = run(["init"], capsys)
    assert code == 0
    assert out.splitlines()[0] == (
        "init: nothing to change: invoke.yaml, requirements-layer.txt, .gitignore already hold it"
    )
    assert {p.name: p.read_bytes() for p in app.iterdir() if p.is_file()} == written
    # What init wrote is what the tasks read.
    assert yaml.safe_load((app / "invoke.yaml").read_text())["layer"]["python"] == PYTHON


@pytest.mark.slow  # starts the sandbox's moto server
def test_local_publishes_in_the_region_of_boto3s_chain(
    app: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No layer.region: AWS_DEFAULT_REGION names it, and the sandbox's ARN says so."""
    (app / "invoke.yaml").write_text(
        "layer:\n  name: demo-deps\n  requirements: requirements-layer.txt\n  stage: dev\n"
        '  python: "3.12"\n  state_dir: .state\n',
        encoding="utf-8",
    )
    write_requirements(app / "requirements-layer.txt", wheelhouse, "alpha==1.0")
    try:
        code, out, err = run(["deploy", "--local"], capsys)
        assert code == 0, err
        arn = out.strip().splitlines()[-1]
        assert arn.startswith("arn:aws:lambda:ap-northeast-2:") and arn.endswith(":demo-deps:1")
        copy = json.loads((app / ".state" / "sandbox" / "chalice" / "config.json").read_text())
        assert copy["stages"]["dev"]["layers"] == [arn]
    finally:
        sandbox.down(app / ".state")


@pytest.mark.parametrize(
    ("make", "ci", "expect"),
    [
        (
            lambda root: (root / "requirements-layer.txt").mkdir(),
            [],
            "{root}/requirements-layer.txt is a folder, not a file, where init keeps the "
            "layer's packages: move it away, and run init again",
        ),
        (
            lambda root: os.mkfifo(root / "requirements-layer.txt"),
            [],
            "{root}/requirements-layer.txt is not a regular file (a FIFO, device or socket), "
            "where init keeps the layer's packages: move it away, and run init again",
        ),
        (
            lambda root: (root / ".gitignore").mkdir(),
            [],
            "{root}/.gitignore is a folder, not a file, where init keeps the lines that "
            "ignore the build's folders: move it away, and run init again",
        ),
        (
            # A .gitignore linked to a file outside the project (/etc/hosts got init's
            # three lines): init writes only the project's own files.
            lambda root: (
                (root.parent / "outside.txt").write_text("hosts\n", encoding="utf-8"),
                (root / ".gitignore").symlink_to(root.parent / "outside.txt"),
            ),
            [],
            "{root}/.gitignore is a symlink (to {root.parent}/outside.txt), where init keeps "
            "the lines that ignore the build's folders: move it away, and run init again; "
            "init writes only the project's own files, never through a link",
        ),
        (
            lambda root: (root / ".github").write_text("not a folder\n", encoding="utf-8"),
            ["--ci", "github"],
            "{root}/.github is not a folder, and init writes "
            "{root}/.github/workflows/layer-tasks.yml inside it: move it away, and run init again",
        ),
    ],
)
def test_init_checks_every_file_before_its_first_write(
    app: Path, capsys: pytest.CaptureFixture[str], make: Any, ci: list[str], expect: str
) -> None:
    """K: a folder named requirements-layer.txt was taken for the layer's requirements:
    init exited 0 after writing invoke.yaml and .gitignore, and every build failed."""
    make(app)
    before = project_files(app)
    code, out, err = run(["init", "--region", "us-east-1", "--stage", "dev", *ci], capsys)
    assert (code, out) == (1, "")
    assert err.splitlines() == ["error: " + expect.format(root=app)]
    assert project_files(app) == before
    assert not (app / "invoke.yaml").exists()
