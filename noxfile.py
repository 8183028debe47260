"""Test matrix and checks. `nox` runs the default sessions; `nox -s NAME` one of them."""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["lint", "typecheck", "tests", "size_budget"]

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


def install(session: nox.Session, extras: str = "dev") -> None:
    """The one set-up every session shares: this project with the given extras."""
    session.install("-e", f".[{extras}]")


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Offline unit, moto and end-to-end tests (no network, no AWS)."""
    install(session)
    session.run("pytest", "-m", "not network", *session.posargs)


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
