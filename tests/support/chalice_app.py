"""A Chalice app folder beside the layer (issue 19): ``app.py``, ``chalicelib/``, the
app's own ``requirements.txt`` (on the offline wheelhouse) and ``.chalice/config.json``."""

from __future__ import annotations

import json
from pathlib import Path

from support.cli import make_project, write_requirements

APP_PY = """\
from chalice import Chalice

from chalicelib import db

app = Chalice(app_name="demo")


@app.route("/")
def index():
    from alpha import cli  # loaded at the first call: still the cold start's process
    import json

    return {"answer": db.answer(), "cli": cli.__name__, "json": json.dumps(1)}
"""

DB_PY = """\
import os

from alpha.core import answer as _answer
from . import helpers


def answer():
    return _answer()
"""


def add_app(root: Path, wheelhouse: Path | None, *requirements: str, app_py: str = APP_PY) -> Path:
    """Make ``root`` (a project) a Chalice app: app.py, chalicelib/ and, with
    ``wheelhouse``, a requirements.txt of ``requirements`` (none: no file)."""
    (root / "app.py").write_text(app_py, encoding="utf-8")
    lib = root / "chalicelib"
    lib.mkdir(exist_ok=True)
    (lib / "__init__.py").write_text("", encoding="utf-8")
    (lib / "db.py").write_text(DB_PY, encoding="utf-8")
    (lib / "helpers.py").write_text("VALUE = 1\n", encoding="utf-8")
    if wheelhouse is not None:
        write_requirements(root / "requirements.txt", wheelhouse, *requirements)
    return root


def make_app_project(root: Path, wheelhouse: Path, layer: str, *app_requirements: str) -> Path:
    """`support.cli.make_project` (the layer: ``layer``) that is also a Chalice app whose
    requirements.txt lists ``app_requirements``."""
    make_project(root, wheelhouse, layer)
    return add_app(root, wheelhouse, *app_requirements)


def chalice_config(root: Path, app_name: str = "demo", stages: tuple[str, ...] = ("dev",)) -> Path:
    """Only ``.chalice/config.json``, as ``chalice new-project`` writes it."""
    config = root / ".chalice" / "config.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "version": "2.0",
        "app_name": app_name,
        "stages": {s: {"api_gateway_stage": "api"} for s in stages},
    }
    config.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return config
