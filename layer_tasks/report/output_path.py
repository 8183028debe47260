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

import os
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path

from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError
from layer_tasks.report.managed import Managed, Place, find, managed_files, refusal


def check_file_name(flag: str, value: str) -> None:
    """Refuse a value that names no file: an empty one (``--html ''`` wrote nothing and
    said nothing), or one ending in a separator, which names a folder (``page.html/``
    wrote a file ``page.html``, as Path drops the slash)."""
    if not value:
        raise LayerError(f"{flag} is empty: give a file name, e.g. {flag} size.html")
    if value.endswith(("/", os.sep)) or (os.altsep and value.endswith(os.altsep)):
        meant = value.rstrip("/" + os.sep + (os.altsep or "")) or "size.html"
        raise LayerError(
            f"{flag} {value} ends in a separator, so it names a folder: give a file name, "
            f"e.g. {flag} {meant}"
        )


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


def check_settings(
    settings: LayerSettings, also_read: Iterable[Path] = (), given: Collection[str] = ()
) -> None:
    """Refuse settings under which the tool would write over a file it manages or reads:
    two path settings naming one file (``arn_file`` = ``chalice_config``), a file the tool
    writes that is one it reads (``arn_file: app.py``), or anything inside the folder it
    owns (``state_dir``). ``given``: the keys the user set, blamed first in the message
    (so the variable that set one can be named)."""
    entries = managed_files(settings.per_architecture(), also_read)
    places = [(entry, Place.of(entry.path)) for entry in entries]
    for a, at in places:
        if not a.writes:
            continue
        for b, bt in places:
            # Not by key: the lock and every -r include of the requirements share one
            # ("requirements"), and a lock that is also an include was replaced by the
            # lock. Only the entry itself, or another entry for the same output (one
            # per architecture), is the same file legitimately.
            if b is a or (b.writes and (b.key, b.what) == (a.key, a.what)):
                continue
            if at.same(bt):
                relation = "is"
            elif b.folder and at.inside(bt, flat=b.flat):
                relation = "is inside"
            elif a.folder and bt.inside(at, flat=a.flat):
                relation = "holds"
            else:
                continue
            raise LayerError(_clash(a, b, relation, settings, given))


_OTHER_WAY = {"is": "is", "is inside": "holds", "holds": "is inside"}


def _clash(
    a: Managed, b: Managed, relation: str, settings: LayerSettings, given: Collection[str]
) -> str:
    """The message about ``a`` (a file the tool writes) and ``b``, starting with the
    setting the user changed."""
    if b.key and b.key in given and a.key not in given:
        a, b, relation = b, a, _OTHER_WAY[relation]
    subject = f"layer.{a.key} ({_shown(a, settings)})"
    if relation == "holds":
        return (
            f"{subject} holds {_named(b, settings)}, and the tool manages everything inside "
            f"it: give layer.{a.key} a folder of its own"
        )
    if relation == "is" and a.key == b.key:
        # One setting leads to both (the lock, and the file it is included from): no
        # other value of the setting helps, the two files must part.
        return (
            f"{subject} is also {_named(b, settings)}, which the tool reads: {a.what} would "
            f"replace it; give the one the tool reads another name"
        )
    fix = "a file of its own" if relation == "is" else "a place outside it"
    # "invoke.yaml, which inv reads" says already who reads it.
    reader = "" if ", which " in b.what else f", which the tool {b.verb}"
    return f"{subject} {relation} {_named(b, settings)}{reader}: give layer.{a.key} {fix}"


def _own(entry: Managed, settings: LayerSettings) -> bool:
    """Whether ``entry`` is its setting's value itself (not a file named after it)."""
    return bool(entry.key) and getattr(settings, entry.key, None) == entry.path


def _shown(entry: Managed, settings: LayerSettings) -> str:
    """The path as the project sees it, and what it is when the setting only leads to it
    (``its layer zip, dist/x.zip``)."""
    path = entry.path
    if path.is_relative_to(settings.base_dir):
        path = path.relative_to(settings.base_dir)
    return str(path) if _own(entry, settings) else f"its {entry.what.removeprefix('the ')}, {path}"


def _named(entry: Managed, settings: LayerSettings) -> str:
    if not entry.key or f"layer.{entry.key}" in entry.what:
        return entry.what
    source = "" if _own(entry, settings) else "from "
    return f"{entry.what} ({source}layer.{entry.key})"
