"""The build manifest: what a layer zip holds, written beside it as JSON.

Its keys are part of the interface contract (design.md): ``name``, ``python``,
``architecture``, ``code_sha256`` (base64, as Lambda reports it), ``zip_bytes``,
``unzipped_bytes``, ``files``, ``requirements_sha256``, ``distributions`` and ``pruned``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import LayerError
from .fsutil import atomic_write_text


@dataclass(frozen=True)
class Distribution:
    name: str
    version: str
    unzipped_bytes: int
    files: int
    top_level: tuple[str, ...] = ()


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
    # mode, requested, python (the compiler's version), files, bytes, proven,
    # skipped_reason; empty in manifests written before the layer carried bytecode.
    bytecode: dict[str, Any] = field(default_factory=dict)

    @property
    def runtime(self) -> str:
        return f"python{self.python}"

    def to_json(self) -> str:
        data = asdict(self)
        return json.dumps(data, indent=2, sort_keys=False) + "\n"

    def write(self, path: Path) -> None:
        atomic_write_text(path, self.to_json())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        dists = tuple(
            Distribution(
                name=d["name"],
                version=d["version"],
                unzipped_bytes=int(d["unzipped_bytes"]),
                files=int(d["files"]),
                top_level=tuple(d.get("top_level", ())),
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
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls.from_dict(data)
        except FileNotFoundError:
            raise LayerError(f"no manifest at {path}: run `inv layer.build` first") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise LayerError(
                f"manifest {path} is unreadable ({exc}): run `inv layer.build --force`"
            ) from None
