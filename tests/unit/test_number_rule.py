"""One rule for numbers (issue 20, section 5): every numeric setting and flag has a range,
written in the README, checked before any work; text is ASCII wherever it comes from."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from layer_tasks.build import archive
from layer_tasks.config.settings import DEFAULTS, RANGES, LayerSettings
from layer_tasks.config.validate import decimal_number, whole_flag, whole_number
from layer_tasks.deploy.cleanup import check_keep
from layer_tasks.deploy.rollback import parse_version
from layer_tasks.errors import LayerError
from layer_tasks.model.arns import MAX_VERSION
from layer_tasks.report import diff
from layer_tasks.report.compare import parse_side
from layer_tasks.tasks.env import INVOKE_DEFAULTS, check_environment

README = Path(__file__).resolve().parents[2] / "README.md"
# Text int() or float() would take, which the rule refuses: non-ASCII digits (Arabic-Indic,
# Devanagari, fullwidth), digit separators, and words for infinity or "not a number".
NOT_ASCII_NUMBERS = ["\u0662", "\u0968", "\uff12", "1_0", "inf", "-inf", "nan", "Infinity"]
# A value's deadline must leave room for one request at its slowest (settings check it
# across keys): those keys are tried with room around them.
ROOMY = {"deadline_minutes": 1440}


def load(**values: Any) -> LayerSettings:
    return LayerSettings.from_mapping({**ROOMY, **values})


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def test_every_numeric_setting_has_a_range() -> None:
    numeric = {key for key, value in DEFAULTS.items() if _is_number(value)}
    assert numeric == set(RANGES)


@pytest.mark.parametrize("key", sorted(RANGES))
def test_both_ends_of_a_range_pass_and_past_them_is_refused(key: str) -> None:
    low, high = RANGES[key]
    is_float = LayerSettings.__dataclass_fields__[key].type == "float"
    timeout = key.endswith("timeout") or key == "deadline_minutes"
    if not timeout:  # a timeout's 0 is excluded: "above 0"
        assert getattr(load(**{key: low}), key) == low
    assert getattr(load(**{key: high}), key) == high
    assert getattr(load(**{key: str(high)}), key) == high  # as text, from the environment
    step = 0.5 if is_float else 1
    past_values: list[object] = [high + step, 10**20, str(10**20), "9" * 5000, 10**400]
    if is_float:
        past_values += [1.0e300, "1" + "0" * 400, high + 0.001]
    for past in past_values:
        message = f"must be at most {high}"
        if key.endswith("_mb") and decimal_number(past) == float("inf"):
            message = "must be a finite number of MiB, zero or more"  # catalogued before
        with pytest.raises(LayerError, match=rf"^layer\.{key} {message}, got ") as info:
            load(**{key: past})
        assert len(str(info.value)) < 200  # a 5,000-digit value is cut short
    below = low - step if not timeout else 0
    with pytest.raises(LayerError, match=rf"^layer\.{key} must be "):
        load(**{key: below})


@pytest.mark.parametrize("text", NOT_ASCII_NUMBERS)
@pytest.mark.parametrize("key", sorted(RANGES))
def test_only_ascii_text_is_a_number(key: str, text: str) -> None:
    with pytest.raises(LayerError, match=rf"^layer\.{key} must be ") as info:
        load(**{key: text})
    assert repr(text) in str(info.value)


def test_the_rule_itself() -> None:
    assert [whole_number(v) for v in (7, -3, "7", "007")] == [7, -3, 7, 7]
    refused = (True, 7.0, "7.0", "", "1e3", None, "\u0667", " 7", "+7", "7\n", "7 ", "-0", "-3")
    assert [whole_number(v) for v in refused] == [None] * len(refused)
    assert whole_number("9" * 5000) == 10**30  # no ValueError past int()'s 4,300 digits
    assert [decimal_number(v) for v in (2, "2.5", ".5", "2.", 1e2, 10**400)] == [
        2.0, 2.5, 0.5, 2.0, 100.0, float("inf"),
    ]  # fmt: skip
    refused_decimals = (
        *(False, "inf", "nan", "1_0", "\u0662", [], " 2.5", "+2.5", "2.5\n", "-0", "1e2"),
    )
    assert [decimal_number(v) for v in refused_decimals] == [None] * len(refused_decimals)


def test_the_readme_gives_every_range() -> None:
    rows = [line for line in README.read_text(encoding="utf-8").splitlines() if line[:3] == "| `"]
    for key, (low, high) in RANGES.items():
        row = next(r for r in rows if f"`{key}`" in r.split(" | ")[0])
        assert f"{low}–{high}" in row, (key, row)


def test_a_variable_invoke_casts_itself_is_checked_as_typed() -> None:
    """With ``read_timeout: 30`` in invoke.yaml, Invoke casts INVOKE_LAYER_READ_TIMEOUT
    with float(), which takes '\u0662' as 2: the string is checked before that."""
    layer = {**INVOKE_DEFAULTS, "read_timeout": 30, "workers": 2}
    check_environment({"INVOKE_LAYER_READ_TIMEOUT": "2.5", "INVOKE_LAYER_WORKERS": "3"}, layer)
    for var, text, message in [
        ("INVOKE_LAYER_READ_TIMEOUT", "\u0662", "must be a number of seconds"),
        ("INVOKE_LAYER_WORKERS", "1_0", "must be a whole number"),
        ("INVOKE_LAYER_WORKERS", "257", "must be at most 256"),
    ]:
        with pytest.raises(LayerError, match=rf"{message}, got .* \(set by {var}\)$"):
            check_environment({var: text}, layer)


@pytest.mark.parametrize("text", ["\u0662", "1_0", "2.0", "inf", "x"])
def test_flags_take_the_same_rule(text: str) -> None:
    with pytest.raises(LayerError, match=r"^--top must be a whole number"):
        whole_flag("--top", text, 0, 10_000)
    with pytest.raises(LayerError, match=r"^--version must be a positive whole number"):
        parse_version(text)
    with pytest.raises(LayerError, match=r"^--keep must be a whole number"):
        check_keep(text)
    with (
        pytest.MonkeyPatch.context() as patch,
        pytest.raises(LayerError, match=r"^SOURCE_DATE_EPOCH must be a whole number"),
    ):
        patch.setenv("SOURCE_DATE_EPOCH", text)
        archive._epoch(None)


def test_version_flags_end_at_lambdas_largest_version(tmp_path: Path) -> None:
    assert parse_version(str(MAX_VERSION)) == MAX_VERSION
    assert check_keep(str(MAX_VERSION)) == MAX_VERSION
    assert parse_side(str(MAX_VERSION), base_dir=tmp_path).version == MAX_VERSION
    past = str(MAX_VERSION + 1)
    for check in (parse_version, check_keep, lambda v: parse_side(v, base_dir=tmp_path)):
        with pytest.raises(LayerError, match=re.escape(past)):
            check(past)
    assert whole_flag("--top", None, 0, 10) is None
    with pytest.raises(LayerError, match=r"^--top must be a whole number, got ''$"):
        whole_flag("--top", "", 0, 10)  # given empty: no number, not "not given"


def test_a_manifest_from_s3_with_infinity_counts_zero_not_a_traceback() -> None:
    # json.loads reads Infinity and NaN; int() of them raised OverflowError/ValueError.
    assert [diff._int(v) for v in (float("inf"), float("nan"), "\u0662", None, 12)] == [
        0, 0, 0, 0, 12,
    ]  # fmt: skip


def test_source_date_epoch_is_the_zips_time_for_the_sbom_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """M4: 99999999999999 ended in a traceback from the SBOM (year 3170843) after the zip
    was written: the zip clamps it to DOS time, and the SBOM takes the same time."""
    from layer_tasks.build import sbom

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "99999999999999")
    assert archive.build_epoch() == archive._DOS_MAX_EPOCH
    assert sbom._timestamp().year == 2107
    monkeypatch.setenv("SOURCE_DATE_EPOCH", " 315532800")  # refused, not trimmed
    with pytest.raises(LayerError, match=r"^SOURCE_DATE_EPOCH must be a whole number"):
        archive.build_epoch()
