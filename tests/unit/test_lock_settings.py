"""The deploy lock's settings: defaults, environment strings, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError


def test_defaults_wait_five_minutes_and_call_a_lock_stale_after_thirty(tmp_path: Path) -> None:
    settings = LayerSettings.from_mapping({}, base_dir=tmp_path)
    assert settings.lock_wait_seconds == 300
    assert settings.lock_timeout_minutes == 30


def test_environment_strings_are_parsed(tmp_path: Path) -> None:
    settings = LayerSettings.from_mapping(
        {"lock_wait_seconds": "0", "lock_timeout_minutes": "90"}, base_dir=tmp_path
    )
    assert (settings.lock_wait_seconds, settings.lock_timeout_minutes) == (0, 90)


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("lock_wait_seconds", -1, "at least 0"),
        ("lock_wait_seconds", "soon", "whole number"),
        ("lock_timeout_minutes", 0, "at least 1"),
        ("lock_timeout_minutes", True, "whole number"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, key: str, value: object, says: str) -> None:
    with pytest.raises(LayerError, match=f"layer.{key}.*{says}"):
        LayerSettings.from_mapping({key: value}, base_dir=tmp_path)
