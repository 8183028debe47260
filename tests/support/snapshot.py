"""What "nothing changed" is checked against: a project's files and the AWS state."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from support.faults import client


def project_files(root: Path, skip: tuple[str, ...] = (".state",)) -> dict[str, tuple[str, int]]:
    """Every file below ``root`` (not the build's state folder): content hash and mode;
    a symlink by its target. Folders are not listed: an empty one left behind is not
    a change a user sees."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(skip) or (path.is_dir() and not path.is_symlink()):
            continue
        if path.is_symlink():
            out[rel] = (f"-> {os.readlink(path)}", 0)
        elif path.is_file():
            out[rel] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mode)
    return out


def aws_state(endpoint: str, layer_name: str) -> tuple[list[str], list[str], list[str]]:
    """Buckets, object keys and the layer's versions on a moto server."""
    s3 = client(endpoint, "s3")
    buckets = sorted(b["Name"] for b in s3.list_buckets().get("Buckets", []))
    objects: list[Any] = []
    for bucket in buckets:
        objects += [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    versions = client(endpoint, "lambda").list_layer_versions(LayerName=layer_name)
    return buckets, sorted(objects), [v["LayerVersionArn"] for v in versions["LayerVersions"]]
