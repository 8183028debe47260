"""Errors keep their kind on the way up: context is added, the class and its fields stay.

A caller decides on the kind (retry an `Unavailable`, name the grant for an
`AccessDenied`), so a step that words its own message must not turn one into a plain
`LayerError`. Against a moto server, with faults injected into botocore's requests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.fakes import make_settings, write_layer
from support.faults import FaultInjector, no_backoff

from layer_tasks.aws.errors import AccessDenied, AwsError, NotFound, Unavailable
from layer_tasks.aws.session import Clients, make_clients
from layer_tasks.config.settings import LayerSettings
from layer_tasks.deploy import run as dep
from layer_tasks.deploy.model import TargetsFailed
from layer_tasks.errors import LayerError


def quiet(_line: str) -> None:
    pass


def test_context_keeps_the_class_and_every_field() -> None:
    error = Unavailable(
        "SlowDown: injected",
        operation="PutObject",
        resource="s3://b/k",
        code="SlowDown",
        status=503,
    )
    wrapped = error.with_context("upload to s3://b/k failed")

    assert type(wrapped) is Unavailable
    assert (wrapped.operation, wrapped.resource, wrapped.code, wrapped.status) == (
        "PutObject",
        "s3://b/k",
        "SlowDown",
        503,
    )
    assert str(wrapped) == f"upload to s3://b/k failed: {error}"
    assert str(error).startswith("PutObject failed after retries")  # the original is untouched
    reworded = NotFound("gone", operation="GetFunction").reworded("function  api\nnot found")
    assert type(reworded) is NotFound and str(reworded) == "function api not found"
    plain = LayerError("x").with_context("y")
    assert type(plain) is LayerError and plain.message == "y: x"


def _faulted(settings: LayerSettings, endpoint: str, injector: FaultInjector) -> Clients:
    clients = make_clients(settings, endpoint_url=endpoint)
    injector.attach(clients.s3, clients.uploads, clients.lambda_)
    return clients


@pytest.mark.parametrize(
    ("operation", "where", "context"),
    [
        ("PutObject", ".zip", "upload to s3://"),
        ("PutObject", "deploy.lock", "cannot take the deploy lock s3://"),
        ("PublishLayerVersion", "", "publishing layer demo-layer from s3://"),
    ],
)
def test_an_unavailable_step_is_still_unavailable_with_its_context(
    operation: str,
    where: str,
    context: str,
    tmp_path: Path,
    endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings(tmp_path)
    write_layer(settings)
    no_backoff(monkeypatch)
    injector = FaultInjector().add(
        operation, "http503", times=settings.max_attempts + 2, where=where
    )
    clients = _faulted(settings, endpoint, injector)

    with pytest.raises(AwsError) as failed:
        dep.deploy(settings, clients, build=False, log=quiet)

    assert type(failed.value) is Unavailable
    assert failed.value.operation == operation
    assert failed.value.status == 503
    assert failed.value.message.startswith(context), failed.value.message


def test_access_denied_on_the_upload_names_the_grant_and_stays_access_denied(
    tmp_path: Path, endpoint: str
) -> None:
    settings = make_settings(tmp_path)
    write_layer(settings)
    injector = FaultInjector().add("PutObject", "access-denied", where=".zip")
    clients = _faulted(settings, endpoint, injector)

    with pytest.raises(AccessDenied) as failed:
        dep.deploy(settings, clients, build=False, log=quiet)

    assert failed.value.operation == "PutObject"
    assert "grant s3:PutObject on arn:aws:s3:::demo-layer-bucket/layers/demo-layer/*" in str(
        failed.value
    )


def test_a_failed_target_of_several_is_held_whole_in_one_error(
    tmp_path: Path, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    regions = ["us-east-1", "eu-west-1"]
    settings = make_settings(tmp_path, regions=regions)
    write_layer(settings)
    no_backoff(monkeypatch)
    injector = FaultInjector().add("PublishLayerVersion", "http500", times=100, region="eu-west-1")
    made: list[str] = []

    def clients_for(region: str) -> Clients:
        made.append(region)
        return _faulted(settings.for_region(region), endpoint, injector)

    home: Callable[[], Clients] = lambda: _faulted(settings, endpoint, injector)  # noqa: E731

    with pytest.raises(TargetsFailed) as failed:
        dep.deploy(settings, home(), build=False, log=quiet, clients_for=clients_for)

    assert made == ["eu-west-1"]
    [(label, error)] = failed.value.failures
    assert label == "x86_64 in eu-west-1"
    # Retried once (it may pass), then kept as what it is.
    assert type(error) is Unavailable and error.operation == "PublishLayerVersion"
    assert "the deploy failed for 1 of 2 targets: x86_64 in eu-west-1: publishing layer" in str(
        failed.value
    )
    assert not settings.arn_file.exists()
