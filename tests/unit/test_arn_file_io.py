"""The ARN file: one validated line, written atomically; absence is None, garbage an error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from layer_tasks.errors import LayerError
from layer_tasks.project.arn_file import read_arn, write_arn

ARN = "arn:aws:lambda:us-east-1:123456789012:layer:deps:3"


def test_arn_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / ".layer-arn.txt"
    assert read_arn(path) is None
    write_arn(path, ARN)
    assert path.read_text() == ARN + "\n"
    assert read_arn(path) == ARN
    write_arn(path, ARN.replace(":3", ":4"))
    assert read_arn(path) == ARN.replace(":3", ":4")


def test_arn_file_reads_seed_style_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "arn.txt"
    path.write_text(ARN)
    assert read_arn(path) == ARN
    path.write_text("\n")
    assert read_arn(path) is None


@pytest.mark.parametrize("content", ["not-an-arn\n", f"{ARN}\n{ARN}\n"])
def test_arn_file_garbage_is_an_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "arn.txt"
    path.write_text(content)
    with pytest.raises(LayerError, match=str(path)):
        read_arn(path)


def test_arn_file_write_rejects_bad_arn_and_keeps_old(tmp_path: Path) -> None:
    path = tmp_path / "arn.txt"
    write_arn(path, ARN)
    with pytest.raises(LayerError, match=r"not a Lambda layer version ARN"):
        write_arn(path, "arn:aws:lambda:us-east-1:123456789012:layer:deps")
    assert path.read_text() == ARN + "\n"


def test_arn_file_failed_write_keeps_old(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "arn.txt"
    write_arn(path, ARN)

    def boom(src, dst):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(LayerError, match=r"cannot write the ARN file"):
        write_arn(path, ARN.replace(":3", ":9"))
    assert path.read_text() == ARN + "\n"
    assert [p.name for p in tmp_path.iterdir()] == ["arn.txt"]


def test_arn_file_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match=r"does not exist"):
        write_arn(tmp_path / "nope" / "arn.txt", ARN)


@pytest.mark.parametrize("ending", ["", "\n", "\r\n"])
def test_arn_file_one_line_ending_is_the_line_ending(tmp_path: Path, ending: str) -> None:
    path = tmp_path / "arn.txt"
    path.write_bytes(f"{ARN}{ending}".encode())
    assert read_arn(path) == ARN


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (f"{ARN} \n", f"the ARN in {{path}} '{ARN} ' has whitespace around it"),
        (f"\t{ARN}", f"the ARN in {{path}} '\\t{ARN}' has whitespace around it"),
        (f"{ARN}\n\n", "the ARN file {path} has 2 lines; it must hold one layer version ARN"),
        (f"{ARN}\r\n\r\n", "the ARN file {path} has 2 lines; it must hold one layer version ARN"),
        (f"{ARN}\r", "the ARN file {path} has 2 lines; it must hold one layer version ARN"),
        (" \n", "the ARN in {path} ' ' has whitespace around it"),
    ],
)
def test_arn_file_anything_beside_the_one_line_is_refused_not_trimmed(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "arn.txt"
    path.write_bytes(content.encode())
    with pytest.raises(LayerError) as caught:
        read_arn(path)
    assert caught.value.message.startswith(message.format(path=path)), caught.value.message
