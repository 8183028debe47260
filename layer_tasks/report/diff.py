"""What changed between two layer builds: distributions, sizes, pruning, bytecode.

Pure: `diff_manifests` takes two manifests as plain mappings (the JSON a build writes
and deploy stores beside each zip), so a manifest written by an older or newer
layer-tasks, with fields this version does not know (``bytecode`` ones), still compares.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from layer_tasks.build.footprint import naturalsize
from layer_tasks.config.validate import whole_number
from layer_tasks.errors import LayerError

# What "nothing published yet" compares as: every distribution is then "added".
EMPTY_MANIFEST: dict[str, Any] = {
    "distributions": [],
    "unzipped_bytes": 0,
    "zip_bytes": 0,
    "files": 0,
    "pruned": {},
}
TOTALS = ("unzipped_bytes", "zip_bytes", "files")
# Order of the change kinds in every rendering.
KINDS = ("added", "removed", "upgraded", "downgraded", "changed", "resized")


def load_manifest_file(path: Path) -> dict[str, Any]:
    """A manifest JSON file as a mapping; a `LayerError` naming the file otherwise."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LayerError(f"no manifest at {path}: run `inv layer.build` first") from None
    except (OSError, ValueError) as exc:
        raise LayerError(f"manifest {path} is unreadable: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("distributions", []), list):
        raise LayerError(f"{path} is not a layer manifest (no distributions list)")
    return data


def _int(value: Any) -> int:
    # A manifest field may be missing or of another type in another tool version, and a
    # manifest from S3 is untrusted (json reads Infinity and NaN, which int() raises on).
    number = whole_number(value)
    return 0 if number is None else number


@dataclass(frozen=True)
class Delta:
    old: int
    new: int

    @property
    def delta(self) -> int:
        return self.new - self.old

    def as_dict(self) -> dict[str, int]:
        return {"from": self.old, "to": self.new, "delta": self.delta}


@dataclass(frozen=True)
class DistChange:
    """One distribution that differs; ``kind`` is one of `KINDS`."""

    kind: str
    name: str
    old_version: str | None
    new_version: str | None
    old_bytes: int
    new_bytes: int

    @property
    def delta(self) -> int:
        return self.new_bytes - self.old_bytes

    @property
    def versions(self) -> str:
        if self.old_version is None:
            return str(self.new_version)
        if self.new_version is None or self.old_version == self.new_version:
            return self.old_version
        return f"{self.old_version} -> {self.new_version}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "from_version": self.old_version,
            "to_version": self.new_version,
            "from_bytes": self.old_bytes,
            "to_bytes": self.new_bytes,
            "delta_bytes": self.delta,
        }


def signed_size(n: int) -> str:
    if n == 0:
        return "0 B"
    return ("+" if n > 0 else "-") + naturalsize(abs(n))


@dataclass(frozen=True)
class LayerDiff:
    old_label: str
    new_label: str
    changes: tuple[DistChange, ...]
    totals: dict[str, Delta]
    pruned: dict[str, Delta]
    # Numeric bytecode figures (``bytecode.bytes``...) and the bytecode mode, when the
    # manifests carry them.
    bytecode: dict[str, Delta] = field(default_factory=dict)
    bytecode_mode: tuple[str | None, str | None] = (None, None)
    same_zip: bool = False

    def of_kind(self, kind: str) -> list[DistChange]:
        return [c for c in self.changes if c.kind == kind]

    @property
    def empty(self) -> bool:
        return (
            not self.changes
            and all(d.delta == 0 for d in self.totals.values())
            and all(d.delta == 0 for d in self.pruned.values())
            and all(d.delta == 0 for d in self.bytecode.values())
            and self.bytecode_mode[0] == self.bytecode_mode[1]
        )

    def _pruned_text(self) -> str:
        moved = [(rule, d) for rule, d in sorted(self.pruned.items()) if d.delta]
        return ", ".join(f"{rule} {signed_size(d.delta)}" for rule, d in moved)

    def _bytecode_text(self) -> str:
        parts = []
        old_mode, new_mode = self.bytecode_mode
        if old_mode != new_mode:
            parts.append(f"mode {old_mode or '(none)'} -> {new_mode or '(none)'}")
        for key, d in sorted(self.bytecode.items()):
            if d.delta:
                shown = signed_size(d.delta) if "bytes" in key else f"{d.delta:+,}"
                parts.append(f"{key} {shown}")
        return ", ".join(parts)

    def lines(self) -> list[str]:
        out = [f"diff {self.old_label} -> {self.new_label}"]
        if self.same_zip:
            out.append("  same zip (identical CodeSha256)")
        width = max((len(f"{c.name} {c.versions}") for c in self.changes), default=0)
        for kind in KINDS:
            for c in self.of_kind(kind):
                label = f"{c.name} {c.versions}"
                out.append(f"  {kind:<10}  {label:<{width}}  {signed_size(c.delta):>11}")
        if not self.changes:
            out.append("  no distribution added, removed or changed")
        for key, title in (("unzipped_bytes", "unzipped"), ("zip_bytes", "zipped")):
            d = self.totals[key]
            out.append(
                f"{title:<9} {naturalsize(d.old)} -> {naturalsize(d.new)} "
                f"({signed_size(d.delta)}, {d.delta:+,} bytes)"
            )
        files = self.totals["files"]
        out.append(f"{'files':<9} {files.old:,} -> {files.new:,} ({files.delta:+,})")
        if pruned := self._pruned_text():
            out.append(f"{'pruned':<9} {pruned}")
        if bytecode := self._bytecode_text():
            out.append(f"{'bytecode':<9} {bytecode}")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.old_label,
            "to": self.new_label,
            "same_zip": self.same_zip,
            **{kind: [c.as_dict() for c in self.of_kind(kind)] for kind in KINDS},
            "totals": {key: d.as_dict() for key, d in self.totals.items()},
            "pruned": {rule: d.as_dict() for rule, d in sorted(self.pruned.items())},
            "bytecode": {
                "mode": {"from": self.bytecode_mode[0], "to": self.bytecode_mode[1]},
                **{key: d.as_dict() for key, d in sorted(self.bytecode.items())},
            },
        }

    def as_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2) + "\n"

    def markdown(self) -> str:
        """A short Markdown section (for the CI step summary)."""
        out = [f"**Diff** {self.old_label} → {self.new_label}", ""]
        if self.changes:
            out += ["| change | distribution | version | unzipped |", "|---|---|---|---:|"]
            for kind in KINDS:
                for c in self.of_kind(kind):
                    out.append(f"| {kind} | {c.name} | {c.versions} | {signed_size(c.delta)} |")
        else:
            out.append("No distribution added, removed or changed.")
        out.append("")
        u, z = self.totals["unzipped_bytes"], self.totals["zip_bytes"]
        out.append(
            f"Unzipped {signed_size(u.delta)} ({u.delta:+,} bytes), "
            f"zipped {signed_size(z.delta)} ({z.delta:+,} bytes)."
        )
        if pruned := self._pruned_text():
            out.append(f"Pruned: {pruned}.")
        if bytecode := self._bytecode_text():
            out.append(f"Bytecode: {bytecode}.")
        return "\n".join(out) + "\n"


def _distributions(manifest: Mapping[str, Any]) -> dict[str, tuple[str, str, int]]:
    """canonical name -> (display name, version, unzipped bytes)."""
    found: dict[str, tuple[str, str, int]] = {}
    for d in manifest.get("distributions") or ():
        if not isinstance(d, Mapping) or not d.get("name"):
            continue
        name = str(d["name"])
        found[canonicalize_name(name)] = (
            name,
            str(d.get("version", "")),
            _int(d.get("unzipped_bytes")),
        )
    return found


def _version_kind(old: str, new: str) -> str:
    if old == new:
        return "resized"
    try:
        older, newer = Version(old), Version(new)
    except InvalidVersion:
        return "changed"  # not PEP 440: no order to tell
    if newer == older:
        return "resized"
    return "upgraded" if newer > older else "downgraded"


def _bytecode(manifest: Mapping[str, Any]) -> tuple[dict[str, int], str | None]:
    """Numeric bytecode figures and the mode, from any top-level key naming bytecode.

    Read defensively: the fields are newer than this module and their shape may be a
    mode string, a number, or a mapping of both.
    """
    figures: dict[str, int] = {}
    mode: str | None = None
    for key, value in manifest.items():
        if "bytecode" not in str(key):
            continue
        if isinstance(value, str):
            mode = value
        elif isinstance(value, int) and not isinstance(value, bool):
            figures[str(key)] = value
        elif isinstance(value, Mapping):
            for sub, v in value.items():
                if isinstance(v, int) and not isinstance(v, bool):
                    figures[f"{key}.{sub}"] = v
                elif sub == "mode" and isinstance(v, str):
                    mode = v
    return figures, mode


def diff_manifests(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    *,
    old_label: str = "from",
    new_label: str = "to",
) -> LayerDiff:
    before, after = _distributions(old), _distributions(new)
    changes: list[DistChange] = []
    for key in sorted(before.keys() | after.keys()):
        if key not in before:
            name, version, size = after[key]
            changes.append(DistChange("added", name, None, version, 0, size))
        elif key not in after:
            name, version, size = before[key]
            changes.append(DistChange("removed", name, version, None, size, 0))
        else:
            _, old_version, old_size = before[key]
            name, new_version, new_size = after[key]
            kind = _version_kind(old_version, new_version)
            if kind == "resized" and old_size == new_size:
                continue
            changes.append(DistChange(kind, name, old_version, new_version, old_size, new_size))
    # Largest moves first within each kind.
    changes.sort(key=lambda c: (KINDS.index(c.kind), -abs(c.delta), c.name.lower()))
    old_pruned = {str(k): _int(v) for k, v in (old.get("pruned") or {}).items()}
    new_pruned = {str(k): _int(v) for k, v in (new.get("pruned") or {}).items()}
    old_bc, old_mode = _bytecode(old)
    new_bc, new_mode = _bytecode(new)
    old_sha, new_sha = old.get("code_sha256"), new.get("code_sha256")
    return LayerDiff(
        old_label=old_label,
        new_label=new_label,
        changes=tuple(changes),
        totals={key: Delta(_int(old.get(key)), _int(new.get(key))) for key in TOTALS},
        pruned={
            rule: Delta(old_pruned.get(rule, 0), new_pruned.get(rule, 0))
            for rule in sorted(old_pruned.keys() | new_pruned.keys())
        },
        bytecode={
            key: Delta(old_bc.get(key, 0), new_bc.get(key, 0))
            for key in sorted(old_bc.keys() | new_bc.keys())
        },
        bytecode_mode=(old_mode, new_mode),
        same_zip=bool(old_sha) and old_sha == new_sha,
    )
