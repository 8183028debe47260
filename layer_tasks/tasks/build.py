"""Local tasks: build, size-report, budget, check-requirements."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke import Context, Task

from layer_tasks.config.settings import LayerSettings
from layer_tasks.config.validate import whole_flag
from layer_tasks.errors import LayerError
from layer_tasks.tasks import _app
from layer_tasks.tasks._common import layer_task, runtime_files, settings_from

# Each task imports what it uses when it runs: `inv --list` and a no-change build must
# not pay for the pipeline's, the reports' or the lock's imports (see bench/startup_bench.py).
if TYPE_CHECKING:
    from layer_tasks.build.pipeline import BuildResult
    from layer_tasks.model.app import AppPackage
    from layer_tasks.model.manifest import Manifest


# The flags' ranges (README, tasks table): --top 0 shows every distribution; --repeat
# starts that many processes per distribution.
TOP_RANGE = (0, 10_000)
REPEAT_RANGE = (1, 100)


def _log(message: str) -> None:
    # Progress and step lines go to stderr so that --json output on stdout stays clean.
    print(message, file=sys.stderr, flush=True)


def per_architecture(
    c: Context, architecture: str | None = None, **overrides: Any
) -> list[LayerSettings]:
    """The settings of each architecture's layer; ``architecture`` (a flag) picks one."""
    settings = settings_from(c, **overrides)
    if architecture is None:
        return settings.per_architecture()
    if architecture in settings.architectures:
        return [settings.for_architecture(architecture)]
    if len(settings.architectures) > 1:
        raise LayerError(
            f"--architecture {architecture!r} is not one of layer.architectures "
            f"({', '.join(settings.architectures)})"
        )
    one = settings_from(c, architecture=architecture, architectures=[architecture], **overrides)
    return one.per_architecture()


def _with_app(layers: list[LayerSettings]) -> list[tuple[LayerSettings, AppPackage | None]]:
    """Each layer's settings with the Chalice app's package for its target (or None)."""
    app = _app.find(layers[0]) if layers else None
    return [(settings, _app.measured(settings, app, _log)) for settings in layers]


def _manifest_or_build(settings: LayerSettings, app: AppPackage | None = None) -> Manifest:
    from layer_tasks.build.app_package import check_duplicates
    from layer_tasks.build.pipeline import build_layer, current_manifest

    manifest = current_manifest(settings, app)
    if manifest is None:
        _log("no current build: building first")
        return build_layer(settings, log=_log, app=app).manifest
    check_duplicates(manifest.distributions, app, settings)
    return manifest


@layer_task(
    help={
        "force": "Rebuild even when the inputs have not changed since the last build.",
        "requirements": "Requirements file (default: layer.requirements).",
        "python": "Lambda Python version, 3.10-3.14 (default: layer.python).",
        "architecture": "x86_64 or arm64 (default: layer.architecture).",
        "installer": "uv or pip (default: layer.installer).",
    }
)
def build(
    c: Context,
    force: bool = False,
    requirements: str | None = None,
    python: str | None = None,
    architecture: str | None = None,
    installer: str | None = None,
) -> list[BuildResult]:
    """Install for the Lambda target, prune, verify imports, zip; write zip + manifest."""
    from layer_tasks.build.footprint import naturalsize
    from layer_tasks.build.pipeline import build_layer

    results = []
    layers = per_architecture(
        c, architecture, requirements=requirements, python=python, installer=installer
    )
    for settings, app in _with_app(layers):
        result = build_layer(settings, force=force, log=_log, app=app)
        m = result.manifest
        print(
            f"{result.zip_path}: {naturalsize(m.zip_bytes)} zipped, "
            f"{naturalsize(m.unzipped_bytes)} unzipped, {m.files:,} files, "
            f"CodeSha256 {m.code_sha256}"
        )
        results.append(result)
    return results


class _KeepsHelpFlag(Task):
    """`-h` after the task name stays Invoke's help, never --html's short flag."""

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, Any]:
        return super().arg_opts(name, default, taken_names | {"h"})


@layer_task(
    klass=_KeepsHelpFlag,
    help={
        "json": "Print the report as JSON.",
        "top": "Show only the N largest distributions (the rest are summed).",
        "html": "Also write the report as one self-contained HTML page (treemap, limits) to FILE.",
        "imports": "Report each distribution's median import time (cold start) next to its size.",
        "repeat": "With --imports: fresh processes per distribution (default 3).",
        "force": "With --html: replace FILE even when it is not a page this command wrote.",
    },
)
def size_report(
    c: Context,
    json: bool = False,
    top: Any = None,
    html: str | None = None,
    imports: bool = False,
    repeat: Any = None,
    force: bool = False,
) -> None:
    """Per-distribution footprint and totals against the Lambda limits (builds if needed)."""
    from layer_tasks.build.footprint import report_data, report_json, report_text
    from layer_tasks.report import step_summary
    from layer_tasks.report.html import check_destination, is_size_page
    from layer_tasks.report.html import write as write_html
    from layer_tasks.report.import_cost import measure_imports
    from layer_tasks.report.output_path import check_file_name, check_output

    # Parsed here, not by Invoke: its int() would take '\u0662' and '1_0'.
    top = whole_flag("--top", top, *TOP_RANGE) or 0
    repeat = whole_flag("--repeat", repeat, *REPEAT_RANGE) or 3
    if html is not None:
        check_file_name("--html", html)  # '' or 'page.html/': no file to write
        check_destination(Path(html))  # a folder, or no folder to write in: one line
    layers = per_architecture(c)
    several = len(layers) > 1
    pages = [_page(html, s.architecture, several) for s in layers]
    read = runtime_files(c)
    for page in pages:
        if page is not None:
            check_destination(page)
            # Never over a file the tool manages or reads; another file only with --force.
            check_output(
                page, layers, flag="--html", ours=is_size_page, force=force, also_read=read
            )
    # Before the build, as the page: --imports writes no summary.
    summary = None if imports else step_summary.checked_path(layers, also_read=read)
    texts = []
    for (settings, app), page in zip(_with_app(layers), pages, strict=True):
        manifest = _manifest_or_build(settings, app)
        if page is not None:
            write_html(page, report_data(manifest, settings, top or None, app))
            _log(f"size report: wrote {page}")
        if imports:
            report = measure_imports(settings.zip_path, manifest, repeat=repeat)
            texts.append(report.to_json() if json else report.text())
        else:
            render = report_json if json else report_text
            texts.append(render(manifest, settings, top or None, app))
            app_bytes = app.total_bytes if app else 0
            markdown = step_summary.size_markdown(manifest, settings, app_bytes=app_bytes)
            step_summary.write(markdown, summary)
        if several and not json:
            texts[-1] = f"== {settings.name} ({settings.architecture}) ==\n{texts[-1]}"
    # Several architectures: one JSON array, or the text reports one after another.
    sys.stdout.write("[" + ",".join(texts) + "]\n" if json and several else "".join(texts))


def _page(html: str | None, arch: str, several: bool) -> Path | None:
    """Where ``--html`` writes; with several architectures FILE-<arch>.html each."""
    if not html:
        return None
    return Path(html).with_stem(f"{Path(html).stem}-{arch}") if several else Path(html)


@layer_task
def budget(c: Context) -> None:
    """Fail (exit 1) when the layer's unzipped size, the app's package and reserve_mb exceed budget_mb."""
    from layer_tasks.build.footprint import app_share, budget_for, naturalsize, over_budget_message
    from layer_tasks.report import step_summary

    layers = per_architecture(c)
    summary = step_summary.checked_path(layers, also_read=runtime_files(c))  # before a build
    over = []
    for settings, app in _with_app(layers):
        manifest = _manifest_or_build(settings, app)
        message = over_budget_message(manifest, settings, app)
        app_bytes = app.total_bytes if app else 0
        step_summary.write(step_summary.budget_markdown(manifest, settings, app_bytes), summary)
        if message:
            over.append(f"{settings.architecture}: {message}" if len(layers) > 1 else message)
            continue
        b = budget_for(manifest, settings, app)
        which = f" ({settings.architecture})" if len(layers) > 1 else ""
        counted = (
            f" (layer {naturalsize(manifest.unzipped_bytes)} + {app_share(app)})" if app else ""
        )
        print(
            f"budget ok{which}: {naturalsize(b.used_bytes)} used of "
            f"{naturalsize(b.budget_bytes)}{counted}, margin {naturalsize(b.margin)} "
            f"({b.margin:,} bytes)"
        )
    if over:
        raise LayerError("; ".join(over))


@layer_task(
    help={"parts": "Glob of the split requirement files (default: layer.split_requirements)."}
)
def check_requirements(c: Context, parts: str | None = None) -> None:
    """Check that requirements-all.txt equals the union of the split requirements-*.txt."""
    from layer_tasks.build.pylock import lock_problem
    from layer_tasks.build.requirements import compare_union, read_requirements, split_files

    settings = settings_from(c)
    unified = read_requirements(settings.requirements)
    pattern = parts or settings.split_requirements
    base = settings.requirements.parent
    setting = "--parts" if parts else "layer.split_requirements"
    files = split_files(pattern, settings.requirements, settings.base_dir, setting=setting)
    if not files:
        raise LayerError(f"no split requirement files match {pattern!r} in {base}")
    problems = compare_union(unified, [read_requirements(f) for f in files])
    names = ", ".join(f.name for f in files)
    stale = "; ".join(
        why for each in settings.per_architecture() if (why := lock_problem(each, unified))
    )
    if problems:
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        if stale:
            print(f"  lock: {stale}", file=sys.stderr)
        raise LayerError(
            f"{settings.requirements.name} is not the union of {names}: {len(problems)} "
            f"difference(s), listed above"
        )
    if stale:
        raise LayerError(stale)
    count = len(unified.requirements)
    print(f"ok: {settings.requirements.name} ({count} requirements) is the union of {names}")
