"""A read-only task gives up on a silent endpoint within 2 minutes with the default
settings (issue 20, section 6): it retries a timed-out request only as often as fits."""

from __future__ import annotations

from layer_tasks.aws.deadline import READ_ONLY_SECONDS, longest_backoff, silent_attempts
from layer_tasks.config.settings import DEFAULTS


def worst_case(attempts: int, connect: float, read: float) -> float:
    return attempts * (connect + read) + sum(longest_backoff(n, None) for n in range(1, attempts))


def test_the_defaults_end_within_two_minutes() -> None:
    connect, read = DEFAULTS["connect_timeout"], DEFAULTS["read_timeout"]
    attempts = silent_attempts(connect, read, DEFAULTS["max_attempts"], READ_ONLY_SECONDS)
    assert attempts == 3
    assert worst_case(attempts, connect, read) <= 120  # it was 5 x 30 s and more: 152 s


def test_short_timeouts_keep_every_attempt_and_long_ones_get_one() -> None:
    assert silent_attempts(1, 2, 5, READ_ONLY_SECONDS) == 5
    assert silent_attempts(5, 200, 5, READ_ONLY_SECONDS) == 1
    assert silent_attempts(5, 30, 1, READ_ONLY_SECONDS) == 1
