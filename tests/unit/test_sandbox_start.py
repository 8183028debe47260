"""A sandbox server that was started but not recorded never outlives the command: no
state file would let `inv local.down` find it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from layer_tasks.errors import LayerError
from layer_tasks.local import sandbox


class FakeServer:
    started: ClassVar[list[FakeServer]] = []

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        self.pid, self.killed, self.reaped = 424242, False, False
        FakeServer.started.append(self)

    def poll(self) -> int | None:
        return -9 if self.killed else None

    def kill(self) -> None:
        self.killed = True

    def wait(self, timeout: float | None = None) -> int:
        self.reaped = True
        return -9


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit, LayerError])
def test_ctrl_c_or_a_failure_while_it_starts_stops_the_server(
    stop: type[BaseException], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    FakeServer.started.clear()
    monkeypatch.setattr(sandbox.subprocess, "Popen", FakeServer)

    def answers(*_args: Any, **_kwargs: Any) -> bool:
        raise stop("stopped while waiting")

    monkeypatch.setattr(sandbox, "_answers", answers)
    with pytest.raises(stop):
        sandbox.up(tmp_path)
    (server,) = FakeServer.started
    assert server.killed and server.reaped
    assert sandbox.status(tmp_path) is None
    assert not sandbox._state_file(tmp_path).exists()
