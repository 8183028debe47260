"""The local sandbox: a moto server on 127.0.0.1 that outlives one command.

``inv local.up`` (or any ``--local`` task) starts ``python -m moto.server`` as its own
process and keeps its pid and port in ``<state_dir>/sandbox/server.json``, so
``inv layer.deploy --local`` and a later ``inv layer.versions --local`` see the same
state. In local mode the ARN file and the Chalice config are copies inside that folder:
a demo never writes a fake ARN into the real ``.chalice/config.json``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError
from layer_tasks.util.fsutil import atomic_write_text, ensure_folder

HOST = "127.0.0.1"
# Throwaway credentials for the sandbox run only; moto accepts any.
CREDENTIALS = ("sandbox-access-key", "sandbox-secret-key")
DEFAULT_BUCKET = "layer-tasks-local"
DEFAULT_REGION = "us-east-1"
START_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Sandbox:
    pid: int
    port: int
    host: str = HOST

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"


def sandbox_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "sandbox"


def _state_file(state_dir: Path) -> Path:
    return sandbox_dir(state_dir) / "server.json"


def check_local_endpoint(url: str) -> str:
    """`--local` only ever talks to 127.0.0.1: refuse anything else."""
    host = urlparse(url).hostname
    if host != HOST:
        raise LayerError(
            f"--local refuses endpoint {url!r}: the sandbox must be on {HOST}; "
            "run `inv local.down` and `inv local.up`"
        )
    return url


def _read_state(state_dir: Path) -> Sandbox | None:
    try:
        data = json.loads(_state_file(state_dir).read_text(encoding="utf-8"))
        return Sandbox(pid=int(data["pid"]), port=int(data["port"]), host=str(data["host"]))
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def _answers(sandbox: Sandbox, timeout: float = 1.0) -> bool:
    """True when a moto server answers on the sandbox's port."""
    # No proxies: an HTTP(S)_PROXY in the environment must not swallow 127.0.0.1.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        # /moto-api/config is tiny; data.json would dump every stored object (a 40 MB
        # layer included) on each check.
        with opener.open(f"{sandbox.endpoint}/moto-api/config", timeout=timeout) as resp:
            return bool(200 <= resp.status < 300)
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_moto(pid: int) -> bool:
    """Best effort: on Linux, only signal a pid whose command line is moto's server."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.parent.exists():
        return True
    try:
        return b"moto" in cmdline.read_bytes()
    except OSError:
        return False


def status(state_dir: Path) -> Sandbox | None:
    """The running sandbox, or None (a stale state file is ignored)."""
    sandbox = _read_state(state_dir)
    if sandbox is None or not _alive(sandbox.pid) or not _answers(sandbox):
        return None
    return sandbox


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _lock(state_dir: Path) -> Iterator[None]:
    """Two `--local` commands started at once must not start two servers."""
    folder = ensure_folder(sandbox_dir(state_dir), "layer.state_dir")
    with open(folder / "lock", "w") as fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not on POSIX
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def up(state_dir: Path) -> tuple[Sandbox, bool]:
    """Start the sandbox unless it runs; returns (sandbox, started_now)."""
    with _lock(state_dir):
        running = status(state_dir)
        if running is not None:
            return running, False
        try:
            import moto.server  # noqa: F401
        except ImportError:
            raise LayerError(
                "the local sandbox needs moto's server: pip install 'layer-tasks[local]'"
            ) from None
        folder = sandbox_dir(state_dir)
        port = _free_port()
        log = open(folder / "server.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                # Its own session: Ctrl-C on this command does not stop the sandbox.
                start_new_session=True,
            )
        finally:
            log.close()
        sandbox = Sandbox(pid=proc.pid, port=port)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _answers(sandbox, timeout=0.5):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise LayerError(
                        f"the local moto server did not start on {sandbox.endpoint}; "
                        f"see {folder / 'server.log'}"
                    )
                time.sleep(0.1)
            atomic_write_text(
                _state_file(state_dir),
                json.dumps({"pid": sandbox.pid, "port": sandbox.port, "host": sandbox.host}) + "\n",
            )
        except BaseException:
            # Not recorded (it failed to start, or Ctrl-C came first): nothing could find
            # it to stop it later (`inv local.down` reads the state file), so it goes now.
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            raise
        return sandbox, True


def down(state_dir: Path) -> Sandbox | None:
    """Stop the sandbox (its state is lost); returns what was stopped, or None."""
    with _lock(state_dir):
        sandbox = _read_state(state_dir)
        _state_file(state_dir).unlink(missing_ok=True)
        if sandbox is None or not _alive(sandbox.pid) or not _is_moto(sandbox.pid):
            return None
        os.kill(sandbox.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while _alive(sandbox.pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(sandbox.pid, os.WNOHANG)  # reap if it is our child
            time.sleep(0.05)
        if _alive(sandbox.pid):
            os.kill(sandbox.pid, signal.SIGKILL)
        return sandbox


def local_settings(settings: LayerSettings, chain_region: str = "") -> LayerSettings:
    """The settings with the ARN file and Chalice config swapped for sandbox copies, in
    the region a real deploy would use: ``layer.region`` (the home one of ``regions``),
    else ``chain_region`` (what boto3's chain names), else us-east-1.

    The real config is copied the first time so the demo starts from the project's
    stages; a project without one gets a minimal config.
    """
    folder = ensure_folder(sandbox_dir(settings.state_dir), "layer.state_dir")
    config = folder / "chalice" / "config.json"
    if not config.exists():
        config.parent.mkdir(parents=True, exist_ok=True)
        if settings.chalice_config.is_file():
            shutil.copyfile(settings.chalice_config, config)
        else:
            atomic_write_text(
                config,
                json.dumps(
                    {
                        "version": "2.0",
                        "app_name": "sandbox",
                        "stages": {settings.stage: {"layers": []}},
                    },
                    indent=2,
                )
                + "\n",
            )
    # A bucket lives in one region: several regions get one each.
    bucket = settings.bucket or DEFAULT_BUCKET + ("-{region}" if len(settings.regions) > 1 else "")
    return dataclasses.replace(
        settings,
        bucket=bucket,
        bucket_template=bucket,
        region=settings.region or chain_region or DEFAULT_REGION,
        arn_file=folder / settings.arn_file.name,
        arns_file=folder / settings.arns_path.name,
        chalice_config=config,
    )
