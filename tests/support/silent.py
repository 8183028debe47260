"""A TCP endpoint on 127.0.0.1 that accepts connections and never answers.

What a hung proxy, a firewall that swallows packets after the handshake, or a stuck
server looks like to a client: the connection opens, the request is sent, nothing
comes back. The server stops itself after ``lifetime`` seconds whatever happens, so a
test that hangs cannot keep it (or its port) alive.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType


class SilentServer:
    def __init__(self, lifetime: float = 120.0) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.sock.settimeout(0.1)
        host, port = self.sock.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        self.accepted = 0
        self._stop = threading.Event()
        self._deadline = time.monotonic() + lifetime
        self._thread = threading.Thread(target=self._serve, name="silent-server", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        held: list[socket.socket] = []
        try:
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                try:
                    conn, _ = self.sock.accept()
                except TimeoutError:
                    continue
                held.append(conn)  # kept open, never read from, never answered
                self.accepted += 1
        finally:
            for conn in held:
                conn.close()
            self.sock.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
