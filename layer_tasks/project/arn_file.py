"""The ARN file (``.layer-arn.txt``): one line, the published ``LayerVersionArn``.

Written atomically, so a reader (CI, the seed's scripts, `update-config`) sees the
previous ARN or the new one, never an empty or half-written file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from layer_tasks.errors import LayerError
from layer_tasks.model.arns import parse_layer_arn
from layer_tasks.util.bounds import read_bounded
from layer_tasks.util.fsutil import atomic_write_text


def check_writable(path: Path) -> None:
    """Can the ARN file be written? Deploy asks before its first change, the write again."""
    folder = Path(path).parent
    if not folder.is_dir():
        raise LayerError(f"cannot write the ARN file {path}: folder {folder} does not exist")
    if Path(path).is_dir():
        raise LayerError(f"the ARN file {path} is a folder; set layer.arn_file to a file path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise LayerError(f"cannot write the ARN file {path}: folder {folder} is not writable")


def write_arn(path: Path, arn: str) -> None:
    """Replace the file's content with ``arn`` and a newline (after validating it)."""
    path = Path(path)
    layer = parse_layer_arn(arn)
    check_writable(path)
    try:
        atomic_write_text(path, f"{layer.arn}\n")
    except OSError as exc:
        raise LayerError(
            f"cannot write the ARN file {path}: {exc.strerror or exc}; check its permissions"
        ) from None


def read_arn(path: Path) -> str | None:
    """The ARN in the file; None if the file does not exist or is empty.

    The file is one line: the ARN, then at most one line ending (``\\n`` or ``\\r\\n``;
    the seed's files have none). Anything else is an error naming the file, not None
    and not trimmed away: a deploy that wrote garbage should not look like "nothing
    deployed yet", and an ARN with a space beside it is not the one Lambda published.
    """
    path = Path(path)
    try:
        text = read_bounded(path, "the ARN file", limit=64 * 1024).decode("utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise LayerError(f"cannot read the ARN file {path}: {exc}") from None
    line = text.removesuffix("\n").removesuffix("\r") if text.endswith("\n") else text
    if not line:
        return None
    if "\n" in line or "\r" in line:
        lines = len(line.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
        raise LayerError(
            f"the ARN file {path} has {lines} lines; it must hold one layer version ARN"
        )
    return parse_layer_arn(line, source=f"the ARN in {path}").arn


def write_arns(path: Path, entries: list[dict[str, object]]) -> bool:
    """The ARNs file (every architecture x region); False when it already says this."""
    path = Path(path)
    text = json.dumps({"layers": entries}, indent=2) + "\n"
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass  # absent or unreadable: written anew
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise LayerError(
            f"cannot write the ARNs file {path}: {exc.strerror or exc}; check its permissions"
        ) from None
    return True
