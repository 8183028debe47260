"""`inv` as a user types it, and throwaway projects on the offline wheelhouse.

Two ways to run ``inv ARGS`` in a project, with the same answer (a
``subprocess.CompletedProcess``: exit status, stdout, stderr):

- `inv`: a real ``inv`` process. For what only a process shows: the start-up error net
  as the interpreter calls it, signals, two deploys at once, a process killed midway.
- `inv_here`: the same `invoke.Program` in this process, in the project folder, with the
  same environment, the file descriptors 1 and 2 captured (what the task's own
  subprocesses print too), an uncaught exception handed to ``sys.excepthook`` with exit
  status 1, as the interpreter does. No interpreter start and no ``import tasks`` per
  call: the suite's CLI cases run in a fraction of the time.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# `inv` as a user types it, run by this interpreter (whatever venv the tests run in).
INV = [sys.executable, "-c", "import sys; from invoke.main import program; sys.exit(program.run())"]


def inv(
    project: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    base: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``inv ARGS`` in ``project``: ``env`` on top of ``base`` (default: this process's)."""
    return subprocess.run(
        [*INV, *args],
        cwd=project,
        capture_output=True,
        text=True,
        env={**(os.environ if base is None else base), **(env or {})},
        timeout=300,
        check=False,
    )


def inv_here(
    project: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    base: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`inv` in this process: the same arguments, environment and answer."""
    from invoke import Program, __version__

    # A new Program per run, made as invoke.main's `program` (the `inv` binary) is.
    program = Program(
        name="Invoke", binary="inv[oke]", binary_names=["invoke", "inv"], version=__version__
    )
    environ = {**(os.environ if base is None else base), **(env or {})}
    with _as_a_process(project, environ) as answer:
        try:
            program.run(["inv", *args])
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
            if isinstance(stop.code, str):
                print(stop.code, file=sys.stderr)
        except Exception:  # what the interpreter does with an uncaught exception
            sys.excepthook(*sys.exc_info())
            code = 1
    return subprocess.CompletedProcess(["inv", *args], code, answer["stdout"], answer["stderr"])


@contextlib.contextmanager
def _as_a_process(cwd: Path, environ: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """For the block: ``cwd``, exactly ``environ``, fds 1 and 2 (and sys.stdout/err on
    them, text as a Python process has it) into files; then everything as it was, and
    the captured text in the mapping yielded."""
    answer: dict[str, str] = {}
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_path, saved_tasks = list(sys.path), sys.modules.get("tasks")
    saved_streams = sys.stdout, sys.stderr
    for stream in saved_streams:
        stream.flush()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        saved_fds = os.dup(1), os.dup(2)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            with (
                open(os.dup(1), "wb") as raw_out,
                open(os.dup(2), "wb") as raw_err,
                io.TextIOWrapper(raw_out, encoding="utf-8", write_through=True) as text_out,
                io.TextIOWrapper(
                    raw_err, encoding="utf-8", errors="backslashreplace", write_through=True
                ) as text_err,
            ):
                sys.stdout, sys.stderr = text_out, text_err
                os.environ.clear()
                os.environ.update(environ)
                os.chdir(cwd)
                try:
                    yield answer
                finally:
                    sys.stdout, sys.stderr = saved_streams
        finally:
            os.dup2(saved_fds[0], 1)
            os.dup2(saved_fds[1], 2)
            os.close(saved_fds[0])
            os.close(saved_fds[1])
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)
            sys.path[:] = saved_path
            if saved_tasks is None:
                sys.modules.pop("tasks", None)
            else:
                sys.modules["tasks"] = saved_tasks
        for key, file in (("stdout", out), ("stderr", err)):
            file.seek(0)
            # As subprocess.run(text=True) reads a pipe: universal newlines.
            text = file.read().decode("utf-8")
            answer[key] = text.replace("\r\n", "\n").replace("\r", "\n")


def _local_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "INVOKE_"))}
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    return env


def inv_local(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``inv ARGS`` with no AWS credentials, region or INVOKE_ settings at all: what
    ``--local`` needs it must bring itself, for its run only."""
    return inv(project, *args, base=_local_env())


def inv_local_here(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`inv_local` in this process (see `inv_here`)."""
    return inv_here(project, *args, base=_local_env())


def write_requirements(path: Path, wheelhouse: Path, *lines: str) -> Path:
    path.write_text(
        f"--no-index\n--find-links {wheelhouse}\n" + "".join(f"{line}\n" for line in lines),
        encoding="utf-8",
    )
    return path


INVOKE_YAML = """\
layer:
  name: test-layer
  requirements: requirements-all.txt
  python: "3.12"
  architecture: x86_64
  bucket: test-layer-bucket
  region: us-east-1
  prefix: layers
  stage: prod
  dist_dir: dist
  state_dir: .state
"""

CHALICE_CONFIG = """\
{
  "version": "2.0",
  "app_name": "demo",
  "automatic_layer": false,
  "stages": {
    "dev": {
      "api_gateway_stage": "api",
      "layers": []
    },
    "prod": {
      "api_gateway_stage": "api",
      "layers": []
    }
  }
}
"""


def make_project(root: Path, wheelhouse: Path, *requirements: str) -> Path:
    root.mkdir(parents=True)
    write_requirements(root / "requirements-all.txt", wheelhouse, *requirements)
    (root / "invoke.yaml").write_text(INVOKE_YAML, encoding="utf-8")
    (root / "tasks.py").write_text("from layer_tasks.tasks import ns\n", encoding="utf-8")
    (root / ".chalice").mkdir()
    (root / ".chalice" / "config.json").write_text(CHALICE_CONFIG, encoding="utf-8")
    return root


def build_small_project(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    """A small project built once; tests copy it (the build is then reused, no install)."""
    project = make_project(tmp_path_factory.mktemp("built") / "p", wheelhouse, "alpha==1.0")
    proc = inv(project, "layer.build")
    assert proc.returncode == 0, proc.stderr
    return project


def copy_project(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest, symlinks=True, ignore=shutil.ignore_patterns(".state"))
    return dest


def stray_files(project: Path) -> list[str]:
    """Temporary files anywhere in the project (atomic writes, partial zips)."""
    return sorted(
        p.relative_to(project).as_posix()
        for p in project.rglob("*")
        if p.is_file() and (p.name.endswith((".tmp", ".partial")) or p.name.startswith("tmp"))
    )


def make_split_project(root: Path, wheelhouse: Path, first: str, second: str) -> Path:
    """`make_project` with both requirements, plus the split sets requirements-a/-b."""
    make_project(root, wheelhouse, first, second)
    write_requirements(root / "requirements-a.txt", wheelhouse, first)
    write_requirements(root / "requirements-b.txt", wheelhouse, second)
    return root
