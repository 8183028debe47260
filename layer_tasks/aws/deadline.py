"""No silent hang: one deadline for all the AWS requests of a run.

botocore bounds each attempt (``connect_timeout`` + the client's read timeout) and the
number of attempts; an endpoint that accepts connections and never answers would still
hold a task for attempts x read timeout, and a run of many calls for longer. Here a
request or a retry is only started when it can end before the deadline (counted from
the run's first request), so the run ends by then with one line naming the endpoint
and the setting to change. The hooks are botocore events on each client: ``before-send``
(each attempt) and ``needs-retry`` (after each attempt, before the back-off sleep).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from botocore.client import BaseClient

from layer_tasks.errors import LayerError


def longest_backoff(attempts: int, response: Any) -> float:
    """The longest sleep botocore's standard mode may take before the next attempt:
    rand * min(scale * 2 ** (attempts - 1), 20 s) with scale at most 1 s, raised by up
    to 5 s when the answer carries x-amz-retry-after (retries.standard.ExponentialBackoff)."""
    longest = min(2.0 ** (attempts - 1), 20.0)
    if response is not None and "x-amz-retry-after" in response[0].headers:
        longest += 5.0
    return longest


# A read-only task (versions, code-size, diff, a dry run) gives up on a silent endpoint
# within this: with the defaults (5 + 30 s an attempt) that is 3 attempts, not 5.
READ_ONLY_SECONDS = 120.0


def silent_attempts(connect: float, read: float, max_attempts: int, budget: float) -> int:
    """How many attempts fit in ``budget`` when each one times out (``connect + read``)
    and botocore sleeps its longest back-off between them; at least one."""
    attempts = max_attempts
    while attempts > 1:
        backoff = sum(longest_backoff(n, None) for n in range(1, attempts))
        if attempts * (connect + read) + backoff <= budget:
            break
        attempts -= 1
    return attempts


# Cleaning up after a failure must still run once the deadline has passed.
ALWAYS_ALLOWED = frozenset({"AbortMultipartUpload"})


def _endpoint(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


class Deadline:
    def __init__(self, minutes: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = minutes * 60
        self.clock = clock
        self.started: float | None = None

    def remaining(self) -> float:
        if self.started is None:
            self.started = self.clock()
        return self.seconds - (self.clock() - self.started)

    def watch(
        self,
        client: BaseClient,
        *,
        connect: float,
        read: float,
        read_setting: str,
        max_attempts: int,
        read_only: bool = False,
    ) -> None:
        """Hold every request of ``client`` to the deadline; ``read_setting`` is the
        ``layer.*`` key its read timeout came from, for the error line. A ``read_only``
        task retries a silent endpoint only as often as fits in `READ_ONLY_SECONDS`."""
        from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
        from botocore.retries.standard import RetryEventAdapter, StandardRetryConditions

        attempt = connect + read
        adapter = RetryEventAdapter()
        retryable = StandardRetryConditions(max_attempts=max_attempts)
        minutes = f"layer.deadline_minutes ({self.seconds / 60:g} min)"
        limit = max_attempts
        if read_only:
            limit = silent_attempts(connect, read, max_attempts, READ_ONLY_SECONDS)
        cut = (
            f" (a read-only task gives up on a silent endpoint within {READ_ONLY_SECONDS:g} s)"
            if limit < max_attempts
            else ""
        )

        def before_send(request: Any, event_name: str = "", **_: Any) -> None:
            operation = event_name.rsplit(".", 1)[-1]
            if operation in ALWAYS_ALLOWED or self.remaining() >= attempt:
                return
            raise LayerError(
                f"{operation} to {_endpoint(request.url)} could not finish within {minutes} "
                f"of the run's first AWS request: check that the endpoint answers "
                f"(AWS_ENDPOINT_URL, the network), or raise layer.deadline_minutes"
            )

        def needs_retry(
            caught_exception: BaseException | None = None,
            attempts: int = 1,
            operation: Any = None,
            endpoint: Any = None,
            **kwargs: Any,
        ) -> None:
            name = getattr(operation, "name", "an AWS call")
            where = _endpoint(getattr(endpoint, "host", ""))
            silent = ""
            if isinstance(caught_exception, ConnectTimeoutError):
                silent = f"could not connect within layer.connect_timeout ({connect:g} s)"
                setting = "layer.connect_timeout"
            elif isinstance(caught_exception, ReadTimeoutError):
                silent = f"got no answer within layer.{read_setting} ({read:g} s)"
                setting = f"layer.{read_setting}"
            if silent and attempts >= limit:
                raise LayerError(
                    f"{name} to {where} {silent} in {attempts} attempt(s){cut}: check that the "
                    f"endpoint answers (AWS_ENDPOINT_URL, the network), or raise {setting}"
                )
            context = adapter.create_retry_context(
                caught_exception=caught_exception,
                attempts=attempts,
                operation=operation,
                **kwargs,
            )
            longest = attempt + longest_backoff(attempts, kwargs.get("response"))
            if self.remaining() < longest and retryable.is_retryable(context):
                raise LayerError(
                    f"{name} to {where} {silent or 'failed'} (attempt {attempts}), and a retry "
                    f"could not end within {minutes}: check that the endpoint answers "
                    "(AWS_ENDPOINT_URL, the network), or raise layer.deadline_minutes"
                )

        client.meta.events.register("before-send", before_send)
        client.meta.events.register("needs-retry", needs_retry)
