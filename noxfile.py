"""Test matrix and checks. `nox` runs the default sessions; `nox -s NAME` one of them."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
# A missing Python skips its sessions (nox says which, in one line); CI must have them all.
nox.options.error_on_missing_interpreters = os.environ.get("CI", "").lower() not in (
    "",
    "0",
    "false",
)
# Only the Pythons installed here (found below); downloading one needs a host this
# project's machines cannot reach, and fails after a DNS timeout per session.
nox.options.download_python = "never"
nox.options.sessions = ["lint", "typecheck", "tests", "size_budget"]

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


def _pyenv_roots() -> list[Path]:
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv")]
    pyenv = shutil.which("pyenv")
    if pyenv:
        answer = subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=10)
        roots.insert(0, answer.stdout.strip())
    return [Path(root) for root in dict.fromkeys(roots) if root and Path(root, "versions").is_dir()]


def _uv_find(version: str) -> str | None:
    try:
        from uv import find_uv_bin  # the dev extras install uv (it is a dependency)

        uv: str | None = find_uv_bin()
    except (ImportError, FileNotFoundError):
        uv = shutil.which("uv")
    if uv is None:
        return None
    answer = subprocess.run(
        [uv, "python", "find", "--no-project", version],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return answer.stdout.strip() or None if answer.returncode == 0 else None


def find_python(version: str) -> str | None:
    """An installed ``python<version>``: on PATH (a pyenv shim is passed over: it only runs
    the versions pyenv is told to), else the newest of pyenv's versions, else what
    ``uv python find`` knows (uv-managed Pythons included)."""
    name = f"python{version}"
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder, name)
        if folder and Path(folder).name != "shims" and os.access(candidate, os.X_OK):
            return str(candidate)
    for root in _pyenv_roots():
        found = [
            path
            for path in root.glob(f"versions/{version}.*/bin/{name}")
            if re.fullmatch(rf"{re.escape(version)}\.\d+", path.parents[1].name)
        ]
        if found:
            return str(max(found, key=lambda p: int(p.parents[1].name.rsplit(".", 1)[1])))
    return _uv_find(version)


def expose_pythons() -> None:
    """Links to the Pythons found, in one folder at the front of PATH: nox and the uv it
    asks to make each venv find them there, before any shim, in a shell whose PATH has
    none of them. Only ``python3.X`` names are added, nothing else is shadowed."""
    links = Path(__file__).resolve().parent / ".nox" / "_pythons"
    links.mkdir(parents=True, exist_ok=True)
    for version in PYTHONS:
        link, found = links / f"python{version}", find_python(version)
        if found and os.path.realpath(found) != os.path.realpath(link):
            temporary = links / f".python{version}.{os.getpid()}"
            temporary.unlink(missing_ok=True)
            temporary.symlink_to(os.path.realpath(found))  # a venv's python: its base
            os.replace(temporary, link)
        elif not found:
            link.unlink(missing_ok=True)
    if str(links) not in os.environ["PATH"].split(os.pathsep):
        os.environ["PATH"] = f"{links}{os.pathsep}{os.environ['PATH']}"


expose_pythons()


def install(session: nox.Session, extras: str = "dev") -> None:
    """The one set-up every session shares: this project with the given extras."""
    session.install("-e", f".[{extras}]")


# Tests marked `once` check nothing that the Python running pytest changes (a process
# killed midway, a silent socket, a 4 GiB zip, each target interpreter run as a
# subprocess): they are shared out among the tests sessions of the Pythons found here,
# so that each runs once per nox run (tests/support/once.py). Where only one Python is
# found, its session runs them all.
def once_shard(python: str) -> str:
    found = [version for version in PYTHONS if find_python(version) is not None]
    if python not in found or len(found) < 2:
        return ""
    return f"{found.index(python)}/{len(found)}"


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Offline unit, moto and end-to-end tests (no network, no AWS), on every core."""
    install(session)
    shard = once_shard(str(session.python))
    if shard:
        session.log(f"tests marked `once`: share {shard} of them runs here")
    scratch = _scratch(session)
    session.run(
        "pytest",
        "-n",
        str(_workers()),
        "--dist",
        "worksteal",
        "-m",
        "not network",
        *([f"--once-shard={shard}"] if shard else []),
        *([f"--basetemp={scratch}"] if scratch else []),
        *session.posargs,
    )
    if scratch:  # kept when a test failed (pytest empties it at the next run's start)
        shutil.rmtree(scratch, ignore_errors=True)


def _workers() -> int:
    """One pytest worker more than the cores: a good part of the suite waits (on `inv`
    and installer processes, moto's answers, sockets that time out), and the extra worker
    keeps both cores busy meanwhile (one session: 128 s with 3 workers against 144 s with
    2 on this 2-core machine, the same load, 2026-12-06)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return cores + 1


def _scratch(session: nox.Session) -> Path | None:
    """pytest's temporary folders in memory (tmpfs) where the host has one: the suite makes
    and removes tens of thousands of files, which a VM's disk takes minutes over while
    other jobs run. One folder per checkout and session, so that no run empties another's."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        return None
    checkout = hashlib.sha256(str(Path(__file__).resolve().parent).encode()).hexdigest()[:12]
    return shm / f"layer-tasks-{checkout}-{session.name}"


@nox.session(python="3.12")
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python="3.12")
def typecheck(session: nox.Session) -> None:
    """mypy on the package, tasks.py and this noxfile."""
    install(session)
    session.run("mypy", *session.posargs)


@nox.session(python="3.12")
def size_budget(session: nox.Session) -> None:
    """Build the real requirements-all.txt layer from PyPI and fail above the size budget."""
    install(session)
    # A private state folder so CI never reuses a build from a developer's tree.
    env = {"INVOKE_LAYER_STATE_DIR": os.path.join(session.create_tmp(), "layer-state")}
    session.run("inv", "layer.build", env=env)
    session.run("inv", "layer.size-report", "--top", "10", env=env)
    session.run("inv", "layer.budget", env=env)


@nox.session(python="3.12", default=False)
def network(session: nox.Session) -> None:
    """Tests that install real packages from PyPI (marked `network`)."""
    install(session)
    session.run("pytest", "-m", "network", *session.posargs)


@nox.session(python="3.12", default=False)
def bench(session: nox.Session) -> None:
    """The pipeline benchmark: the seed's shell pipeline vs layer-tasks (bench/)."""
    install(session)
    session.run("python", "bench/pipeline_bench.py", *session.posargs)


@nox.session(python="3.12", default=False)
def audit(session: nox.Session) -> None:
    """pip-audit on the built layer's distributions (`inv layer.audit`; needs network)."""
    install(session, "dev,audit")
    env = {"INVOKE_LAYER_STATE_DIR": os.path.join(session.create_tmp(), "layer-state")}
    session.run("inv", "layer.audit", *session.posargs, env=env)
