"""The files the tool manages or reads: one list for every path the tool is told to write.

Three kinds of path come from the user and get written: ``size-report --html FILE``
(`report.output_path.check_output`), the CI step summary (``GITHUB_STEP_SUMMARY``,
`report.step_summary.checked_path`) and the path settings themselves (the ARN file, the
Chalice config, the zips, the lock, the state folder: `report.output_path.check_settings`).
All three ask this one list "is this path yours, or inside one of your folders?", so a
file added here is protected from all three at once. A review found each of them
missing files the others knew (``--html app.py``, a step summary appended to the
Chalice config, the ARN file written over the Chalice config).

A file is listed whether it exists or not: one written where the tool, its installer or
boto3 looks for it would be read at the next run. Paths are compared where they lead (a
symlink to the config is the config) and by file identity (a hard link too).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from layer_tasks.aws.session import chain_files
from layer_tasks.build.install import installer_files, installer_inputs
from layer_tasks.build.pylock import lock_path
from layer_tasks.build.requirements import read_requirements, split_files
from layer_tasks.build.sbom import lock_files, sbom_path
from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError
from layer_tasks.project.app import app_files, app_root
from layer_tasks.project.init import INVOKE_FILES, written_files

# What pip and uv take from a --find-links folder: distributions and index pages.
FIND_LINKS_SUFFIXES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar", ".html", ".htm")


@dataclass(frozen=True)
class Managed:
    """One file (or folder) the tool manages or reads."""

    path: Path
    what: str  # how a message names it: "the Chalice config"
    key: str = ""  # the layer.* setting it comes from; "" when none does
    writes: bool = False  # the tool writes, replaces or empties it; else it only reads it
    folder: bool = False  # everything inside counts too
    # Only the files directly in the folder count: the installer lists a --find-links
    # folder without descending into it, so a subfolder's files are never read.
    flat: bool = False

    @property
    def verb(self) -> str:
        return "manages" if self.writes else "reads"


def managed_files(layers: Sequence[LayerSettings], also_read: Iterable[Path] = ()) -> list[Managed]:
    """Every file the tool writes or reads for these layers (one per architecture), the
    Chalice app's, what init writes, what the installer and boto3 read, and
    ``also_read`` (the ``inv -f`` file)."""
    found: list[Managed] = []
    for s in layers:
        found += _settings_files(s)
    if layers:
        found += _project_files(layers[0])
        base = layers[0].base_dir
        found += [Managed(Path(p), what) for p, what in installer_files(base)]
        found += [
            Managed(path, what, folder=links, flat=links)
            for path, what, links in installer_inputs(base)
        ]
    # The tool reads its own locks back (the SBOM takes hashes from every pylock*.toml):
    # listed as what it writes, they are not also "a lock" it only reads.
    locks = {lock_path(s) for s in layers}
    found = [e for e in found if e.writes or e.path not in locks or e.what != "a lock"]
    found += [Managed(Path(p), what) for p, what in chain_files()]
    # Invoke's system and user configuration files (/etc/invoke.yaml, ~/.invoke.yaml).
    found += [
        Managed(Path("/etc") / name, "Invoke's system configuration") for name in INVOKE_FILES
    ]
    found += [
        Managed(Path.home() / f".{name}", "Invoke's user configuration") for name in INVOKE_FILES
    ]
    found += [Managed(Path(p), "a configuration file inv reads") for p in also_read]
    return _unique(found)


def _settings_files(s: LayerSettings) -> list[Managed]:
    """What the path settings name, with the setting each comes from."""
    config = s.chalice_config
    found = [
        Managed(config, "the Chalice config", "chalice_config", writes=True),
        Managed(
            config.with_name(config.name + ".bak"),
            "the Chalice config's backup",
            "chalice_config",
            writes=True,
        ),
        Managed(s.arn_file, "the ARN file", "arn_file", writes=True),
        Managed(s.zip_path, "the layer zip", "dist_dir", writes=True),
        Managed(s.manifest_path, "the layer's manifest", "dist_dir", writes=True),
        Managed(sbom_path(s), "the layer's SBOM", "dist_dir", writes=True),
        Managed(s.arns_path, "the ARNs file", "dist_dir", writes=True),
        Managed(lock_path(s), "the lock", "requirements", writes=True),
        Managed(s.requirements, "the requirements file", "requirements"),
        # Build trees, caches, the sandbox: the tool empties parts of it at will.
        Managed(
            s.state_dir, f"layer.state_dir ({s.state_dir})", "state_dir", writes=True, folder=True
        ),
        *(Managed(path, "a lock", "requirements") for path in lock_files(s.requirements)),
    ]
    # An unreadable requirements file or glob is reported by the task that reads it.
    with contextlib.suppress(LayerError):
        read = read_requirements(s.requirements)
        found += [Managed(path, "a requirements file", "requirements") for path in read.sources]
        found += _links(read.find_links, f"{s.requirements.name}", "requirements")
    with contextlib.suppress(LayerError):
        parts = split_files(s.split_requirements, s.requirements, s.base_dir, setting="")
        found += [Managed(p, "a split requirements file", "split_requirements") for p in parts]
    return found


def _project_files(s: LayerSettings) -> list[Managed]:
    """Invoke's files in the project, the Chalice app's own files (the duplicates check,
    the app's size and its imports read them) and what init writes."""
    base = s.base_dir
    found = [
        Managed(base / name, f"{name}, which inv reads") for name in (*INVOKE_FILES, "tasks.py")
    ]
    root = app_root(s.chalice_config) or base
    found += [Managed(path, what, folder=folder) for path, what, folder in app_files(root)]
    with contextlib.suppress(LayerError):
        app = read_requirements(root / "requirements.txt")
        found += [Managed(p, "a requirements file of the Chalice app") for p in app.sources]
        found += _links(app.find_links, "the Chalice app's requirements.txt")
    found += [Managed(path, what) for path, what in written_files(base)]
    return found


def _links(places: Iterable[Path], named_in: str, key: str = "") -> list[Managed]:
    """The --find-links places a requirements file names: the folder's files (or the
    file itself) are what the installer reads."""
    return [
        Managed(p, f"the --find-links place {p} ({named_in})", key, folder=True, flat=True)
        for p in places
    ]


def _unique(found: list[Managed]) -> list[Managed]:
    """The first entry of each path, setting and role (two settings naming one file stay
    two entries, and so do a file one setting writes and the same setting reads, such as
    a lock that is also an -r include: `check_settings` looks for exactly that); never
    the null device, which AWS_CONFIG_FILE=/dev/null may name and nothing replaces."""
    seen: set[tuple[Path, str, bool]] = set()
    out = []
    for entry in found:
        mark = (entry.path, entry.key, entry.writes)
        if mark in seen or _real(entry.path) == Path(os.devnull):
            continue
        seen.add(mark)
        out.append(entry)
    return out


# --- where a path leads ------------------------------------------------------------------


def _real(path: Path) -> Path:
    # realpath, not Path.resolve: a symlink loop gives a path here, not an exception.
    return Path(os.path.realpath(path))


@dataclass(frozen=True)
class Place:
    """Where a path leads, and the file it is (None when it does not exist)."""

    real: Path
    identity: tuple[int, int] | None

    @classmethod
    def of(cls, path: Path) -> Place:
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            return cls(_real(path), None)
        return cls(_real(path), (st.st_dev, st.st_ino))

    def same(self, other: Place) -> bool:
        return self.real == other.real or (
            self.identity is not None and self.identity == other.identity
        )

    def inside(self, folder: Place, *, flat: bool = False) -> bool:
        """In ``folder`` or below it, or ``folder`` itself. ``flat`` (a --find-links
        place): directly in it, and named like what an installer takes from one (a wheel,
        an sdist, an HTML index page): with `--find-links .` the project's own files
        (the ARN file, the state folder) are not the installer's."""
        if flat:
            name = self.real.name.lower()
            return self.same(folder) or (
                folder.real == self.real.parent and name.endswith(FIND_LINKS_SUFFIXES)
            )
        return self.same(folder) or folder.real in self.real.parents


def find(path: Path, entries: Sequence[Managed]) -> tuple[Managed, bool] | None:
    """The entry ``path`` is, with False, or the folder entry it lies inside, with True;
    None when it is none of them."""
    here = Place.of(path)
    for entry in entries:
        there = Place.of(entry.path)
        if entry.folder and here.inside(there, flat=entry.flat):
            return entry, True
        if not entry.folder and here.same(there):
            return entry, False
    return None


def refusal(entry: Managed, inside: bool) -> str:
    """``is <what>, which the tool ...``: the middle of every refusal's message."""
    if inside:
        return f"is inside {entry.what}, which the tool {entry.verb}"
    return f"is {entry.what}, which the tool manages or reads"
