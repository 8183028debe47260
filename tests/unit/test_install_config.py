from __future__ import annotations

import os
from pathlib import Path

import pytest

from layer_tasks.build.install import IndexConfig, Target, install_command, pip_index_config


def test_pip_index_settings_become_uv_flags(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PIP_CONFIG_FILE", str(tmp_path / "none.conf"))
    monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.invalid/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "https://a.invalid/simple https://b.invalid/simple")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "wheels"))
    config = pip_index_config()
    assert config.index_url == "https://mirror.invalid/simple"
    assert config.extra_index_urls == ("https://a.invalid/simple", "https://b.invalid/simple")
    args = config.uv_args()
    assert args[args.index("--index-url") + 1] == "https://mirror.invalid/simple"
    assert args.count("--extra-index-url") == 2
    assert args[args.index("--find-links") + 1] == str(tmp_path / "wheels")
    # Several indexes: pip picks the best version across them; uv must be told to.
    assert args[-2:] == ["--index-strategy", "unsafe-best-match"]


def test_pip_conf_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://conf.invalid/simple\nno-index = true\n")
    for var in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    config = pip_index_config()
    assert config.index_url == "https://conf.invalid/simple" and config.no_index


def test_cache_follows_environment_and_file_changes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://one.invalid/simple\n")
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    cache = tmp_path / "cache"
    assert pip_index_config(cache_dir=cache).index_url == "https://one.invalid/simple"
    assert len(list(cache.iterdir())) == 1
    assert pip_index_config(cache_dir=cache).index_url == "https://one.invalid/simple"
    conf.write_text("[global]\nindex-url = https://two.invalid/simple/\n")
    assert pip_index_config(cache_dir=cache).index_url == "https://two.invalid/simple/"
    monkeypatch.setenv("PIP_INDEX_URL", "https://env.invalid/simple")
    assert pip_index_config(cache_dir=cache).index_url == "https://env.invalid/simple"


def test_pip_is_not_asked_when_nothing_configures_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import layer_tasks.build.install as install

    for var in [v for v in os.environ if v.startswith("PIP_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "xdg"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(install, "_SYSTEM_PIP_CONF", str(tmp_path / "etc-pip.conf"))
    asked: list[str] = []
    real_ask = install._ask_pip
    monkeypatch.setattr(
        install, "_ask_pip", lambda python: asked.append(python) or real_ask(python)
    )

    assert pip_index_config(cache_dir=tmp_path / "cache") == IndexConfig()
    assert asked == []
    # One file appears: now pip is asked, and what it says is used.
    (tmp_path / "etc-pip.conf").write_text("[global]\nindex-url = https://etc.invalid/simple\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(tmp_path / "etc-pip.conf"))
    assert pip_index_config(cache_dir=tmp_path / "cache").index_url == "https://etc.invalid/simple"
    assert len(asked) == 1


@pytest.mark.parametrize(
    ("python", "arch", "glibc", "uv_platform", "first_pip_tag"),
    [
        ("3.12", "x86_64", (2, 34), "x86_64-manylinux_2_34", "manylinux_2_34_x86_64"),
        ("3.13", "arm64", (2, 34), "aarch64-manylinux_2_34", "manylinux_2_34_aarch64"),
        ("3.11", "x86_64", (2, 26), "x86_64-manylinux_2_17", "manylinux_2_26_x86_64"),
        ("3.10", "arm64", (2, 26), "aarch64-manylinux_2_17", "manylinux_2_26_aarch64"),
    ],
)
def test_target_platform_flags(
    python: str, arch: str, glibc: tuple[int, int], uv_platform: str, first_pip_tag: str
) -> None:
    target = Target(python, arch, glibc)
    uv = install_command("uv", Path("r.txt"), Path("t"), target, IndexConfig())
    assert uv[uv.index("--python-platform") + 1] == uv_platform
    assert uv[uv.index("--python-version") + 1] == python
    assert uv[uv.index("--only-binary") + 1] == ":all:"
    pip = install_command("pip", Path("r.txt"), Path("t"), target, IndexConfig())
    platforms = [pip[i + 1] for i, a in enumerate(pip) if a == "--platform"]
    assert platforms[0] == first_pip_tag and f"manylinux2014_{target.cpu}" in platforms
    assert "--no-compile" in pip and f"cp{python.replace('.', '')}" in pip
