"""The `layer-tasks` console script (issue 19 section 1): the same tasks, flags, help,
exit codes and configuration as `inv layer.*`, without a tasks.py; and the two tested
examples of docs/your-app.md (a project's own tasks.py, a project's own noxfile)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from invoke import main as invoke_main
from support.cli import build_small_project, copy_project, inv
from support.program import layer_tasks

from layer_tasks import __version__
from layer_tasks.tasks.program import make_program

DOC = Path(__file__).resolve().parents[2] / "docs" / "your-app.md"


def example(name: str) -> str:
    """The code block after ``<!-- tested: NAME ...-->`` in docs/your-app.md."""
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- tested: {re.escape(name)} .*?-->\n```python\n(.*?)```", text, re.S)
    assert match, f"no tested {name} example in {DOC}"
    return match.group(1)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    return build_small_project(tmp_path_factory, wheelhouse)


@pytest.fixture
def project(built: Path, tmp_path: Path) -> Path:
    """A copy of a built project (its zip is current: nothing installs again)."""
    return copy_project(built, tmp_path / "p")


def run(
    argv: list[str], capsys: pytest.CaptureFixture[str], *, ours: bool = True
) -> tuple[int, str, str]:
    """``layer-tasks ARGV`` (or ``inv ARGV``) in this process: (exit status, out, err)."""
    program = make_program() if ours else invoke_main.program
    try:
        program.run([("layer-tasks" if ours else "inv"), *argv])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_version_list_and_help_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no tasks.py, no invoke.yaml
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.startswith(f"layer-tasks {__version__} (invoke ")
    code, out, _ = run(["--list"], capsys)
    names = [line.split()[0] for line in out.splitlines()[1:] if line.strip()]
    for name in ("build", "size-report", "budget", "deploy", "init", "rollback", "local.up"):
        assert name in names
    assert code == 0 and not any(name.startswith("layer.") for name in names)
    code, out, _ = run(["--help"], capsys)
    assert code == 0 and "Usage: layer-tasks [--core-opts] <subcommand>" in out
    code, out, _ = run(["size-report", "--help"], capsys)
    assert code == 0 and "--top" in out
    code, _, err = run(["nope"], capsys)
    assert code == 1 and err == (
        "error: 'nope' is not a task, a flag, or a flag's value here (a flag given twice?): "
        "see `layer-tasks --list` and `layer-tasks --help TASK`\n"
    )


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["build", "--bogus"], "'--bogus' is not a task, a flag, or a flag's value here"),
        (["--bogus"], "'--bogus' is not a task, a flag, or a flag's value here"),
        (["rollback", "--version"], "--version needs a value (--version VALUE)"),
        # A repeatable flag: Invoke's parser left its list empty without a word, and the
        # task fell back to the ARN file (with --stage dev, it wrote stages.dev.layers).
        (["update-config", "--arn"], "--arn needs a value (--arn VALUE)"),
        (["update-config", "--arn", "--stage", "dev"], "--arn needs a value (--arn VALUE)"),
        (["build", "--force=3"], "'3' is not a task, a flag, or a flag's value here"),
    ],
)
def test_parse_errors_are_one_error_line(
    argv: list[str],
    line: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Invoke's parser prints its bare message ("No idea what '--bogus' is!"): the
    console script's is one ``error:`` line that says what to do, exit status 1."""
    monkeypatch.chdir(tmp_path)
    code, out, err = run(argv, capsys)
    assert (code, out) == (1, "")
    assert err.splitlines() == [err.strip()] and err.startswith(f"error: {line}")


@pytest.mark.parametrize(
    ("ours", "theirs", "env", "code"),
    [
        (["budget"], ["layer.budget"], {"INVOKE_LAYER_BUDGET_MB": "0.001"}, 1),  # INVOKE_LAYER_*
        (["-f", "nope.yaml", "budget"], ["-f", "nope.yaml", "layer.budget"], {}, 1),
        (
            ["-f", "rt.yaml", "size-report", "--json", "--top", "1"],
            ["-f", "rt.yaml", "layer.size-report", "--json", "--top", "1"],
            {},
            0,
        ),
    ],
    ids=["env-override", "missing-runtime-file", "runtime-file"],
)
def test_the_same_answers_as_inv(
    project: Path,
    ours: list[str],
    theirs: list[str],
    env: dict[str, str],
    code: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """invoke.yaml of the folder it runs in, a runtime file and INVOKE_LAYER_* variables,
    read as inv reads them; the same output and exit status."""
    monkeypatch.chdir(project)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (project / "rt.yaml").write_text("layer:\n  budget_mb: 100\n", encoding="utf-8")
    tasks_py = project / "tasks.py"
    kept = tasks_py.read_bytes()
    tasks_py.unlink()  # layer-tasks needs none
    mine = run(ours, capsys)
    tasks_py.write_bytes(kept)
    assert mine == run(theirs, capsys, ours=False)
    assert mine[0] == code


def test_a_failure_before_any_task_is_the_same_one_line(project: Path) -> None:
    """A flag Invoke cannot cast fails before the task runs: the start-up net's one line,
    as a user's shell sees it (a process of its own each)."""
    (project / "tasks.py").unlink()
    mine = layer_tasks(project, "size-report", "--top", "abc")
    (project / "tasks.py").write_text("from layer_tasks.tasks import ns\n", encoding="utf-8")
    other = inv(project, "layer.size-report", "--top", "abc")
    assert (mine.returncode, mine.stdout, mine.stderr) == (
        1,
        "",
        "error: --top must be a whole number, got 'abc'\n",
    )
    assert (other.returncode, other.stdout, other.stderr) == (
        mine.returncode,
        mine.stdout,
        mine.stderr,
    )


def test_a_projects_own_tasks_py_adds_the_collections(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project)
    (project / "tasks.py").write_text(example("tasks.py"), encoding="utf-8")
    code, out, err = run(["--list"], capsys, ours=False)
    assert code == 0, err
    names = {line.split()[0] for line in out.splitlines()[1:] if line.strip()}
    assert {"hello", "layer.build", "layer.deploy", "layer.init", "local.up"} <= names
    assert run(["hello"], capsys, ours=False) == (0, "hello\n", "")
    monkeypatch.setenv("INVOKE_LAYER_BUDGET_MB", "0.001")
    code, _, err = run(["layer.budget"], capsys, ours=False)
    assert code == 1 and err.startswith("error: layer test-layer is "), err  # invoke.yaml's name


@pytest.mark.slow  # nox, and in it three layer-tasks processes and an install
def test_a_projects_own_noxfile_gets_the_size_budget_session(project: Path) -> None:
    (project / "noxfile.py").write_text(example("noxfile.py"), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "nox", "-s", "layer_size_budget"],
        cwd=project, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "INVOKE_LAYER_BUDGET_MB": "0.001"},
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "dist/test-layer.zip:" in out  # built (in the session's own state folder)
    assert "distribution" in out and "alpha" in out  # the size report
    assert "error: layer test-layer is " in out and "over the budget" in out
    assert "Session layer_size_budget failed" in out
