"""uv never fetches an interpreter (issue 20, section 6): with no python of the target's
version on PATH, no virtualenv to find and no internet, `inv layer.lock` and a build
from the lock still work, since every uv call gets ``--python`` (the interpreter running
the tool) and ``UV_PYTHON_DOWNLOADS=never``."""

from __future__ import annotations

import os
from pathlib import Path

from support.cli import inv, make_project


def test_lock_and_build_with_no_interpreter_and_no_network(
    tmp_path: Path, wheelhouse: Path
) -> None:
    project = make_project(tmp_path / "p", wheelhouse, "alpha==1.0")
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PYTHON")}
    env.update(
        PATH=str(empty),
        HOME=str(tmp_path),
        # A download would go here, where nothing listens: it fails as offline.
        UV_PYTHON_INSTALL_MIRROR="http://127.0.0.1:9/python",
        INVOKE_LAYER_VERIFY="false",
        INVOKE_LAYER_BYTECODE="none",
    )
    lock = inv(project, "layer.lock", base=env)
    assert lock.returncode == 0, lock.stderr
    build = inv(project, "layer.build", base=env)
    assert build.returncode == 0, build.stderr
    assert "from pylock.test-layer-x86_64.toml" in build.stderr
