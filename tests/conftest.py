"""Shared fixtures: an offline wheelhouse and a throwaway project that uses it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws
from support import collection, fakes, once
from support.cli import build_small_project, make_split_project
from support.fakes import moto_clients
from support.faults import MotoServer
from support.wheels import build_wheelhouse

from layer_tasks.aws.session import Clients
from layer_tasks.config.settings import LayerSettings


def pytest_addoption(parser: pytest.Parser) -> None:
    once.add_option(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Before any deselection: the bad-input catalogue check reads the whole collection.
    collection.record(config, items)
    once.deselect(config, items)


@pytest.fixture(scope="session", autouse=True)
def _isolated_tools(tmp_path_factory: pytest.TempPathFactory) -> None:
    # A uv cache of the test session's own: tests never touch the user's cache, and
    # no test depends on what an earlier run left in it.
    os.environ["UV_CACHE_DIR"] = str(tmp_path_factory.mktemp("uv-cache"))
    # Fake credentials, so that nothing can ever reach a real AWS account.
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(var, None)
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull


@pytest.fixture(scope="session", autouse=True)
def _botocore_data_parsed_once() -> Iterator[None]:
    """botocore parses its data files (service models, endpoint rules: megabytes of JSON)
    again for every new session, and the code under test makes a session per command. In
    this process the sessions share one loader per data path, so each file is parsed once,
    as it is within one session; the data is the same, read from the same files."""
    import botocore.session

    real = botocore.session.create_loader
    loaders: dict[str | None, Any] = {}

    def shared(search_path_string: str | None = None) -> Any:
        if search_path_string not in loaders:
            loaders[search_path_string] = real(search_path_string)
        return loaders[search_path_string]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", shared)
        yield


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheelhouse(tmp_path_factory.mktemp("wheelhouse"))


@pytest.fixture(scope="session")
def small_project(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    """A project (alpha==1.0) built once per session (per xdist worker): read it, or copy
    it (`support.cli.copy_project`) to change anything; a copy reuses the build."""
    return build_small_project(tmp_path_factory, wheelhouse)


@pytest.fixture
def project(tmp_path: Path, wheelhouse: Path) -> Path:
    """A project folder: invoke.yaml, tasks.py, requirements on the wheelhouse, Chalice config."""
    return make_split_project(tmp_path / "project", wheelhouse, "alpha==1.0", "epsilon==1.0")


@pytest.fixture
def clients() -> Iterator[Clients]:
    """In-process moto (`mock_aws`) clients; S3 over an http URL (see fakes.moto_clients)."""
    with mock_aws():
        yield moto_clients(plain_http=True)


@pytest.fixture
def lam(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A Lambda client on in-process moto (`mock_aws`), in the test module's ``REGION``
    (us-east-1 where it has none); no endpoint or profile of the host's leaks in."""
    region = getattr(request.module, "REGION", fakes.REGION)
    with fakes.mocked_lambda(monkeypatch, region) as client:
        yield client


@pytest.fixture(scope="session")
def server() -> Iterator[MotoServer]:
    """The one moto server on 127.0.0.1 for the whole session; tests reset it first."""
    srv = MotoServer()
    yield srv
    srv.stop()


@pytest.fixture
def endpoint(server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """The session's moto server, emptied, and no endpoint of the environment's in the way
    (a module that needs more extends it: an ``endpoint`` fixture that takes this one)."""
    server.reset()
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_LAMBDA"):
        monkeypatch.delenv(var, raising=False)
    return server.url


@pytest.fixture
def settings(project: Path) -> LayerSettings:
    """Settings for `project`, as the tasks would load them from its invoke.yaml."""
    import yaml

    raw = yaml.safe_load((project / "invoke.yaml").read_text())["layer"]
    return LayerSettings.from_mapping(raw, base_dir=project)
