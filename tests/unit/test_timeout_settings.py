"""The no-hang settings: defaults, what is accepted, and one line for what is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError


def load(tmp_path: Path, **raw: object) -> LayerSettings:
    return LayerSettings.from_mapping(raw, base_dir=tmp_path)


def test_defaults_bound_a_silent_endpoint_and_index(tmp_path: Path) -> None:
    s = load(tmp_path)
    assert (s.connect_timeout, s.read_timeout, s.upload_read_timeout) == (5, 30, 120)
    assert (s.deadline_minutes, s.index_timeout, s.index_retries) == (15, 15, 2)


def test_values_from_the_environment_are_parsed(tmp_path: Path) -> None:
    # INVOKE_LAYER_* values arrive as strings.
    s = load(tmp_path, read_timeout="2.5", deadline_minutes="2.5", index_retries="0")
    assert (s.read_timeout, s.deadline_minutes, s.index_retries) == (2.5, 2.5, 0)


@pytest.mark.parametrize(
    "key", ["connect_timeout", "read_timeout", "upload_read_timeout", "index_timeout"]
)
@pytest.mark.parametrize("value", ["0", -1, "soon", "inf", "nan", True, [5]])
def test_a_timeout_must_be_a_positive_number_of_seconds(
    tmp_path: Path, key: str, value: object
) -> None:
    with pytest.raises(LayerError, match=rf"^layer\.{key} must be a number of seconds"):
        load(tmp_path, **{key: value})


def test_the_deadline_must_leave_room_for_one_request(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match=r"layer\.deadline_minutes \(1 min\) is shorter .* 125 s"):
        load(tmp_path, deadline_minutes=1)
    assert load(tmp_path, deadline_minutes=1, upload_read_timeout=50).deadline_minutes == 1


def test_index_retries_is_a_whole_number(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match=r"layer\.index_retries must be at least 0"):
        load(tmp_path, index_retries=-1)
    with pytest.raises(LayerError, match=r"layer\.index_retries must be a whole number"):
        load(tmp_path, index_retries="two")
