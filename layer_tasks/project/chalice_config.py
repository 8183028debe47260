"""Edit a Chalice ``.chalice/config.json``: point one stage at layer version ARNs.

What `set_stage_layers` guarantees, because this file deploys production:

- Only ``stages.<stage>.layers`` and the top-level ``automatic_layer`` (set to false:
  Chalice's automatic layer on top of ours is what broke the 250 MB limit) change.
  Every other byte of the file stays as it was (numbers such as ``1e999`` or ``1E3``,
  ``\\u`` escapes, key order, hand-made line breaks): only the text of those two values
  is replaced, or a member inserted (`json_edit`), laid out in the file's own
  indentation, line endings and ASCII escaping; a final newline is added if missing.
- Backup: before writing, the previous bytes are saved as ``<file>.bak`` beside the
  file (one backup, replaced on each change; nothing is written, and the backup is
  left alone, when the edit changes nothing). Both writes are atomic (temporary file
  in the same folder, fsync, rename), so a crash leaves the old file or the new one.
- When the config is a symlink, the file it points to is edited (the link stays a
  link) and the backup goes beside that file.
- Two writers are serialised by an exclusive ``flock`` on ``<config_lock_dir>/config.lock``
  (or ``.<file>.lock`` beside the config when no lock folder is given).
- Anything wrong (missing file, malformed JSON, no ``stages``, unknown stage, bad or
  too many ARNs, region mismatch, a read-only file or folder): `LayerError` and the
  file untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from layer_tasks.errors import LayerError
from layer_tasks.model.arns import (
    EXAMPLE,
    LayerArn,
    is_layer_arn,
    parse_layer_arn,
    validate_layer_list,
)
from layer_tasks.util.bounds import check_json_depth, read_bounded
from layer_tasks.util.fsutil import atomic_path
from layer_tasks.util.json_edit import Style, set_value

try:  # flock is POSIX; elsewhere writers are not serialised (atomicity still holds)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

BACKUP_SUFFIX = ".bak"
LOCK_NAME = "config.lock"


def backup_path(path: Path) -> Path:
    """Where `set_stage_layers` keeps the previous version of ``path``."""
    target = _resolve(Path(path))
    return target.with_name(target.name + BACKUP_SUFFIX)


def read_stage_layers(path: Path, stage: str) -> list[str]:
    """``stages.<stage>.layers`` (empty when the stage has none); unknown stage: error."""
    target = _resolve(Path(path))
    data, _ = _load(target)
    return _stage_layers(_stage(data, stage, target, create=False), stage, target)


def app_and_stages(path: Path) -> tuple[str, list[str]]:
    """``app_name`` ("" when absent) and the stage names of the config at ``path``."""
    target = _resolve(Path(path))
    data, _ = _load(target)
    stages = data.get("stages")
    if not isinstance(stages, dict) or not stages:
        raise LayerError(
            f'Chalice config {target} has no stages; add one, e.g. "stages": {{"dev": '
            '{"api_gateway_stage": "api"}}'
        )
    name = data.get("app_name")
    return (name if isinstance(name, str) else ""), [str(stage) for stage in stages]


def all_referenced_arns(path: Path) -> set[str]:
    """Every layer version ARN the config mentions, wherever it is.

    Chalice takes ``layers`` at the top level, per stage, and per function
    (``stages.<stage>.lambda_functions.<name>.layers``); cleanup must keep all of them,
    so this collects every string in the document that is a layer version ARN.
    """
    target = _resolve(Path(path))
    data, _ = _load(target)
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and is_layer_arn(value.strip()):
            # With whitespace around it, refused rather than skipped: cleanup would
            # take its version for unused and delete it.
            found.add(parse_layer_arn(value, source=f"the layer ARN in {target}").arn)

    walk(data)
    # Then each list Chalice reads as layers, whole: an entry that is no layer version
    # ARN (a number, a version in non-ASCII digits) would otherwise be passed over, and
    # the version it meant taken for unused.
    for where, layers in _layer_lists(data):
        found.update(_checked_layers(layers, where, target))
    return found


def _layer_lists(data: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(where, value) of every ``layers`` Chalice reads: the top level's, each stage's,
    each function's (``[stages.<stage>.]lambda_functions.<name>.layers``)."""
    scopes: list[tuple[str, Any]] = [("", data)]
    stages = data.get("stages")
    if isinstance(stages, dict):
        scopes += [(f"stages.{name}.", stage) for name, stage in stages.items()]
    for prefix, scope in list(scopes):
        functions = scope.get("lambda_functions") if isinstance(scope, dict) else None
        if isinstance(functions, dict):
            scopes += [(f"{prefix}lambda_functions.{n}.", f) for n, f in functions.items()]
    for prefix, scope in scopes:
        if isinstance(scope, dict) and "layers" in scope:
            yield f"{prefix}layers", scope["layers"]


def set_stage_layers(
    path: Path,
    stage: str,
    arns: Sequence[str],
    *,
    region: str | None = None,
    create_stage: bool = False,
    config_lock_dir: Path | None = None,
) -> tuple[list[str], list[str]]:
    """Set ``stages.<stage>.layers`` to ``arns`` (in order) and ``automatic_layer`` to
    false. Returns the stage's layers (before, after). See the module docstring."""
    after = _checked_arns(arns, region)
    target = _resolve(Path(path))
    with _locked(target, config_lock_dir):
        before, text, new_text = _edit(target, stage, after, create_stage)
        if new_text != text:
            _check_writable(target)
            _write(target, text, new_text)
    return before, after


def preview_stage_layers(
    path: Path,
    stage: str,
    arns: Sequence[str],
    *,
    region: str | None = None,
    create_stage: bool = False,
) -> bool:
    """Read-only twin of `set_stage_layers`: would it change the file? Every check that
    the write makes (JSON, stage, ARNs, a writable file and folder) fails here first."""
    target = _resolve(Path(path))
    _, text, new_text = _edit(target, stage, _checked_arns(arns, region), create_stage)
    if new_text != text:
        _check_writable(target)
    return new_text != text


def _checked_arns(arns: Sequence[str], region: str | None) -> list[str]:
    if isinstance(arns, str):
        arns = [arns]
    if not arns:
        raise LayerError("no layer ARN given: pass --arn or deploy first to write the ARN file")
    layers: list[LayerArn] = validate_layer_list(arns, region=region)
    return [layer.arn for layer in layers]


def _edit(
    target: Path, stage: str, after: list[str], create_stage: bool
) -> tuple[list[str], str, str]:
    """(the stage's layers before, the file's text, the text with ``after`` in place)."""
    data, text = _load(target)
    stage_config = _stage(data, stage, target, create=create_stage)
    before = _stage_layers(stage_config, stage, target)
    # Only the two values change, in the file's own text (json_edit): parsing and
    # dumping again would rewrite numbers and escapes elsewhere in the file.
    style = Style.of(text)
    new_text = text
    if before != after or "layers" not in stage_config:
        new_text = set_value(new_text, ["stages", stage, "layers"], after, style)
    if data.get("automatic_layer") is not False:
        new_text = set_value(new_text, ["automatic_layer"], False, style)
    if not new_text.endswith("\n"):
        new_text += style.newline
    return before, text, new_text


# --- reading ----------------------------------------------------------------------------


def _resolve(path: Path) -> Path:
    """The file to read and replace: the symlink's target when ``path`` is a link."""
    if path.is_symlink():
        target = Path(os.path.realpath(path))
        if not target.exists():
            raise LayerError(
                f"Chalice config {path} is a symlink to {target}, which does not exist"
            )
    else:
        target = path
    if not target.exists():
        raise LayerError(
            f"Chalice config {path} not found: set layer.chalice_config "
            "(INVOKE_LAYER_CHALICE_CONFIG) to your app's .chalice/config.json"
        )
    if not target.is_file():
        raise LayerError(f"Chalice config {path} is not a regular file")
    return target


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys; writing back would silently drop one.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _load(target: Path) -> tuple[dict[str, Any], str]:
    try:
        text = read_bounded(target, "Chalice config").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LayerError(f"Chalice config {target} is not UTF-8 text: {exc.reason}") from None
    except OSError as exc:
        raise LayerError(f"cannot read Chalice config {target}: {exc.strerror or exc}") from None
    check_json_depth(text, f"Chalice config {target}")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise LayerError(
            f"Chalice config {target} is not valid JSON (line {exc.lineno}, column "
            f"{exc.colno}: {exc.msg}); fix it by hand, nothing was changed"
        ) from None
    except ValueError as exc:
        raise LayerError(f"Chalice config {target} has a {exc}; remove one of them") from None
    if not isinstance(data, dict):
        raise LayerError(f"Chalice config {target} must hold a JSON object at the top level")
    return data, text


def _stage(data: dict[str, Any], stage: str, target: Path, *, create: bool) -> dict[str, Any]:
    stages = data.get("stages")
    if not isinstance(stages, dict):
        raise LayerError(
            f'Chalice config {target} has no "stages" object; add one, e.g. '
            '"stages": {"prod": {"api_gateway_stage": "api"}}'
        )
    if stage not in stages:
        if not create:
            known = ", ".join(sorted(stages)) or "none"
            raise LayerError(
                f"stage {stage!r} is not in {target} (stages: {known}); pick one with "
                "--stage, or pass --create-stage to add it"
            )
        stages[stage] = {}
    config = stages[stage]
    if not isinstance(config, dict):
        raise LayerError(f"stages.{stage} in {target} must be a JSON object")
    return config


def _stage_layers(config: dict[str, Any], stage: str, target: Path) -> list[str]:
    return _checked_layers(config.get("layers", []), f"stages.{stage}.layers", target)


def _checked_layers(layers: Any, where: str, target: Path) -> list[str]:
    """``layers`` (at ``where`` in ``target``), each entry a layer version ARN as
    `parse_layer_arn` takes one, or `LayerError` naming the entry.

    Any layer's version is an entry (another layer, another account: not ours to
    judge); what is no version ARN at all is refused, never skipped: Chalice passes it
    on and Lambda refuses it, the code that swaps versions would keep it as it is, and
    cleanup would take the version it meant for unused."""
    if not isinstance(layers, list):
        raise LayerError(f"{where} in {target} must be a list of ARN strings")
    for item in layers:
        if not isinstance(item, str):
            raise LayerError(
                f"{where} in {target} holds {json.dumps(item)}, which is not a layer "
                f"version ARN string ({EXAMPLE}): fix or remove it"
            )
        # Whitespace, non-ASCII digits, a version out of Lambda's range: one line each.
        parse_layer_arn(item, source=f"{where} in {target} holds")
    return list(layers)


# --- writing ----------------------------------------------------------------------------


def _is_read_only(path: Path) -> bool:
    # Checked by mode bits too: os.access says yes to root, but a config someone made
    # read-only (chmod a-w) is a statement that it must not be changed.
    mode = path.stat().st_mode
    return not os.access(path, os.W_OK) or not mode & 0o222


def _check_writable(target: Path) -> None:
    if _is_read_only(target):
        raise LayerError(
            f"Chalice config {target} is read-only; make it writable (chmod u+w) and run again"
        )
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise LayerError(
            f"cannot write in {target.parent} (the temporary file and backup go there); "
            "check the folder's permissions"
        )


def _write(target: Path, old_text: str, new_text: str) -> None:
    mode = target.stat().st_mode & 0o7777
    backup = target.with_name(target.name + BACKUP_SUFFIX)
    try:
        # The backup gets the config's own mode (it may hold environment variables):
        # atomic_path keeps the mode of an existing destination.
        if backup.exists():
            os.chmod(backup, mode)
        else:
            os.close(os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
        with atomic_path(backup) as tmp:
            tmp.write_bytes(old_text.encode("utf-8"))
        with atomic_path(target) as tmp:
            tmp.write_bytes(new_text.encode("utf-8"))
    except OSError as exc:
        raise LayerError(
            f"cannot write Chalice config {target}: {exc.strerror or exc}; it was left unchanged"
        ) from None


@contextlib.contextmanager
def _locked(target: Path, config_lock_dir: Path | None) -> Iterator[None]:
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    if config_lock_dir is not None:
        lock_file = Path(config_lock_dir) / LOCK_NAME
    else:
        lock_file = target.with_name(f".{target.name}.lock")
    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise LayerError(
            f"cannot create the lock file {lock_file}: {exc.strerror or exc}"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
