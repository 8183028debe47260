"""Bytes per top-level folder inside each distribution (the treemap's inner blocks)."""

from __future__ import annotations

from pathlib import Path

from layer_tasks.build.footprint import distributions_footprint
from layer_tasks.build.verify import read_records


def _write(tree: Path, rel: str, size: int) -> str:
    path = tree / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return rel


def _dist(tree: Path, name: str, files: dict[str, int]) -> None:
    info = f"{name}-1.0.dist-info"
    rels = [_write(tree, rel, size) for rel, size in files.items()]
    _write(tree, f"{info}/METADATA", 0)
    (tree / info / "METADATA").write_text(f"Name: {name}\nVersion: 1.0\n")
    (tree / info / "RECORD").write_text("".join(f"{r},,\n" for r in [*rels, f"{info}/METADATA"]))


def test_folders_split_namespace_packages_and_add_up(tmp_path: Path) -> None:
    _dist(tmp_path, "google-auth", {"google/auth/__init__.py": 100, "google/auth/x.py": 50})
    _dist(tmp_path, "protobuf", {"google/protobuf/__init__.py": 400, "google/_upb/_m.so": 30})
    _dist(
        tmp_path, "numpy", {"numpy/__init__.py": 10, "numpy/core/a.so": 900, "numpy.libs/l.so": 700}
    )
    _dist(tmp_path, "six", {"six.py": 20})
    dists, unowned, _total = distributions_footprint(tmp_path, read_records(tmp_path))
    by = {d.name: d for d in dists}
    assert unowned == 0
    assert set(by["google-auth"].folders) == {"google/auth", "google-auth-1.0.dist-info"}
    assert by["google-auth"].folders["google/auth"] == 150
    assert by["protobuf"].folders["google/protobuf"] == 400
    assert by["protobuf"].folders["google/_upb"] == 30
    # numpy has an __init__: its subfolders are numpy's, not split further.
    assert by["numpy"].folders["numpy"] == 910 and by["numpy"].folders["numpy.libs"] == 700
    assert list(by["numpy"].folders)[:2] == ["numpy", "numpy.libs"]  # largest first
    assert by["six"].folders["six.py"] == 20
    for d in dists:
        assert sum(d.folders.values()) == d.unzipped_bytes
