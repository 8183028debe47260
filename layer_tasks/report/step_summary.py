"""Markdown for a GitHub Actions job summary (``GITHUB_STEP_SUMMARY``).

The renderers are pure (plain data in, Markdown out). `checked_path` says where the
summary goes, before the task's first change: nowhere when the variable is not set (so
local runs are unchanged), never a file the tool manages or reads (the one list of
`report.managed`: appending Markdown to the Chalice config or the zip would break it),
never a folder or a file in a folder that does not exist (found only after a deploy had
published, once). `write` then appends to it; GitHub shows the file's Markdown on the
run's page.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from layer_tasks.build.footprint import naturalsize
from layer_tasks.config.platform import DIRECT_UPLOAD_LIMIT_BYTES, UNZIPPED_LIMIT_BYTES
from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError
from layer_tasks.model.manifest import Manifest
from layer_tasks.report.diff import LayerDiff
from layer_tasks.report.managed import find, managed_files, refusal
from layer_tasks.util.redact import for_storage

VARIABLE = "GITHUB_STEP_SUMMARY"


def summary_path(environ: Mapping[str, str] | None = None) -> Path | None:
    value = (os.environ if environ is None else environ).get(VARIABLE, "")
    return Path(value) if value.strip() else None


def checked_path(
    layers: Sequence[LayerSettings],
    environ: Mapping[str, str] | None = None,
    also_read: Iterable[Path] = (),
) -> Path | None:
    """Where the summary will be appended (None: nowhere), checked before any change:
    a refusal is one line naming the file."""
    path = summary_path(environ)
    if path is None:
        return None
    fix = "unset it or point it at another file"
    if path.is_dir():
        raise LayerError(f"{VARIABLE} {path} is a folder: {fix}")
    if path.exists() and not path.is_file():
        # A FIFO held the task forever on its open(); a device is no summary either.
        raise LayerError(
            f"{VARIABLE} {path} is not a regular file (a FIFO, device or socket): {fix}"
        )
    if not path.parent.is_dir():
        raise LayerError(
            f"{VARIABLE} {path}: folder {path.parent} does not exist; unset it or fix the path"
        )
    found = find(path, managed_files(layers, also_read))
    if found is not None:
        raise LayerError(f"{VARIABLE} {path} {refusal(*found)}: {fix}")
    if path.exists() and not os.access(path, os.W_OK):
        raise LayerError(f"{VARIABLE} {path} is not writable: {fix}")
    if not path.exists() and not os.access(path.parent, os.W_OK | os.X_OK):
        raise LayerError(f"{VARIABLE} {path}: folder {path.parent} is not writable; {fix}")
    return path


def append(path: Path, markdown: str) -> None:
    """Append one section; a blank line keeps it apart from what other steps wrote."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(for_storage(markdown.rstrip("\n")) + "\n\n")


def write(markdown: str, path: Path | None) -> bool:
    """Append ``markdown`` to the step summary at ``path`` (`checked_path`'s answer)."""
    if path is None:
        return False
    try:
        append(path, markdown)
    except OSError as exc:
        raise LayerError(
            f"cannot append to {VARIABLE} file {path}: {exc.strerror}; unset it or fix the path"
        ) from None
    return True


def _margin(limit: int, used: int, over: str = "❌ over by") -> str:
    left = limit - used
    state = "✅" if left >= 0 else over
    return f"{state} {naturalsize(abs(left))} ({left:+,} bytes)"


def _sizes(manifest: Manifest, settings: LayerSettings, app_bytes: int = 0) -> list[str]:
    """``app_bytes``: the Chalice app's own package, counted with the layer."""
    reserve = settings.reserve_bytes
    used = manifest.unzipped_bytes + app_bytes + reserve
    with_reserve = (f" + app {naturalsize(app_bytes)}" if app_bytes else "") + (
        f" + reserve {naturalsize(reserve)}" if reserve else ""
    )
    rows = [
        "| | size | limit | margin |",
        "|---|---:|---:|---|",
        f"| unzipped{with_reserve} | {naturalsize(used)} ({used:,} bytes) | "
        f"{UNZIPPED_LIMIT_BYTES:,} bytes | {_margin(UNZIPPED_LIMIT_BYTES, used)} |",
        f"| zipped | {naturalsize(manifest.zip_bytes)} ({manifest.zip_bytes:,} bytes) | "
        f"{DIRECT_UPLOAD_LIMIT_BYTES:,} bytes (direct upload) | "
        # Over it is no failure: deploy publishes from S3, which takes larger zips.
        f"{_margin(DIRECT_UPLOAD_LIMIT_BYTES, manifest.zip_bytes, '⚠️ through S3, over by')} |",
    ]
    if settings.budget_bytes != UNZIPPED_LIMIT_BYTES:  # else the same row again
        rows.append(
            f"| budget (layer.budget_mb) | {naturalsize(used)} | {settings.budget_bytes:,} bytes "
            f"| {_margin(settings.budget_bytes, used)} |"
        )
    return rows


def _title(what: str, manifest: Manifest) -> str:
    return f"### Layer {manifest.name} ({manifest.runtime}, {manifest.architecture}): {what}"


def size_markdown(
    manifest: Manifest, settings: LayerSettings, top: int = 5, app_bytes: int = 0
) -> str:
    lines = [_title("size", manifest), "", *_sizes(manifest, settings, app_bytes), ""]
    largest = ", ".join(
        f"{d.name} {naturalsize(d.unzipped_bytes)}" for d in manifest.distributions[:top]
    )
    if largest:
        lines.append(f"Largest: {largest}.")
    if manifest.pruned:
        lines.append(f"Pruned {naturalsize(sum(manifest.pruned.values()))}.")
    return "\n".join(lines) + "\n"


def budget_markdown(manifest: Manifest, settings: LayerSettings, app_bytes: int = 0) -> str:
    used = manifest.unzipped_bytes + app_bytes + settings.reserve_bytes
    verdict = "over budget" if used > settings.budget_bytes else "within budget"
    sizes = _sizes(manifest, settings, app_bytes)
    return "\n".join([_title(verdict, manifest), "", *sizes]) + "\n"


@dataclass(frozen=True)
class RegionResult:
    """What deploy did in one region: ``arn`` is None after a dry run."""

    region: str
    arn: str | None
    version: int | None
    published: bool
    architecture: str = ""  # set when the deploy has several architectures

    @property
    def target(self) -> str:
        return f"{self.architecture} in {self.region}" if self.architecture else self.region


def _status(result: RegionResult) -> str:
    if result.arn is None:
        return "dry run: would publish a new version"
    if result.published:
        return f"published `{result.arn}`"
    return f"unchanged, version {result.version} (`{result.arn}`)"


def deploy_markdown(
    manifest: Manifest | None,
    settings: LayerSettings,
    results: Sequence[RegionResult],
    diff: LayerDiff | None = None,
) -> str:
    """The deploy's section: one row per region, sizes and margins, and the diff."""
    title = f"### Layer {settings.name}: deploy"
    if manifest is not None:
        title = _title("deploy", manifest)
    lines = [title, ""]
    if len(results) == 1:
        lines.append(f"{results[0].region}: {_status(results[0])}")
    else:
        lines += ["| target | result |", "|---|---|"]
        lines += [f"| {r.target} | {_status(r)} |" for r in results]
    if manifest is not None:
        lines += ["", *_sizes(manifest, settings)]
    if diff is not None:
        lines += ["", diff.markdown().rstrip("\n")]
    return "\n".join(lines) + "\n"
