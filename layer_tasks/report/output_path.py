"""Where the tool may write a path the user gave: ``size-report --html FILE``, and the
path settings it writes to (the ARN file, the Chalice config, the zips, the lock, the
state folder).

Never over a file the tool manages or reads (`report.managed`, the one list; the step
summary asks it too): ``--html .chalice/config.json`` once turned the config into HTML
with no backup, ``INVOKE_LAYER_ARN_FILE=.chalice/config.json`` made a rollback replace
every stage with one ARN line. ``--html`` does not replace any other existing file that
is not an earlier output of the same kind either, unless ``--force``. Both are checked
before any work: a refusal is one line naming the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError
from layer_tasks.report.managed import find, managed_files, refusal


def check_output(
    path: Path,
    layers: Sequence[LayerSettings],
    *,
    flag: str,
    ours: Callable[[Path], bool],
    force: bool = False,
    also_read: Iterable[Path] = (),
) -> None:
    """Refuse ``path`` (given with ``flag``) when writing there would replace a file the
    tool manages or reads, or (without ``force``) any existing file that ``ours`` does not
    recognise as an earlier output of the same kind."""
    found = find(path, managed_files(layers, also_read))
    if found is not None:
        entry, inside = found
        fix = (
            "give a file elsewhere"
            if inside
            else "give another file name (it is never replaced, even with --force)"
        )
        raise LayerError(f"{flag} {path} {refusal(entry, inside)}: {fix}")
    if (path.exists() or path.is_symlink()) and not force and not ours(path):
        raise LayerError(
            f"{flag} {path} exists and is not a page this command wrote: give another file "
            "name, or pass --force to replace it"
        )
