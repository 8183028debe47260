"""Fault injection for the reliability tests: botocore event hooks, registered by the test.

`FaultInjector` answers the first N requests of chosen operations itself, from the
client's ``before-send`` event, with an HTTP error response (throttling, 500, 503) or a
dropped connection, so the request never reaches the server; botocore then handles it
exactly as it would a real answer (parse, retry with its retry mode, or raise). Nothing
in the project is mocked: the hooks sit on the botocore clients (or, for code that makes
its own clients, on every new botocore session through ``BUILTIN_HANDLERS``).
"""

from __future__ import annotations

import functools
import io
import json
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError
from moto.server import ThreadedMotoServer

# kind -> (HTTP status, S3 error code, Lambda error code); None status: dropped connection.
KINDS: dict[str, tuple[int | None, str, str]] = {
    "throttle": (503, "SlowDown", "TooManyRequestsException"),  # per service, as AWS sends
    "throttling": (400, "Throttling", "ThrottlingException"),
    "http500": (500, "InternalError", "ServiceException"),
    "http503": (503, "ServiceUnavailable", "ServiceUnavailableException"),
    "dropped": (None, "", ""),
}
LAMBDA_THROTTLE_STATUS = 429


class _Raw(io.BytesIO):
    """What AWSResponse reads its body from."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        data = self.read()
        while data:
            yield data
            data = self.read()


def aws_error(
    url: str, service: str, status: int, s3_code: str, lambda_code: str, message: str
) -> AWSResponse:
    """An error answer as S3 (an XML body) or Lambda (JSON, the code in a header) sends it."""
    if service == "s3":
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{s3_code}</Code>"
            f"<Message>{message}</Message><RequestId>fault</RequestId></Error>"
        ).encode()
        headers = {"Content-Type": "application/xml"}
    else:
        body = json.dumps({"Type": "User", "message": message}).encode()
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": lambda_code}
    headers["Content-Length"] = str(len(body))
    return AWSResponse(url, status, headers, _Raw(body))


def error_response(url: str, service: str, kind: str) -> AWSResponse:
    status, s3_code, lambda_code = KINDS[kind]
    assert status is not None
    if service != "s3" and kind == "throttle":
        status = LAMBDA_THROTTLE_STATUS
    return aws_error(url, service, status, s3_code, lambda_code, f"injected {kind}")


@dataclass
class Fault:
    operation: str  # e.g. "PutObject", "PublishLayerVersion"
    kind: str  # a key of KINDS, or "access-denied" / "expired-token"
    times: int = 1
    where: str = ""  # only requests whose URL contains this (e.g. ".zip": not the lock)
    region: str = ""  # only requests signed for this region (one endpoint serves them all)


@dataclass
class FaultInjector:
    """Answers the first ``times`` requests of each planned operation with a fault."""

    faults: list[Fault] = field(default_factory=list)
    injected: Counter[tuple[str, str]] = field(default_factory=Counter)
    seen: Counter[str] = field(default_factory=Counter)

    def add(
        self, operation: str, kind: str, times: int = 1, where: str = "", region: str = ""
    ) -> FaultInjector:
        self.faults.append(Fault(operation, kind, times, where, region))
        return self

    def attach(self, *clients: Any) -> FaultInjector:
        for client in clients:
            # First: moto's in-process stub (if any) must not answer before us.
            client.meta.events.register_first("before-send", self.before_send)
        return self

    def before_send(self, request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
        _, service, operation = event_name.split(".", 2)
        self.seen[operation] += 1
        for fault in self.faults:
            if (
                fault.operation != operation
                or fault.where not in request.url
                or (fault.region and signed_region(request) != fault.region)
                or self.injected[(operation, fault.kind)] >= fault.times
            ):
                continue
            self.injected[(operation, fault.kind)] += 1
            if fault.kind == "dropped":
                raise ConnectionClosedError(endpoint_url=request.url)
            if fault.kind == "lost-response":
                # The server does the work; its answer never arrives.
                from botocore.httpsession import URLLib3Session

                URLLib3Session().send(request)
                raise ConnectionClosedError(endpoint_url=request.url)
            if fault.kind == "access-denied":
                return denied_response(request.url, service)
            if fault.kind == "expired-token":
                return expired_response(request.url, service)
            return error_response(request.url, service, fault.kind)
        return None

    def count(self, operation: str) -> int:
        return sum(n for (op, _), n in self.injected.items() if op == operation)


def signed_region(request: Any) -> str:
    """The region in a SigV4 request's credential scope (key/date/REGION/service/...)."""
    auth = request.headers.get("Authorization", b"")
    auth = auth.decode() if isinstance(auth, bytes) else str(auth)
    _, _, scope = auth.partition("Credential=")
    parts = scope.split("/")
    return parts[2] if len(parts) > 2 else ""


def denied_response(url: str, service: str) -> AWSResponse:
    return aws_error(url, service, 403, "AccessDenied", "AccessDeniedException", "Access Denied")


def expired_response(url: str, service: str) -> AWSResponse:
    # S3 answers an expired session token with 400 ExpiredToken (to a HEAD: no body).
    return aws_error(
        url, service, 400, "ExpiredToken", "ExpiredTokenException", "The token has expired."
    )


def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore still decides to retry (and counts the attempts); it just does not sleep.
    Returns the delays botocore asked for."""
    from botocore.retries import standard

    asked: list[float] = []
    real = standard.ExponentialBackoff.delay_amount

    def delay(self: Any, context: Any) -> float:
        asked.append(real(self, context))
        return 0.0

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", delay)
    return asked


def inject_everywhere(monkeypatch: pytest.MonkeyPatch, injector: FaultInjector) -> None:
    """Attach ``injector`` to every botocore client created from now on in this process
    (for code paths that make their own clients, e.g. a task run in-process)."""
    from botocore import handlers

    monkeypatch.setattr(
        handlers,
        "BUILTIN_HANDLERS",
        [*handlers.BUILTIN_HANDLERS, ("before-send", injector.before_send)],
    )


# --- a moto server on 127.0.0.1 -----------------------------------------------------------


class MotoServer:
    def __init__(self) -> None:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"

    def reset(self) -> None:
        # moto's backends are global to the process: each test starts from an empty state.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        opener.open(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")).close()

    def stop(self) -> None:
        self.server.stop()


@functools.cache
def client(endpoint: str, service: str, region: str = "us-east-1") -> Any:
    """A plain client on the server (no faults) to read the state back; cached, because
    making a client costs more than most of the calls the tests make."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
