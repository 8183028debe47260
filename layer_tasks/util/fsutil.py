"""Crash-safe file writes (a reader sees the old file or the new one, never half of one),
and removing old build folders without waiting for it."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from layer_tasks.errors import LayerError
from layer_tasks.util.redact import for_storage


@contextlib.contextmanager
def atomic_path(dest: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success fsync and rename it over ``dest``.

    The temporary file lives in the same folder so the rename is atomic (same file
    system); on any failure it is removed and ``dest`` is left as it was.
    """
    dest = Path(dest)
    _remove_stale(dest, suffix)
    # The writer's pid is in the name, so a later write can tell a temporary file left
    # by a killed process (SIGKILL runs no cleanup) from one still being written.
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{dest.name}.{os.getpid()}.", suffix=suffix, dir=dest.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        if dest.exists():
            # Keep the permissions of the file we replace (mkstemp makes 0600).
            os.chmod(tmp, dest.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def ensure_folder(folder: Path, setting: str) -> Path:
    """Create ``folder`` (and its parents) or say in one line why it cannot be a folder.

    ``setting`` names the key that chose the path (``layer.state_dir``), so the message
    says what to change.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next(
            (p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None
        )
        reason = f"{blocker} is a file" if blocker else (exc.strerror or str(exc))
        raise LayerError(
            f"cannot create the folder {folder} ({setting}): {reason}; change {setting} "
            "or move what is in the way"
        ) from None
    return folder


def atomic_write_text(dest: Path, text: str) -> None:
    """Write ``text`` to ``dest`` atomically. Every text file the tool makes (manifest,
    SBOM, ARN file, lock, HTML page, what the state folder keeps) goes through here, so
    no URL in it carries its userinfo (`redact.for_storage`)."""
    with atomic_path(Path(dest)) as tmp:
        tmp.write_text(for_storage(text), encoding="utf-8")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists, it is someone else's
        return True
    return True


def remove_in_background(folders: Iterable[Path], trash: Path) -> threading.Thread:
    """Move ``folders`` into ``trash`` (renames: instant) and delete ``trash`` in a thread.

    Deleting a build's few thousand files takes a few tenths of a second, which the next
    step (an install that mostly waits for the network) can hide; join the thread before
    the folder that holds ``trash`` may go. What a killed run left in ``trash`` goes too.
    """
    trash.mkdir(parents=True, exist_ok=True)
    for n, folder in enumerate(folders):
        if folder.exists() or folder.is_symlink():
            os.rename(folder, trash / f"{folder.name}.{os.getpid()}.{n}")
    thread = threading.Thread(target=shutil.rmtree, args=(trash, True), daemon=True)
    thread.start()
    return thread


def _remove_stale(dest: Path, suffix: str) -> None:
    """Remove the temporary files of ``dest`` whose writer no longer runs."""
    prefix = f".{dest.name}."
    try:
        names = os.listdir(dest.parent)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(suffix)):
            continue
        pid = name[len(prefix) :].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(dest.parent, name))


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be fsynced
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
