"""Index URLs reach uv through its environment, never its command line (visible in ps)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.silent import SilentServer

from layer_tasks.build.install import IndexConfig, IndexLimits, Target, install_command, run_install
from layer_tasks.errors import LayerError

TARGET = Target("3.12", "x86_64", (2, 34))


def test_no_index_url_on_the_command_line() -> None:
    index = IndexConfig(
        index_url="https://u:MainPassw0rd@a.invalid/simple",
        extra_index_urls=("https://u:ExtraPassw0rd@b.invalid/simple",),
    )
    argv = " ".join(install_command("uv", Path("r.txt"), Path("t"), index=index, target=TARGET))
    assert "Passw0rd" not in argv and "invalid" not in argv
    assert "--index-strategy unsafe-best-match" in argv  # flags without URLs stay
    assert index.uv_env() == {
        "UV_INDEX_URL": "https://u:MainPassw0rd@a.invalid/simple",
        "UV_EXTRA_INDEX_URL": "https://u:ExtraPassw0rd@b.invalid/simple",
    }


def test_uv_uses_the_index_given_in_its_environment(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("alpha==1.0\n", encoding="utf-8")
    with SilentServer(lifetime=60) as silent:
        index = IndexConfig(index_url=silent.url.replace("//", "//user:EnvPassw0rd@") + "/simple")
        with pytest.raises(LayerError) as failure:
            run_install("uv", requirements, tmp_path / "t", TARGET, index, limits=IndexLimits(1, 0))
        accepted = silent.accepted
    assert accepted >= 1  # uv asked the index it was given, so it read the variable
    assert f"{silent.url}/simple/alpha/ did not answer" in str(failure.value)
    assert "EnvPassw0rd" not in str(failure.value)
