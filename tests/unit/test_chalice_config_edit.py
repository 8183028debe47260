"""The Chalice config edit: only stage layers and automatic_layer change, atomically."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from layer_tasks.errors import LayerError
from layer_tasks.project import chalice_config
from layer_tasks.project.chalice_config import (
    all_referenced_arns,
    backup_path,
    read_stage_layers,
    set_stage_layers,
)

ARN1 = "arn:aws:lambda:ap-northeast-2:123456789012:layer:deps:1"
ARN2 = "arn:aws:lambda:ap-northeast-2:123456789012:layer:deps:2"
OTHER = "arn:aws:lambda:ap-northeast-2:999999999999:layer:datadog:40"

CONFIG = {
    "version": "2.0",
    "app_name": "shuking-api",
    "environment_variables": {"DB": "postgres://x", "Z_LAST": "1"},
    "stages": {
        "dev": {"api_gateway_stage": "api", "layers": [OTHER]},
        "prod": {"api_gateway_stage": "api", "layers": [ARN1], "lambda_memory_size": 512},
    },
    "automatic_layer": True,
    "tags": {"team": "ai"},
}


def write_config(tmp_path: Path, data: object = CONFIG, indent: int | str | None = 2) -> Path:
    path = tmp_path / ".chalice" / "config.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(data, indent=indent) + "\n", encoding="utf-8")
    return path


def expected_text(data: dict, indent: int | str | None) -> str:
    return json.dumps(data, indent=indent) + "\n"


@pytest.mark.parametrize("indent", [2, 4, "\t"])
def test_chalice_config_changes_only_layers_and_keeps_style(tmp_path: Path, indent) -> None:
    path = write_config(tmp_path, indent=indent)

    before, after = set_stage_layers(path, "prod", [ARN2], config_lock_dir=tmp_path / "state")

    assert (before, after) == ([ARN1], [ARN2])
    want = json.loads(json.dumps(CONFIG))
    want["stages"]["prod"]["layers"] = [ARN2]
    want["automatic_layer"] = False
    # Same key order, same indentation, final newline: byte-for-byte what dumps gives.
    assert path.read_text(encoding="utf-8") == expected_text(want, indent)


def test_chalice_config_other_stage_and_keys_untouched(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    set_stage_layers(path, "prod", [ARN2, OTHER])
    data = json.loads(path.read_text())
    assert data["stages"]["dev"] == CONFIG["stages"]["dev"]
    assert data["stages"]["prod"]["layers"] == [ARN2, OTHER]
    assert data["stages"]["prod"]["lambda_memory_size"] == 512
    assert list(data) == list(CONFIG)
    assert list(data["stages"]["prod"]) == ["api_gateway_stage", "layers", "lambda_memory_size"]


def test_chalice_config_adds_automatic_layer_false_when_absent(tmp_path: Path) -> None:
    data = {k: v for k, v in CONFIG.items() if k != "automatic_layer"}
    path = write_config(tmp_path, data)
    set_stage_layers(path, "prod", [ARN2])
    written = json.loads(path.read_text())
    assert written["automatic_layer"] is False
    assert list(written)[-1] == "automatic_layer"


def test_chalice_config_backup_holds_previous_bytes(tmp_path: Path) -> None:
    path = write_config(tmp_path, indent=4)
    original = path.read_bytes()
    os.chmod(path, 0o600)
    set_stage_layers(path, "prod", [ARN2])
    backup = backup_path(path)
    assert backup == path.with_name("config.json.bak")
    assert backup.read_bytes() == original
    # The backup may hold secrets (environment_variables): it keeps the config's mode.
    assert backup.stat().st_mode & 0o777 == 0o600
    assert path.stat().st_mode & 0o777 == 0o600


def test_chalice_config_no_change_writes_nothing(tmp_path: Path) -> None:
    data = json.loads(json.dumps(CONFIG))
    data["automatic_layer"] = False
    path = write_config(tmp_path, data)
    before_stat = path.stat()
    assert set_stage_layers(path, "prod", [ARN1]) == ([ARN1], [ARN1])
    assert not backup_path(path).exists()
    assert path.stat().st_ino == before_stat.st_ino


def test_chalice_config_failed_replace_leaves_old_file(tmp_path: Path, monkeypatch) -> None:
    path = write_config(tmp_path)
    original = path.read_bytes()
    real_replace = os.replace

    def fail_on_config(src, dst):
        if Path(dst).name == "config.json":
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", fail_on_config)
    with pytest.raises(LayerError, match=r"left unchanged"):
        set_stage_layers(path, "prod", [ARN2])
    assert path.read_bytes() == original
    # No temporary file left behind.
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(".config.json.")) == [
        ".config.json.lock"
    ]


def test_chalice_config_missing_stage_names_existing(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    original = path.read_bytes()
    with pytest.raises(LayerError, match=r"stage 'staging'.*stages: dev, prod.*--create-stage"):
        set_stage_layers(path, "staging", [ARN2])
    assert path.read_bytes() == original


def test_chalice_config_create_stage(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    before, after = set_stage_layers(path, "staging", [ARN2], create_stage=True)
    assert (before, after) == ([], [ARN2])
    data = json.loads(path.read_text())
    assert data["stages"]["staging"] == {"layers": [ARN2]}
    assert list(data["stages"]) == ["dev", "prod", "staging"]


@pytest.mark.parametrize(
    ("arns", "region", "message"),
    [
        ([ARN1.replace("deps:1", f"l{i}:1") for i in range(6)], None, "at most 5"),
        (["arn:aws:lambda:ap-northeast-2:123:layer:deps:1"], None, "not a Lambda layer"),
        (["arn:aws:lambda:ap-northeast-2:123456789012:layer:deps:0"], None, "not a Lambda"),
        (["arn:aws:s3:::bucket"], None, "not a Lambda layer"),
        ([ARN1], "us-east-1", "region ap-northeast-2.*configured region is us-east-1"),
        ([ARN1, ARN2], None, "listed twice"),
        ([], None, "no layer ARN"),
    ],
)
def test_chalice_config_rejects_bad_arns(tmp_path: Path, arns, region, message) -> None:
    path = write_config(tmp_path)
    original = path.read_bytes()
    with pytest.raises(LayerError, match=message):
        set_stage_layers(path, "prod", arns, region=region)
    assert path.read_bytes() == original
    assert not backup_path(path).exists()


def test_chalice_config_five_layers_and_matching_region_ok(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    five = [ARN1.replace("deps:1", f"l{i}:1") for i in range(5)]
    assert set_stage_layers(path, "prod", five, region="ap-northeast-2")[1] == five


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"stages": {"prod": {}},}', "not valid JSON.*line 1"),
        ('{"version": "2.0"}', 'no "stages" object'),
        ('{"stages": []}', 'no "stages" object'),
        ("[1, 2]", "JSON object at the top level"),
        ('{"stages": {"prod": {"layers": "x"}}}', "must be a list"),
        ('{"stages": {"prod": {}}, "stages": {}}', "duplicate key 'stages'"),
    ],
)
def test_chalice_config_bad_files_untouched(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(LayerError, match=message):
        set_stage_layers(path, "prod", [ARN2])
    assert path.read_text() == content


def test_chalice_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match=r"not found.*layer.chalice_config"):
        set_stage_layers(tmp_path / "nope.json", "prod", [ARN2])
    assert not (tmp_path / "nope.json").exists()


def test_chalice_config_read_only_file(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    original = path.read_bytes()
    os.chmod(path, 0o444)
    with pytest.raises(LayerError, match=r"read-only"):
        set_stage_layers(path, "prod", [ARN2])
    assert path.read_bytes() == original
    assert not backup_path(path).exists()


def test_chalice_config_symlink_edits_target(tmp_path: Path) -> None:
    real = write_config(tmp_path)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    set_stage_layers(link, "prod", [ARN2])
    assert link.is_symlink()
    assert json.loads(real.read_text())["stages"]["prod"]["layers"] == [ARN2]
    assert real.with_name("config.json.bak").exists()


def test_chalice_config_dangling_symlink(tmp_path: Path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "gone.json")
    with pytest.raises(LayerError, match=r"symlink to .*does not exist"):
        set_stage_layers(link, "prod", [ARN2])


def test_chalice_config_compact_crlf_and_unicode_kept(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes('{"app_name":"앱","stages":{"prod":{}}}'.encode())
    set_stage_layers(path, "prod", [ARN2])
    assert path.read_text(encoding="utf-8") == (
        f'{{"app_name":"앱","stages":{{"prod":{{"layers":["{ARN2}"]}}}},"automatic_layer":false}}\n'
    )
    crlf = tmp_path / "crlf.json"
    crlf.write_bytes(json.dumps({"stages": {"prod": {}}}, indent=2).replace("\n", "\r\n").encode())
    set_stage_layers(crlf, "prod", [ARN2])
    raw = crlf.read_bytes()
    assert raw.endswith(b"}\r\n") and b"\n" not in raw.replace(b"\r\n", b"")


def test_chalice_config_read_stage_and_references(tmp_path: Path) -> None:
    data = json.loads(json.dumps(CONFIG))
    fn_arn = ARN1.replace("deps:1", "deps:7")
    data["stages"]["prod"]["lambda_functions"] = {"worker": {"layers": [fn_arn]}}
    data["layers"] = [ARN2]
    path = write_config(tmp_path, data)
    assert read_stage_layers(path, "dev") == [OTHER]
    with pytest.raises(LayerError, match=r"stages: dev, prod"):
        read_stage_layers(path, "qa")
    assert all_referenced_arns(path) == {ARN1, ARN2, OTHER, fn_arn}


def test_chalice_config_concurrent_writers_serialise(tmp_path: Path, monkeypatch) -> None:
    """Two writers with different stages: both edits survive (no lost update)."""
    path = write_config(tmp_path)
    real_load = chalice_config._load
    inside = threading.Event()
    release = threading.Event()

    def slow_load(target):
        result = real_load(target)
        if threading.current_thread().name == "first":
            inside.set()
            release.wait(5)
        return result

    monkeypatch.setattr(chalice_config, "_load", slow_load)
    config_lock_dir = tmp_path / "state"
    first = threading.Thread(
        target=set_stage_layers,
        args=(path, "prod", [ARN2]),
        kwargs={"config_lock_dir": config_lock_dir},
        name="first",
    )
    first.start()
    assert inside.wait(5)
    second = threading.Thread(
        target=set_stage_layers,
        args=(path, "dev", [ARN1]),
        kwargs={"config_lock_dir": config_lock_dir},
    )
    second.start()
    second.join(0.3)
    assert second.is_alive()  # blocked on the lock while the first holds it
    release.set()
    first.join(5)
    second.join(5)
    data = json.loads(path.read_text())
    assert data["stages"]["prod"]["layers"] == [ARN2]
    assert data["stages"]["dev"]["layers"] == [ARN1]
