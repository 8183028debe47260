"""The user's Chalice app, as plain data: what `project.app` finds, and what installing
its ``requirements.txt`` for the layer's target gives (`build.app_package`).

Chalice deploys the app's own package beside the layers: ``app.py``, ``chalicelib/``,
``vendor/`` and what ``requirements.txt`` installs. Lambda counts it with every layer
against 262,144,000 bytes unzipped, and a distribution installed by both ships twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from layer_tasks.model.manifest import Distribution


@dataclass(frozen=True)
class App:
    """A Chalice app: the folder that holds ``.chalice/config.json`` and ``app.py``."""

    root: Path
    # The app's requirements.txt (what Chalice installs into the function), or None.
    requirements: Path | None
    # (label, bytes) of each part of the app's own code that exists: "app.py",
    # "chalicelib/", "vendor/".
    own: tuple[tuple[str, int], ...] = ()
    # Dotted names that app.py and chalicelib/ import (`import x.y`; `from x.y import z`
    # gives x.y and x.y.z), other than the app's own modules, sorted.
    imports: tuple[str, ...] = ()

    @property
    def own_bytes(self) -> int:
        return sum(size for _, size in self.own)


@dataclass(frozen=True)
class AppPackage:
    """The function's own package for one target: the app's code plus what its
    requirements.txt installs for that Python and architecture."""

    app: App
    distributions: tuple[Distribution, ...] = ()

    @property
    def requirements_bytes(self) -> int:
        return sum(d.unzipped_bytes for d in self.distributions)

    @property
    def total_bytes(self) -> int:
        return self.app.own_bytes + self.requirements_bytes

    def parts(self) -> list[tuple[str, int]]:
        """(label, bytes) of each part, the requirements as one part."""
        parts = list(self.app.own)
        if self.app.requirements is not None:
            parts.append((self.app.requirements.name, self.requirements_bytes))
        return parts
