"""The process around the tool (issue 20, section 6): a closed pipe and Ctrl-C.

A closed pipe is made deterministic: the child's stdout (or stderr) is the write end of
a pipe whose read end is already closed, so its first write fails with EPIPE, as
``| head -1`` makes it fail once head has read its line. Ctrl-C is SIGINT sent to the
whole process group, as a terminal sends it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.cli import INV, build_small_project, make_project
from support.faults import MotoServer, client

from layer_tasks.util.terminal import INTERRUPTED, INTERRUPTED_MESSAGE


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    project = build_small_project(tmp_path_factory, wheelhouse)
    # A collection that stops after importing the tasks, before Invoke goes on: the
    # moment between our import and the task body, held open for the Ctrl-C test.
    (project / "slow_tasks.py").write_text(
        "import sys, time\nfrom layer_tasks.tasks import ns\n"
        "print('imported', flush=True)\ntime.sleep(30)\n",
        encoding="utf-8",
    )
    return project


def closed_pipe() -> int:
    """The write end of a pipe nobody reads any more."""
    read, write = os.pipe()
    os.close(read)
    return write


def run_into_closed_pipe(
    project: Path, *args: str, which: str = "stdout", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    fd = closed_pipe()
    try:
        streams = {"stdout": fd, "stderr": subprocess.PIPE}
        if which == "stderr":
            streams = {"stdout": subprocess.PIPE, "stderr": fd}
        if which == "both":
            streams = {"stdout": fd, "stderr": fd}
        return subprocess.run(
            [*INV, *args],
            cwd=project,
            text=True,
            env={**os.environ, **(env or {})},
            timeout=120,
            check=False,
            **streams,  # type: ignore[arg-type]
        )
    finally:
        os.close(fd)


def quiet(proc: subprocess.CompletedProcess[str]) -> str:
    err = proc.stderr or ""
    assert "Traceback" not in err, err
    assert "BrokenPipeError" not in err and "Exception ignored" not in err, err
    return err


def test_a_closed_stdout_ends_the_output_quietly_and_the_task_succeeds(built: Path) -> None:
    proc = run_into_closed_pipe(built, "layer.size-report")
    assert quiet(proc) == "" or "error:" not in proc.stderr
    assert proc.returncode == 0


def test_a_closed_stdout_and_stderr_together(built: Path) -> None:
    proc = run_into_closed_pipe(built, "layer.size-report", "--top", "1", which="both")
    assert proc.returncode == 0


def test_an_error_line_into_a_closed_stderr_keeps_its_exit_status(built: Path) -> None:
    proc = run_into_closed_pipe(built, "layer.size-report", "--top", "-1", which="both")
    assert proc.returncode == 1


def test_invokes_own_listing_into_a_closed_pipe(built: Path) -> None:
    proc = run_into_closed_pipe(built, "--list")
    quiet(proc)
    assert proc.returncode in (0, 1)


def test_versions_and_cleanup_dry_run_into_a_closed_pipe(built: Path, server: MotoServer) -> None:
    server.reset()
    lam = client(server.url, "lambda")
    for i in range(3):
        lam.publish_layer_version(
            LayerName="test-layer",
            Content={"ZipFile": (built / "dist" / "test-layer.zip").read_bytes()},
            Description=f"v{i}",
        )
    env = {"AWS_ENDPOINT_URL": server.url}
    for args in (("layer.versions",), ("layer.cleanup", "--keep", "1", "--dry-run")):
        proc = run_into_closed_pipe(built, *args, env=env)
        quiet(proc)
        assert proc.returncode == 0, proc.stderr
    assert len(lam.list_layer_versions(LayerName="test-layer")["LayerVersions"]) == 3


# --- Ctrl-C ------------------------------------------------------------------------------

WORKERS_SCRIPT = """
import signal, sys, time
from pathlib import Path
# As in a terminal: a test run started in the background (`cmd &` in a script, as CI
# may) passes SIGINT on ignored, and Python then keeps it ignored.
signal.signal(signal.SIGINT, signal.default_int_handler)
from layer_tasks.build.archive import write_layer_zip
tree = Path(sys.argv[1])
print("ready", flush=True)
def slow(_n):
    time.sleep(0.02)  # the workers finish their batches and wait, idle, for more
try:
    write_layer_zip(tree, Path(sys.argv[2]), workers=2, progress=slow)
except KeyboardInterrupt:
    print("parent: interrupted", file=sys.stderr)
    sys.exit(130)
print("not interrupted", file=sys.stderr)
"""


def test_ctrl_c_reaches_the_zip_workers_silently(tmp_path: Path) -> None:
    """Before: each idle worker printed a KeyboardInterrupt traceback."""
    tree = tmp_path / "tree"
    for i in range(900):  # several batches of 256 files: a pool of workers
        folder = tree / f"pkg{i // 100}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"m{i}.py").write_text(f"X = {i}\n" * 20)
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKERS_SCRIPT, str(tree), str(tmp_path / "out.zip")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(3)  # the pool is up and the workers idle
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip() == "parent: interrupted", err


def start(project: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """``inv ARGS`` in a process group of its own, as a terminal's foreground job is."""
    return subprocess.Popen(
        [*INV, *args],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )


def test_ctrl_c_during_a_build_is_one_line_and_exit_130(tmp_path: Path, wheelhouse: Path) -> None:
    """Interrupted in the installer, the prune, the zip or the import check: each time
    one line, exit 130, no traceback from any process, no partial zip."""
    project = make_project(tmp_path / "p", wheelhouse, "alpha==1.0", "epsilon==1.0")
    env = {**os.environ, "INVOKE_LAYER_WORKERS": "2"}
    interrupted = 0
    for delay in (0.0, 0.2, 0.5, 1.0):
        proc = start(project, env, "layer.build", "--force")
        assert proc.stderr is not None
        first = proc.stderr.readline()  # the first step line: the task body runs
        time.sleep(delay)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        _, rest = proc.communicate(timeout=120)
        err = first + rest
        if proc.returncode == 0:
            continue  # finished before the interrupt: nothing to see at this delay
        if proc.returncode == -signal.SIGINT:
            # The interrupt came after the task had returned, while the interpreter shut
            # down (docs/bad-inputs.md, "Ctrl-C after the work is done"): killed by the
            # signal, nothing printed, the work complete.
            assert "Traceback" not in err and "error:" not in err, err
            assert "verify: " in err and list((project / "dist").glob("*.zip")), err
            continue
        interrupted += 1
        assert proc.returncode == INTERRUPTED, err
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert errors == [f"error: {INTERRUPTED_MESSAGE}"], err
        assert not list((project / "dist").glob("*.partial"))
    assert interrupted


def test_ctrl_c_before_the_task_runs_is_one_line_and_exit_130(built: Path) -> None:
    """While Invoke still reads its configuration: Invoke alone would exit 1, silently."""
    env = {**os.environ, "INVOKE_LAYER_REGION": "us-east-1"}
    proc = start(built, env, "-c", "slow_tasks", "layer.budget")
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "imported"
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == INTERRUPTED, err
    assert err.splitlines() == [f"error: {INTERRUPTED_MESSAGE}"], err
