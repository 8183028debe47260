"""The pip-configuration cache never holds a password, and is private anyway."""

from __future__ import annotations

import hashlib
import json
import stat
import sys
from pathlib import Path

import pytest

from layer_tasks.build import install
from layer_tasks.build.install import pip_index_config

URL = "https://user:CachePassw0rdCore@private.invalid/simple"


def configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, index_url: str) -> None:
    for var in ("PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", str(tmp_path / "none.conf"))
    monkeypatch.setenv("PIP_INDEX_URL", index_url)


def test_a_password_is_used_but_never_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configure(monkeypatch, tmp_path, URL)
    cache = tmp_path / "cache"
    # The installer needs the real URL...
    assert pip_index_config(cache_dir=cache).index_url == URL
    assert pip_index_config(cache_dir=cache).index_url == URL
    # ...and nothing under the cache holds it.
    for path in cache.rglob("*") if cache.exists() else []:
        assert b"CachePassw0rdCore" not in path.read_bytes(), path


def test_a_cache_written_with_a_password_by_an_older_version_is_removed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configure(monkeypatch, tmp_path, URL)
    cache = tmp_path / "cache"
    cache.mkdir()
    inputs, _ = install._pip_config_inputs(sys.executable)
    old = cache / f"pip-config-{hashlib.sha256(inputs.encode()).hexdigest()[:32]}.json"
    old.write_text(
        json.dumps({"index_url": URL, "extra_index_urls": [], "find_links": [], "no_index": False})
    )
    assert pip_index_config(cache_dir=cache).index_url == URL
    assert not old.exists()


def test_a_cache_without_secrets_is_private(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configure(monkeypatch, tmp_path, "https://mirror.invalid/simple")
    cache = tmp_path / "cache"
    assert pip_index_config(cache_dir=cache).index_url == "https://mirror.invalid/simple"
    (written,) = cache.iterdir()
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
