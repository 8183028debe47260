"""The build manifest: what a layer zip holds, written beside it as JSON.

Its keys are part of the interface contract (design.md): ``name``, ``python``,
``architecture``, ``code_sha256`` (base64, as Lambda reports it), ``zip_bytes``,
``unzipped_bytes``, ``files``, ``requirements_sha256``, ``distributions`` and ``pruned``.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from layer_tasks.config.platform import lambda_runtime
from layer_tasks.errors import LayerError
from layer_tasks.util.bounds import check_json_depth, read_bounded
from layer_tasks.util.fsutil import atomic_write_text


@dataclass(frozen=True)
class Distribution:
    name: str
    version: str
    unzipped_bytes: int
    files: int
    top_level: tuple[str, ...] = ()
    # Bytes per top-level folder or file ("google/auth" inside a namespace package),
    # largest first: what the HTML treemap draws and what `--imports` imports.
    folders: dict[str, int] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Manifest:
    name: str
    python: str
    architecture: str
    code_sha256: str
    zip_bytes: int
    unzipped_bytes: int
    files: int
    requirements_sha256: str
    distributions: tuple[Distribution, ...]
    pruned: dict[str, int]
    # Bytes not owned by any distribution's RECORD (e.g. a stray folder); kept so the
    # per-distribution figures add up to `unzipped_bytes`.
    unowned_bytes: int = 0
    installed_bytes: int = 0
    build_key: str = ""
    tool_version: str = ""
    installer: str = ""
    compression_level: int = 9
    verify: dict[str, Any] = field(default_factory=dict)
    # The static ELF check (elf_check.py): {"files": N, ...}; {} when it did not run or
    # the manifest is older than the check.
    elf: dict[str, Any] = field(default_factory=dict)
    # The PEP 751 lock the layer was installed from ({"file", "sha256"}); empty without one.
    lock: dict[str, str] = field(default_factory=dict)
    # mode, requested, python (the compiler's version), files, bytes, proven,
    # skipped_reason; empty in manifests written before the layer carried bytecode.
    bytecode: dict[str, Any] = field(default_factory=dict)

    @property
    def runtime(self) -> str:
        return lambda_runtime(self.python)

    def to_json(self) -> str:
        data = asdict(self)
        return json.dumps(data, indent=2, sort_keys=False) + "\n"

    def write(self, path: Path) -> None:
        atomic_write_text(path, self.to_json())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        _check_fields(data)
        dists = tuple(
            Distribution(
                name=d["name"],
                version=d["version"],
                unzipped_bytes=int(d["unzipped_bytes"]),
                files=int(d["files"]),
                top_level=tuple(d.get("top_level", ())),
                folders={str(k): int(v) for k, v in d.get("folders", {}).items()},
            )
            for d in data.get("distributions", ())
        )
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        values["distributions"] = dists
        values["pruned"] = {str(k): int(v) for k, v in data.get("pruned", {}).items()}
        return cls(**values)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            text = read_bounded(Path(path), "manifest").decode("utf-8")
            check_json_depth(text, f"manifest {path}")
            return cls.from_dict(json.loads(text))
        except FileNotFoundError:
            raise LayerError(f"no manifest at {path}: run `inv layer.build` first") from None
        except (ValueError, KeyError, TypeError, OSError) as exc:
            raise LayerError(
                f"manifest {path} is unreadable ({exc}): run `inv layer.build --force`"
            ) from None


# The JSON type each field must have: a manifest edited by hand ("zip_bytes": "12")
# would otherwise fail later, far from here, as a TypeError in the size arithmetic.
_FIELD_TYPES: dict[str, type] = {
    "name": str,
    "python": str,
    "architecture": str,
    "code_sha256": str,
    "zip_bytes": int,
    "unzipped_bytes": int,
    "files": int,
    "requirements_sha256": str,
    "distributions": list,
    "pruned": dict,
    "unowned_bytes": int,
    "installed_bytes": int,
    "build_key": str,
    "tool_version": str,
    "installer": str,
    "compression_level": int,
    "verify": dict,
}
_DIST_TYPES: dict[str, type] = {
    "name": str,
    "version": str,
    "unzipped_bytes": int,
    "files": int,
    "top_level": list,
}


def _is(value: Any, kind: type) -> bool:
    # JSON true/false are ints to Python; a count or a size is never one.
    return isinstance(value, kind) and not (isinstance(value, bool) and kind is int)


def _check_fields(data: Any) -> None:
    if not isinstance(data, dict):
        raise ValueError("it must hold a JSON object")
    required = [
        f.name for f in fields(Manifest) if f.default is MISSING and f.default_factory is MISSING
    ]
    missing = [key for key in required if key not in data]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    for key, kind in _FIELD_TYPES.items():
        if key in data and not _is(data[key], kind):
            raise ValueError(f"{key} is {data[key]!r}, not {_type_name(kind)}")
    for i, dist in enumerate(data["distributions"]):
        if not isinstance(dist, dict):
            raise ValueError(f"distributions[{i}] is not an object")
        for key, kind in _DIST_TYPES.items():
            if (key in dist or key != "top_level") and not _is(dist.get(key), kind):
                raise ValueError(
                    f"distributions[{i}].{key} is {dist.get(key)!r}, not {_type_name(kind)}"
                )
        if not all(isinstance(name, str) for name in dist.get("top_level", [])):
            raise ValueError(f"distributions[{i}].top_level must list strings")
    for rule, size in data["pruned"].items():
        if not _is(size, int):
            raise ValueError(f"pruned.{rule} is {size!r}, not a whole number")


def _type_name(kind: type) -> str:
    return {str: "text", int: "a whole number", list: "a list", dict: "an object"}[kind]
