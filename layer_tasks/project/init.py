"""What ``layer-tasks init`` writes into a Chalice project, as a plan, then the writes.

From ``.chalice/config.json`` and the environment it infers the ``layer:`` settings
(`infer`): the layer's name from ``app_name``, the stage, the Python that runs it (as
Chalice picks its runtime), the region and a bucket name. Then `plan_files` decides,
for each file, to create it, to append to it, or that it already holds what init would
write; anything it cannot do without changing a byte the user wrote is a `LayerError`
naming the file, raised before any write. `apply` performs the plan:

- ``invoke.yaml``: created, or a ``layer:`` section appended; a ``layer:`` section that
  is already there is the user's (left alone when it has every key init would write);
- ``requirements-layer.txt``: the layer's own packages, created empty (with a comment);
  the app's ``requirements.txt`` stays the function's;
- ``.gitignore``: the lines for ``dist_dir`` and ``state_dir`` that are missing;
- with ``--ci github``: ``.github/workflows/layer-tasks.yml``.

A second run finds everything in place and changes nothing.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layer_tasks.config.platform import PYTHON_GLIBC
from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError
from layer_tasks.project.chalice_config import app_and_stages
from layer_tasks.util.bounds import read_bounded
from layer_tasks.util.fsutil import atomic_write_text

LAYER_REQUIREMENTS = "requirements-layer.txt"
WORKFLOW = Path(".github") / "workflows" / "layer-tasks.yml"
GITIGNORE = ".gitignore"
# Invoke reads the first of these it finds in the project folder.
INVOKE_FILES = ("invoke.yaml", "invoke.yml", "invoke.json", "invoke.py")
CI_CHOICES = ("github",)


def written_files(root: Path) -> list[tuple[Path, str]]:
    """(path, what it is) of each file init writes in ``root`` besides invoke.yaml."""
    return [
        (root / LAYER_REQUIREMENTS, f"the {LAYER_REQUIREMENTS} init writes"),
        (root / GITIGNORE, f"the {GITIGNORE} init writes"),
        (root / WORKFLOW, "the deploy workflow init writes"),
    ]


@dataclass(frozen=True)
class Inferred:
    """The ``layer:`` settings init writes, in the order it writes them."""

    app_name: str
    name: str
    requirements: str
    python: str
    stage: str
    region: str
    bucket: str

    def keys(self) -> dict[str, str]:
        return {
            "name": self.name,
            "requirements": self.requirements,
            "python": self.python,
            "stage": self.stage,
            "region": self.region,
            "bucket": self.bucket,
        }


@dataclass(frozen=True)
class FileChange:
    path: Path
    kind: str  # "create", "append" or "unchanged"
    text: str = ""  # the new file, or what is appended
    note: str = ""  # what it is, for the report

    @property
    def changes(self) -> bool:
        return self.kind != "unchanged"


def chalice_project(root: Path, config: Path) -> tuple[str, list[str]]:
    """``app_name`` and stages of the Chalice project in ``root``; outside one, an error
    saying what was looked for."""
    if not config.is_file():
        raise LayerError(
            f"no Chalice project here: looked for {config} (layer.chalice_config) and found "
            f"nothing; run init in your app's folder (the one holding .chalice/), or make "
            "one with `chalice new-project`"
        )
    return app_and_stages(config)


def infer(
    app_name: str,
    stages: Sequence[str],
    *,
    config: Path,
    stage: str | None,
    region: str,
    bucket: str | None,
    python: str,
) -> Inferred:
    """The settings for this project, or a `LayerError` asking for what cannot be inferred."""
    if stage is None:
        if len(stages) > 1:
            raise LayerError(
                f"{config} has several stages ({', '.join(stages)}): which one uses the "
                "layer? pass --stage NAME"
            )
        stage = stages[0]
    elif stage not in stages:
        raise LayerError(
            f"stage {stage!r} is not in {config} (stages: {', '.join(stages)}): pass one of them"
        )
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", app_name, flags=re.ASCII).strip("-_")
    if not slug:
        raise LayerError(
            f'{config} has no app_name to name the layer after: add "app_name" to it, as '
            "`chalice new-project` writes it"
        )
    if python not in PYTHON_GLIBC:
        raise LayerError(
            f"Lambda has no python{python} runtime ({', '.join(PYTHON_GLIBC)}), and Chalice "
            "deploys for the Python that runs it: run init (and chalice) with one of those, "
            "or pass --python 3.12"
        )
    if not region:
        raise LayerError(
            "which AWS region? none is set: pass --region (e.g. --region eu-west-1), or set "
            "AWS_REGION or a profile's region; the layer and its bucket live there"
        )
    return Inferred(
        app_name=app_name,
        name=f"{slug[:135]}-deps",
        requirements=LAYER_REQUIREMENTS,
        python=python,
        stage=stage,
        region=region,
        bucket=bucket or _bucket_for(slug, region),
    )


def _bucket_for(slug: str, region: str) -> str:
    """``<app>-layers-{region}``: S3's lowercase rules, short enough for the region."""
    room = 63 - len("-layers-") - len(region)
    base = re.sub(r"[^a-z0-9]+", "-", slug.lower()).strip("-")[:room].rstrip("-")
    if len(base) < 1:
        raise LayerError(
            f"cannot make an S3 bucket name from app_name {slug!r}: which bucket should hold "
            "the layer's zips? pass --bucket NAME"
        )
    return base + "-layers-{region}"


def check(inferred: Inferred, root: Path) -> LayerSettings:
    """The settings as the tasks will read them: any value they would refuse fails now."""
    return LayerSettings.from_mapping(inferred.keys(), base_dir=root)


def _quoted(value: str) -> str:
    # A JSON string is a YAML double-quoted scalar: "3.10", "on" or "no" stay strings.
    return json.dumps(value)


def layer_section(inferred: Inferred, tool_version: str) -> str:
    lines = [
        f"# layer-tasks {tool_version}: the Lambda layer of the Chalice app "
        f"{_quoted(inferred.app_name)}, written by `layer-tasks init`.",
        "# Every key: docs/your-app.md; any one per run: INVOKE_LAYER_<KEY>=...",
        "layer:",
    ]
    lines += [f"  {key}: {_quoted(value)}" for key, value in inferred.keys().items()]
    return "\n".join(lines) + "\n"


def _in_the_way(path: Path, note: str) -> None:
    """Refuse what stands where init keeps ``note`` and is no file it can read or add
    to: a folder named ``requirements-layer.txt`` was taken for the layer's requirements
    (init said "unchanged", every later build failed), a FIFO would block the read."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):  # a file above it: `_can_write` says so
        if path.is_symlink():
            raise LayerError(
                f"{path} is a symlink to nothing, where init keeps {note}: remove it, or "
                "point it at a file, and run init again"
            ) from None
        return
    except OSError as exc:
        raise LayerError(f"cannot read {path}: {exc.strerror or exc}") from None
    fix = f"where init keeps {note}: move it away, and run init again"
    if path.is_symlink():
        # A .gitignore linked to /etc/hosts got init's lines: init writes the project's
        # own files, never through a link to wherever it leads.
        raise LayerError(
            f"{path} is a symlink (to {os.path.realpath(path)}), {fix}; init writes only "
            "the project's own files, never through a link"
        )
    if stat.S_ISDIR(mode):
        raise LayerError(f"{path} is a folder, not a file, {fix}")
    if not stat.S_ISREG(mode):
        raise LayerError(f"{path} is not a regular file (a FIFO, device or socket), {fix}")
    if not os.access(path, os.R_OK):
        raise LayerError(f"{path} is not readable, {fix} (or make it readable)")


def _can_write(change: FileChange) -> None:
    """What `apply` would trip over halfway, after its first write: a file it appends
    to that is not writable, or a file it creates under a file or a read-only folder."""
    if change.kind == "append" and not os.access(change.path, os.W_OK):
        raise LayerError(f"{change.path} is not writable: init adds {change.note} to it")
    if change.kind != "create":
        return
    folder = change.path.parent
    while not folder.exists() and not folder.is_symlink() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise LayerError(
            f"{folder} is not a folder, and init writes {change.path} inside it: move it "
            "away, and run init again"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise LayerError(f"cannot write {change.path}: folder {folder} is not writable")


def _read_text(path: Path) -> str:
    try:
        return read_bounded(path, path.name).decode("utf-8")
    except UnicodeDecodeError:
        raise LayerError(f"{path} is not UTF-8 text: init adds to text files only") from None
    except OSError as exc:
        raise LayerError(f"cannot read {path}: {exc.strerror or exc}") from None


def _append(existing: str, addition: str) -> str:
    """What is appended: ``addition``, after a line break when the file lacks its last."""
    return ("\n" if existing and not existing.endswith("\n") else "") + addition


def _invoke_yaml(
    root: Path, inferred: Inferred, tool_version: str, load_yaml: Callable[[str], Any]
) -> tuple[FileChange, dict[str, Any]]:
    """The change to invoke.yaml, and the ``layer:`` section it will hold."""
    path = root / "invoke.yaml"
    _in_the_way(path, "the layer's settings")
    section = layer_section(inferred, tool_version)
    keys = inferred.keys()
    suggestion = "; ".join(f"{k}: {_quoted(v)}" for k, v in keys.items())
    other = next((root / n for n in INVOKE_FILES[1:] if (root / n).exists()), None)
    if not path.exists():
        if other is not None:
            raise LayerError(
                f"this project's Invoke configuration is {other}, and init writes only "
                f"invoke.yaml: add a layer: section there yourself ({suggestion})"
            )
        return FileChange(path, "create", section, "the layer's settings"), keys
    text = _read_text(path)
    try:
        data = load_yaml(text) if text.strip() else {}
    except Exception as exc:  # the YAML library's own errors: any of them, one line
        raise LayerError(
            f"{path} does not parse as YAML ({' '.join(str(exc).split())[:200]}): fix it, "
            "and run init again"
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise LayerError(f"{path} does not hold a mapping at the top level: init cannot add to it")
    layer = data.get("layer")
    if layer is not None:
        if not isinstance(layer, dict):
            raise LayerError(f"{path}: layer: is not a mapping of settings; fix it by hand")
        missing = [k for k in keys if k not in layer]
        if missing:
            listed = "; ".join(f"{k}: {_quoted(keys[k])}" for k in missing)
            raise LayerError(
                f"{path} already has a layer: section, without {', '.join(missing)}; init adds "
                f"files and lines but never edits yours: add them under layer: ({listed})"
            )
        return FileChange(path, "unchanged", note="the layer's settings"), layer
    addition = _append(text, "\n" + section)
    try:
        joined = load_yaml(text + addition)
    except Exception:
        joined = None
    kept = isinstance(joined, dict) and {k: v for k, v in joined.items() if k != "layer"} == data
    if not kept or joined.get("layer") != keys:
        raise LayerError(
            f"{path} ends in a way that a layer: section appended to it would not be read as "
            f"part of it: add the section yourself (layer: {suggestion})"
        )
    return FileChange(path, "append", addition, "the layer's settings"), keys


def _requirements(root: Path, name: str) -> FileChange:
    path = Path(name) if Path(name).is_absolute() else root / name
    _in_the_way(path, "the layer's packages")
    if path.exists():
        return FileChange(path, "unchanged", note="the layer's packages")
    text = (
        "# The Lambda layer's packages (layer-tasks), one requirement a line, as pip reads them.\n"
        "# Chalice installs requirements.txt into the function itself: a distribution\n"
        "# belongs in one of the two files, not both (layer.allow_duplicates says otherwise).\n"
    )
    return FileChange(path, "create", text, "the layer's packages: add them here")


def _ignore_line(folder: Path, root: Path) -> str | None:
    try:
        rel = folder.resolve().relative_to(root.resolve())
    except ValueError:
        return None  # outside the project: not git's business here
    return f"/{rel.as_posix()}/" if rel.parts else None


def _gitignore(root: Path, folders: Sequence[Path]) -> FileChange:
    path = root / GITIGNORE
    _in_the_way(path, "the lines that ignore the build's folders")
    wanted = [line for line in (_ignore_line(f, root) for f in folders) if line]
    text = _read_text(path) if path.exists() else ""
    present = {line.strip().strip("/") for line in text.splitlines()}
    missing = [line for line in dict.fromkeys(wanted) if line.strip("/") not in present]
    if not missing:
        return FileChange(path, "unchanged", note="the build's folders")
    block = "# layer-tasks: the built layer and the build's state\n" + "\n".join(missing) + "\n"
    if not text:
        return FileChange(path, "create", block, f"ignores {', '.join(missing)}")
    return FileChange(path, "append", _append(text, block), f"ignores {', '.join(missing)}")


def workflow_text(inferred: Inferred) -> str:
    """The GitHub Actions deploy workflow: budget, deploy, then the Chalice app."""
    stage = inferred.stage
    return f"""\
# Written by `layer-tasks init --ci github`. On a push to main: the layer's size against
# the Lambda limit (with the app's own package), the layer deployed (nothing is published
# when it did not change), then the Chalice app. Set the repository secret
# AWS_DEPLOY_ROLE_ARN to a role this repository may assume (OIDC).
name: layer-tasks

on:
  push:
    branches: [main]
  workflow_dispatch:

concurrency:
  group: layer-tasks-{stage}
  cancel-in-progress: false

permissions:
  contents: read
  id-token: write  # OIDC: assume the deploy role without long-lived keys

jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "{inferred.python}"
      - uses: aws-actions/configure-aws-credentials@v4
        with:
          role-to-assume: ${{{{ secrets.AWS_DEPLOY_ROLE_ARN }}}}
          aws-region: {inferred.region}
      - name: Install
        run: python -m pip install layer-tasks chalice
      - name: Size against the Lambda limit (builds the layer; deploy reuses it)
        run: layer-tasks budget
      - name: Build and publish the layer, point stage {stage} at it
        run: layer-tasks deploy
      - name: Deploy the Chalice app
        run: chalice deploy --stage {stage}
"""


def _workflow(root: Path, inferred: Inferred) -> FileChange:
    path = root / WORKFLOW
    _in_the_way(path, "the deploy workflow")
    text = workflow_text(inferred)
    if not path.exists():
        return FileChange(path, "create", text, "the deploy workflow")
    if _read_text(path) == text:
        return FileChange(path, "unchanged", note="the deploy workflow")
    raise LayerError(
        f"{path} exists and is not the workflow init writes; init never edits a file: "
        "remove it, or leave out --ci"
    )


def plan_files(
    root: Path,
    inferred: Inferred,
    *,
    folders: Sequence[Path],
    ci: str,
    tool_version: str,
    load_yaml: Callable[[str], Any],
) -> list[FileChange]:
    """Every file's change, each checked; a `LayerError` before any write."""
    if ci and ci not in CI_CHOICES:
        raise LayerError(f"--ci {ci!r} is not supported; use {', '.join(CI_CHOICES)}")
    settings, layer = _invoke_yaml(root, inferred, tool_version, load_yaml)
    # The layer's requirements file: the one the layer: section names (a user's own
    # section may name another than init would).
    requirements = layer.get("requirements")
    name = requirements if isinstance(requirements, str) and requirements else LAYER_REQUIREMENTS
    changes = [settings, _requirements(root, name), _gitignore(root, folders)]
    if ci:
        changes.append(_workflow(root, inferred))
    for change in changes:
        _can_write(change)
    return changes


def apply(changes: Sequence[FileChange]) -> None:
    for change in changes:
        if change.kind == "create":
            change.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(change.path, change.text)
        elif change.kind == "append":
            with open(change.path, "a", encoding="utf-8") as fh:
                fh.write(change.text)


def report(changes: Sequence[FileChange], inferred: Inferred, root: Path) -> list[str]:
    """What init did (or that it did nothing), then the next three commands."""
    done = [c for c in changes if c.changes]
    names = ", ".join(_shown(c.path, root) for c in changes)
    if not done:
        lines = [f"init: nothing to change: {names} already hold it"]
    else:
        lines = [
            f"init: Chalice app {_quoted(inferred.app_name)} in {root}, stage {inferred.stage}:"
        ]
        for c in changes:
            verb = {"create": "created", "append": "added to", "unchanged": "unchanged"}[c.kind]
            lines.append(f"  {_shown(c.path, root)}: {verb} ({c.note})")
        if changes[0].changes:  # invoke.yaml: what its layer: section now says
            keys = ", ".join(f"{k} {v}" for k, v in inferred.keys().items())
            lines.append(f"  layer: {keys}")
    layer_file = changes[1].path  # the layer's requirements (plan_files)
    empty = not _has_requirements(layer_file)
    lines += [
        "next:"
        + (f" (first put the layer's packages into {_shown(layer_file, root)})" if empty else ""),
        "  layer-tasks deploy --local   # the whole pipeline against a local sandbox",
        f"  layer-tasks deploy           # publish to AWS; stages.{inferred.stage}.layers gets the ARN",
        f"  chalice deploy --stage {inferred.stage}",
    ]
    return lines


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _has_requirements(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(
        line.strip() and not line.lstrip().startswith(("#", "-")) for line in text.splitlines()
    )
