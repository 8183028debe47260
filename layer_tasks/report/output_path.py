"""Where a user-given output path (``size-report --html FILE``) may write.

Never over a file the tool manages or reads: the Chalice config (and its backup), the
ARN file, the zips, manifests, SBOMs and ARNs file in the dist folder, the locks, the
requirement files (their includes and the split files too), ``invoke.*`` and
``tasks.py``, anything in the state folder. ``--html .chalice/config.json`` once turned
the config into HTML with no backup. Nor over any other file that exists but is not an
earlier output of the same kind, unless ``--force``. Paths are compared where they lead
(a symlink to the config is the config) and by file identity (a hard link too), before
any work: a refusal is one line naming the file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from layer_tasks.build.pylock import lock_path
from layer_tasks.build.requirements import read_requirements, split_files
from layer_tasks.build.sbom import lock_files, sbom_path
from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError

INVOKE_FILES = ("invoke.yaml", "invoke.yml", "invoke.json", "invoke.py", "tasks.py")


def managed_files(layers: Sequence[LayerSettings]) -> list[tuple[Path, str]]:
    """(path, what it is) for every file the tool writes or reads for these layers."""
    found: list[tuple[Path, str]] = []
    for s in layers:
        config = s.chalice_config
        found += [
            (config, "the Chalice config"),
            (config.with_name(config.name + ".bak"), "the Chalice config's backup"),
            (s.arn_file, "the ARN file"),
            (s.zip_path, "the layer zip"),
            (s.manifest_path, "the layer's manifest"),
            (sbom_path(s), "the layer's SBOM"),
            (s.arns_path, "the ARNs file"),
            (lock_path(s), "the lock"),
            *((path, "a lock") for path in lock_files(s.requirements)),
            (s.requirements, "the requirements file"),
            *((s.base_dir / name, f"{name}, which inv reads") for name in INVOKE_FILES),
        ]
        # An unreadable requirements file or glob is reported by the task that reads it.
        with contextlib.suppress(LayerError):
            sources = read_requirements(s.requirements).sources
            found += [(path, "a requirements file") for path in sources]
        with contextlib.suppress(LayerError):
            parts = split_files(s.split_requirements, s.requirements, s.base_dir, setting="")
            found += [(path, "a split requirements file") for path in parts]
    return found


def _same(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


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
    for s in layers:
        state = s.state_dir.resolve()
        if path.resolve() == state or state in path.resolve().parents:
            raise LayerError(
                f"{flag} {path} is inside layer.state_dir ({s.state_dir}), which the tool "
                "manages: give a file elsewhere"
            )
    managed = [*managed_files(layers), *((p, "a configuration file inv reads") for p in also_read)]
    for candidate, what in managed:
        if _same(path, candidate):
            raise LayerError(
                f"{flag} {path} is {what}, which the tool manages or reads: give another "
                "file name (it is never replaced, even with --force)"
            )
    if (path.exists() or path.is_symlink()) and not force and not ours(path):
        raise LayerError(
            f"{flag} {path} exists and is not a page this command wrote: give another file "
            "name, or pass --force to replace it"
        )
