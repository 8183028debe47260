"""invoke.yaml's numbers as they are written: a form YAML 1.1 reads as another number is
refused, wherever YAML puts it under ``layer:`` (plain, tagged, or merged in)."""

from __future__ import annotations

from pathlib import Path

import pytest

from layer_tasks.config.settings import RANGES
from layer_tasks.errors import LayerError
from layer_tasks.tasks.yaml_numbers import check_number_forms


@pytest.mark.parametrize(
    ("text", "key", "written", "read"),
    [
        ("layer:\n  workers: 1_0\n", "workers", "1_0", "10"),
        ("layer:\n  lifecycle_days: 0x10\n", "lifecycle_days", "0x10", "16"),
        ("layer:\n  compression_level: 0b101\n", "compression_level", "0b101", "5"),
        ("layer:\n  compression_level: 010\n", "compression_level", "010", "8"),
        ("layer:\n  deadline_minutes: 1:30\n", "deadline_minutes", "1:30", "90"),
        ("layer:\n  workers: -0\n", "workers", "-0", "0"),
        ("layer:\n  connect_timeout: 1.0e+2\n", "connect_timeout", "1.0e+2", "100.0"),
        # An explicit tag makes a quoted text a number: the same rule.
        ('layer:\n  workers: !!int "010"\n', "workers", "010", "8"),
        ('layer:\n  read_timeout: !!float "1_0"\n', "read_timeout", "1_0", "10.0"),
        # A merge key copies another mapping's values into layer: (Invoke sees them).
        (
            "x-d: &d\n  compression_level: 010\nlayer:\n  <<: *d\n",
            "compression_level",
            "010",
            "8",
        ),
        (
            "a: &a\n  workers: 0x2\nb: &b\n  verify: true\nlayer:\n  <<: [*b, *a]\n",
            "workers",
            "0x2",
            "2",
        ),
        # What Invoke uses, however YAML gets there: the last of two layer: keys ...
        ("layer:\n  workers: 2\nlayer:\n  budget_mb: 0x10\n", "budget_mb", "0x10", "16"),
        # ... a layer: that a top-level merge key brings in ...
        ("base: &b\n  layer:\n    budget_mb: 0x10\n<<: *b\n", "budget_mb", "0x10", "16"),
        # ... and a chain of merges of any depth.
        (
            "m0: &m0 {budget_mb: 0x10}\n"
            + "".join(f"m{i}: &m{i} {{<<: *m{i - 1}}}\n" for i in range(1, 23))
            + "layer: {<<: *m22, name: x}\n",
            "budget_mb",
            "0x10",
            "16",
        ),
    ],
)
def test_a_number_yaml_reads_otherwise_is_named(
    tmp_path: Path, text: str, key: str, written: str, read: str
) -> None:
    path = tmp_path / "invoke.yaml"
    path.write_text(text)
    with pytest.raises(LayerError) as info:
        check_number_forms(path, RANGES)
    assert str(info.value) == (
        f"layer.{key} is written {written} in {path}, which YAML reads as {read}: "
        "write the number in plain digits"
    )


def test_plain_numbers_strings_and_other_keys_pass(tmp_path: Path) -> None:
    path = tmp_path / "invoke.yaml"
    path.write_text(
        "layer:\n  workers: 2\n  budget_mb: 200.5\n  reserve_mb: -5\n  read_timeout: .5\n"
        "  connect_timeout: !!float 5\n"
        "  lifecycle_days: '0x10'\n  budget_mb_note: 0x10\n  name: 010\n"
        "other:\n  workers: 0x10\n"
    )
    check_number_forms(path, RANGES)  # quoted text is the settings' to refuse
