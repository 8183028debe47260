"""uv never downloads an interpreter (issue 20, section 6): every uv command names the
interpreter running the tool, and runs with ``UV_PYTHON_DOWNLOADS=never``; the offline
build itself is `tests/e2e/test_uv_no_interpreter_download.py`."""

from __future__ import annotations

from pathlib import Path

from layer_tasks.build.install import (
    UV_ENV,
    IndexConfig,
    IndexLimits,
    Target,
    _clean_env,
    install_command,
)
from layer_tasks.build.pylock import compile_command

TARGET = Target("3.12", "x86_64", (2, 34))


def test_every_uv_command_names_its_interpreter() -> None:
    for command in (
        install_command("uv", Path("r.txt"), Path("t"), TARGET, IndexConfig()),
        compile_command(Path("r.txt"), Path("o.toml"), TARGET, IndexConfig()),
    ):
        assert "--python" in command


def test_uv_runs_with_downloads_off() -> None:
    assert UV_ENV["UV_PYTHON_DOWNLOADS"] == "never"
    assert _clean_env("uv", IndexLimits())["UV_PYTHON_DOWNLOADS"] == "never"
