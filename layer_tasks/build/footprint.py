"""Who takes the space: per-distribution sizes, the budget check and the size report.

Sizes come from each distribution's RECORD (read before pruning removes it), counted
on the files that are still in the tree after pruning, so the per-distribution figures
add up (with whatever no RECORD owns) to the layer's unzipped size.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

import humanize

from layer_tasks.build.verify import _NOT_MODULES
from layer_tasks.config.platform import DIRECT_UPLOAD_LIMIT_BYTES, UNZIPPED_LIMIT_BYTES
from layer_tasks.config.settings import LayerSettings
from layer_tasks.model.app import AppPackage
from layer_tasks.model.manifest import Distribution, Manifest


def _size(path: Path) -> int:
    return os.lstat(path).st_size


def tree_totals(tree: Path) -> tuple[int, int]:
    """(bytes, files) of every regular file or link below ``tree``."""
    total = files = 0
    for root, dirs, names in os.walk(tree, followlinks=False):
        linked_dirs = [d for d in dirs if os.path.islink(os.path.join(root, d))]
        for name in names + linked_dirs:
            total += os.lstat(os.path.join(root, name)).st_size
            files += 1
    return total, files


def distribution_name(info_dir: Path) -> tuple[str, str]:
    """(Name, Version) from METADATA, falling back to the folder name."""
    stem = info_dir.name[: -len(".dist-info")]
    name, _, version = stem.partition("-")
    metadata = info_dir / "METADATA"
    if metadata.is_file():
        with open(metadata, encoding="utf-8", errors="replace") as fh:
            headers = HeaderParser().parse(fh, headersonly=True)
        name = headers.get("Name", name) or name
        version = headers.get("Version", version) or version
    return name, version


def folder_key(rel: str, is_namespace: Callable[[str], bool]) -> str:
    """The top-level folder (or file) ``rel`` counts under; one level deeper inside a
    namespace package (``google/auth``), whose first level many distributions share.
    The same split as `verify.top_level_modules`."""
    parts = rel.split("/", 2)
    first = parts[0]
    if len(parts) == 3 and is_namespace(first):
        return f"{first}/{parts[1]}"
    return first


def _namespace_test(tree: Path) -> Callable[[str], bool]:
    @functools.cache
    def is_namespace(first: str) -> bool:
        return (
            first.isidentifier()
            and first not in _NOT_MODULES
            and not (tree / first / "__init__.py").exists()
        )

    return is_namespace


def distributions_footprint(
    tree: Path, records: dict[str, list[str]]
) -> tuple[list[Distribution], int, int]:
    """Per-distribution sizes of what is left in ``tree``; plus (unowned bytes, total bytes)."""
    owned: set[str] = set()
    dists: list[Distribution] = []
    is_namespace = _namespace_test(tree)
    for info_name in sorted(tree.glob("*.dist-info")):
        paths = records.get(info_name.name, [])
        total = files = 0
        folders: dict[str, int] = {}
        for rel in paths:
            if rel in owned:
                continue
            path = tree / rel
            if path.is_symlink() or path.is_file():
                owned.add(rel)
                size = _size(path)
                total += size
                files += 1
                key = folder_key(rel, is_namespace)
                folders[key] = folders.get(key, 0) + size
        # The dist-info folder itself is the distribution's too, whatever RECORD says.
        for root, _dirs, names in os.walk(info_name):
            for fname in names:
                rel = str(Path(root, fname).relative_to(tree)).replace(os.sep, "/")
                if rel not in owned:
                    owned.add(rel)
                    size = _size(Path(root, fname))
                    total += size
                    files += 1
                    folders[info_name.name] = folders.get(info_name.name, 0) + size
        tops = sorted({p.split("/", 1)[0] for p in paths if not p.startswith(info_name.name)})
        name, version = distribution_name(info_name)
        by_size = dict(sorted(folders.items(), key=lambda kv: (-kv[1], kv[0])))
        dists.append(Distribution(name, version, total, files, tuple(tops), by_size))
    all_bytes, _ = tree_totals(tree)
    unowned = all_bytes - sum(d.unzipped_bytes for d in dists)
    dists.sort(key=lambda d: (-d.unzipped_bytes, d.name.lower()))
    return dists, unowned, all_bytes


def naturalsize(n: int) -> str:
    # Binary units: Lambda's "250 MB" limit is 250 MiB (262,144,000 bytes).
    return humanize.naturalsize(n, binary=True, format="%.1f")


@dataclass(frozen=True)
class Budget:
    used_bytes: int  # layer unzipped + the app's own package + reserve
    budget_bytes: int
    app_bytes: int = 0  # the Chalice app's package (its code and requirements.txt)

    @property
    def margin(self) -> int:
        return self.budget_bytes - self.used_bytes

    @property
    def over(self) -> bool:
        return self.margin < 0


def budget_for(
    manifest: Manifest, settings: LayerSettings, app: AppPackage | None = None
) -> Budget:
    app_bytes = app.total_bytes if app is not None else 0
    return Budget(
        manifest.unzipped_bytes + app_bytes + settings.reserve_bytes,
        settings.budget_bytes,
        app_bytes,
    )


def app_share(app: AppPackage) -> str:
    """``the app's package 1.2 MiB (app.py 3.0 KiB, requirements.txt 1.1 MiB)``."""
    parts = ", ".join(f"{label} {naturalsize(size)}" for label, size in app.parts())
    return f"the app's package {naturalsize(app.total_bytes)} ({parts})"


def over_budget_message(
    manifest: Manifest, settings: LayerSettings, app: AppPackage | None = None
) -> str | None:
    """One line for an over-budget layer (naming the five largest distributions and the
    app's share), else None."""
    budget = budget_for(manifest, settings, app)
    if not budget.over:
        return None
    largest = ", ".join(
        f"{d.name} {naturalsize(d.unzipped_bytes)}" for d in manifest.distributions[:5]
    )
    with_app = f" + {app_share(app)}" if app is not None else ""
    reserve = f" + reserve {naturalsize(settings.reserve_bytes)}" if settings.reserve_bytes else ""
    fix = " or the app's requirements.txt" if app is not None else ""
    return (
        f"layer {manifest.name} is {naturalsize(manifest.unzipped_bytes)} unzipped{with_app}"
        f"{reserve}, {naturalsize(-budget.margin)} over the budget of "
        f"{naturalsize(budget.budget_bytes)} ({budget.budget_bytes:,} bytes); largest: "
        f"{largest}. Prune more (layer.prune, layer.prune_custom) or drop a requirement "
        f"from the layer{fix}"
    )


def report_data(
    manifest: Manifest,
    settings: LayerSettings,
    top: int | None = None,
    app: AppPackage | None = None,
) -> dict[str, Any]:
    total = manifest.unzipped_bytes
    dists = list(manifest.distributions)
    shown = dists[:top] if top else dists
    budget = budget_for(manifest, settings, app)
    # Added by the build after the per-distribution sizes were taken, so a line of its
    # own: distributions + other + bytecode = unzipped.
    bytecode = manifest.bytecode or {}
    return {
        "name": manifest.name,
        "runtime": manifest.runtime,
        "architecture": manifest.architecture,
        "distributions": [
            {
                "name": d.name,
                "version": d.version,
                "unzipped_bytes": d.unzipped_bytes,
                "share": round(d.unzipped_bytes / total, 4) if total else 0.0,
                "files": d.files,
                "folders": dict(d.folders),
            }
            for d in shown
        ],
        "distributions_total": len(dists),
        "other_bytes": manifest.unowned_bytes + sum(d.unzipped_bytes for d in dists[len(shown) :]),
        "bytecode": {
            "mode": bytecode.get("mode", "none"),
            "files": int(bytecode.get("files", 0)),
            "bytes": int(bytecode.get("bytes", 0)),
            "python": bytecode.get("python", ""),
            "skipped_reason": bytecode.get("skipped_reason", ""),
        },
        "unzipped_bytes": total,
        "zip_bytes": manifest.zip_bytes,
        "files": manifest.files,
        "installed_bytes": manifest.installed_bytes,
        "pruned": dict(manifest.pruned),
        "pruned_bytes": sum(manifest.pruned.values()),
        "limits": {
            "unzipped_limit_bytes": UNZIPPED_LIMIT_BYTES,
            "unzipped_headroom_bytes": UNZIPPED_LIMIT_BYTES - total,
            "direct_upload_limit_bytes": DIRECT_UPLOAD_LIMIT_BYTES,
            "direct_upload_headroom_bytes": DIRECT_UPLOAD_LIMIT_BYTES - manifest.zip_bytes,
        },
        "budget": {
            "budget_bytes": budget.budget_bytes,
            "reserve_bytes": settings.reserve_bytes,
            "margin_bytes": budget.margin,
            "over": budget.over,
            **({"app_bytes": budget.app_bytes} if app is not None else {}),
        },
        # The Chalice app beside the layer, when there is one: its package counts with
        # the layer against the same limit.
        **({"app": _app_data(app)} if app is not None else {}),
    }


def _app_data(app: AppPackage) -> dict[str, Any]:
    return {
        "folder": str(app.app.root),
        "bytes": app.total_bytes,
        "parts": dict(app.parts()),
        "requirements": [
            {"name": d.name, "version": d.version, "unzipped_bytes": d.unzipped_bytes}
            for d in app.distributions
        ],
    }


def report_json(
    manifest: Manifest,
    settings: LayerSettings,
    top: int | None = None,
    app: AppPackage | None = None,
) -> str:
    return json.dumps(report_data(manifest, settings, top, app), indent=2) + "\n"


def _headroom(limit: int, used: int, what: str) -> str:
    left = limit - used
    pct = used / limit * 100
    if left >= 0:
        return f"{naturalsize(used)} of {naturalsize(limit)} {what} ({pct:.1f}%), {naturalsize(left)} left"
    return f"{naturalsize(used)} of {naturalsize(limit)} {what} ({pct:.1f}%), OVER by {naturalsize(-left)}"


def report_text(
    manifest: Manifest,
    settings: LayerSettings,
    top: int | None = None,
    app: AppPackage | None = None,
) -> str:
    data = report_data(manifest, settings, top, app)
    rows = [("distribution", "version", "unzipped", "share", "files")]
    for d in data["distributions"]:
        rows.append(
            (
                d["name"],
                d["version"],
                naturalsize(d["unzipped_bytes"]),
                f"{d['share'] * 100:.1f}%",
                str(d["files"]),
            )
        )
    if data["other_bytes"]:
        hidden = data["distributions_total"] - len(data["distributions"])
        label = f"(other: {hidden} more + unowned)" if hidden else "(not in any RECORD)"
        share = data["other_bytes"] / data["unzipped_bytes"] * 100 if data["unzipped_bytes"] else 0
        rows.append((label, "", naturalsize(data["other_bytes"]), f"{share:.1f}%", ""))
    bc = data["bytecode"]
    if bc["bytes"]:
        share = bc["bytes"] / data["unzipped_bytes"] * 100 if data["unzipped_bytes"] else 0
        rows.append(
            (f"(bytecode: {bc['mode']}, python {bc['python']})", "", naturalsize(bc["bytes"]),
             f"{share:.1f}%", str(bc["files"]))
        )  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = [f"Layer {data['name']} ({data['runtime']}, {data['architecture']})", ""]
    for i, row in enumerate(rows):
        lines.append(
            f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  "
            f"{row[3]:>{widths[3]}}  {row[4]:>{widths[4]}}".rstrip()
        )
        if i == 0:
            lines.append("-" * (sum(widths) + 8))
    lines += [
        "",
        f"total unzipped   {naturalsize(data['unzipped_bytes'])} ({data['unzipped_bytes']:,} bytes, "
        f"{data['files']:,} files, {data['distributions_total']} distributions)",
        f"zip              {naturalsize(data['zip_bytes'])} ({data['zip_bytes']:,} bytes)",
    ]
    if bc["skipped_reason"]:
        lines.append(f"bytecode         none: {bc['skipped_reason']}")
    if data["pruned"]:
        lines.append(
            f"pruned           {naturalsize(data['pruned_bytes'])}: "
            + ", ".join(
                f"{rule} {naturalsize(n)}"
                for rule, n in sorted(data["pruned"].items(), key=lambda kv: -kv[1])
            )
        )
    with_app = data["unzipped_bytes"]
    if app is not None:
        parts = ", ".join(f"{label} {naturalsize(size)}" for label, size in app.parts())
        lines.append(f"app              {naturalsize(app.total_bytes)} ({parts or 'empty'})")
        with_app += app.total_bytes
    lines += [
        f"unzipped limit   {_headroom(UNZIPPED_LIMIT_BYTES, with_app, 'function + layers')}",
        f"direct upload    {_headroom(DIRECT_UPLOAD_LIMIT_BYTES, data['zip_bytes'], 'zipped')}"
        + ("; deploy uploads through S3" if data["zip_bytes"] > DIRECT_UPLOAD_LIMIT_BYTES else ""),
    ]
    b = data["budget"]
    counted = ["layer", *(["app"] if app is not None else [])]
    if b["reserve_bytes"]:
        counted.append(f"reserve {naturalsize(b['reserve_bytes'])}")
    reserve = f" ({' + '.join(counted)})" if len(counted) > 1 else ""
    state = "OVER" if b["over"] else "ok"
    lines.append(
        f"budget           {state}: margin {naturalsize(abs(b['margin_bytes']))}"
        f"{' over' if b['over'] else ''} of {naturalsize(b['budget_bytes'])}{reserve}"
    )
    return "\n".join(lines) + "\n"
