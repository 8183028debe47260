"""diff_manifests on two manifests (plain JSON mappings, as builds write and S3 stores)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from layer_tasks.errors import LayerError
from layer_tasks.report.compare import parse_side
from layer_tasks.report.diff import EMPTY_MANIFEST, diff_manifests, load_manifest_file


def _manifest(dists: list[tuple[str, str, int]], **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "demo",
        "code_sha256": "x",
        "distributions": [
            {"name": n, "version": v, "unzipped_bytes": b, "files": 3} for n, v, b in dists
        ],
        "unzipped_bytes": sum(b for _, _, b in dists),
        "zip_bytes": sum(b for _, _, b in dists) // 3,
        "files": 3 * len(dists),
        "pruned": {},
    }
    data.update(fields)
    return data


# Each distribution before and after (None: not in that build); names spelt as the
# wheel spelt them, so "Same-Name" and "same_name" are one distribution.
PAIRS = [
    (("numpy", "1.26.4", 70_000_000), ("numpy", "2.1.3", 75_000_000)),
    (("grpcio", "1.66.0", 19_000_000), ("grpcio", "1.65.5", 18_900_000)),
    (("simplejson", "3.19.2", 400_000), None),
    (None, ("pgvector", "0.3.6", 120_000)),
    (("requests", "2.32.3", 300_000), ("requests", "2.32.3", 290_000)),
    (("weird", "abc", 1_000), ("weird", "abd", 1_000)),
    (("Same-Name", "1.0", 5_000), ("same_name", "1.0", 5_000)),
]
OLD = _manifest(
    [old for old, _ in PAIRS if old],
    code_sha256="old",
    pruned={"tests": 2_000_000, "docs": 100},
)
NEW = _manifest(
    [new for _, new in PAIRS if new],
    code_sha256="new",
    pruned={"tests": 2_500_000, "strip_so": 11_000_000},
)


def test_each_kind_of_change_with_its_size_delta() -> None:
    d = diff_manifests(OLD, NEW, old_label="version 3", new_label="local")
    by_kind = {
        kind: [(c.name, c.versions, c.delta) for c in d.of_kind(kind)]
        for kind in ("added", "removed", "upgraded", "downgraded", "changed", "resized")
    }
    assert by_kind == {
        "added": [("pgvector", "0.3.6", 120_000)],
        "removed": [("simplejson", "3.19.2", -400_000)],
        "upgraded": [("numpy", "1.26.4 -> 2.1.3", 5_000_000)],
        "downgraded": [("grpcio", "1.66.0 -> 1.65.5", -100_000)],
        # Not PEP 440 versions: no order, only "changed".
        "changed": [("weird", "abc -> abd", 0)],
        # Same version, other size (a prune rule changed).
        "resized": [("requests", "2.32.3", -10_000)],
    }
    # "Same-Name" and "same_name" are one distribution (names are normalised), unchanged.
    assert all(c.name.lower().replace("_", "-") != "same-name" for c in d.changes)
    assert not d.same_zip


def test_totals_prune_and_json() -> None:
    d = diff_manifests(OLD, NEW, old_label="version 3", new_label="local")
    u = d.totals["unzipped_bytes"]
    assert (u.old, u.new) == (OLD["unzipped_bytes"], NEW["unzipped_bytes"])
    assert u.delta == NEW["unzipped_bytes"] - OLD["unzipped_bytes"]
    assert {r: p.delta for r, p in d.pruned.items()} == {
        "docs": -100,
        "strip_so": 11_000_000,
        "tests": 500_000,
    }
    data = json.loads(d.as_json())
    assert data["from"] == "version 3" and data["to"] == "local"
    assert [c["name"] for c in data["added"]] == ["pgvector"]
    assert data["upgraded"][0] == {
        "kind": "upgraded",
        "name": "numpy",
        "from_version": "1.26.4",
        "to_version": "2.1.3",
        "from_bytes": 70_000_000,
        "to_bytes": 75_000_000,
        "delta_bytes": 5_000_000,
    }
    assert data["totals"]["zip_bytes"]["delta"] == NEW["zip_bytes"] - OLD["zip_bytes"]
    assert data["pruned"]["strip_so"] == {"from": 0, "to": 11_000_000, "delta": 11_000_000}


def test_text_lines_name_each_change_and_total() -> None:
    lines = diff_manifests(OLD, NEW, old_label="version 3", new_label="local").lines()
    text = "\n".join(lines)
    assert lines[0] == "diff version 3 -> local"
    assert any(line.split()[:3] == ["upgraded", "numpy", "1.26.4"] for line in lines)
    assert any(line.split()[:2] == ["added", "pgvector"] and "+117.2 KiB" in line for line in lines)
    assert any(line.split()[:2] == ["removed", "simplejson"] for line in lines)
    assert "unzipped" in text and "zipped" in text
    assert "pruned    docs -100 Bytes, strip_so +10.5 MiB, tests +488.3 KiB" in lines


def test_bytecode_fields_are_read_whatever_their_shape() -> None:
    old = _manifest([("a", "1", 10)], bytecode={"mode": "imported", "bytes": 1000, "files": 7})
    new = _manifest([("a", "1", 10)], bytecode={"mode": "all", "bytes": 5000, "files": 20})
    d = diff_manifests(old, new)
    assert d.bytecode_mode == ("imported", "all")
    assert {k: v.delta for k, v in d.bytecode.items()} == {
        "bytecode.bytes": 4000,
        "bytecode.files": 13,
    }
    assert (
        "bytecode  mode imported -> all, bytecode.bytes +3.9 KiB, bytecode.files +13" in d.lines()
    )
    # A flat shape, and a manifest without any bytecode field (an older build).
    flat = diff_manifests(_manifest([]), _manifest([], bytecode="none", bytecode_bytes=42))
    assert flat.bytecode_mode == (None, "none")
    assert flat.bytecode["bytecode_bytes"].delta == 42


def test_same_zip_and_nothing_published() -> None:
    same = diff_manifests(OLD, OLD)
    assert same.same_zip and same.empty
    assert "  no distribution added, removed or changed" in same.lines()
    first = diff_manifests(EMPTY_MANIFEST, NEW, old_label="(nothing published)")
    assert {c.kind for c in first.changes} == {"added"}
    assert first.totals["unzipped_bytes"].delta == NEW["unzipped_bytes"]


def test_a_manifest_with_missing_or_odd_fields_still_compares() -> None:
    odd = {"distributions": [{"name": "a"}, "not a mapping", {"version": "1"}], "pruned": None}
    d = diff_manifests(odd, _manifest([("a", "2.0", 5)]))
    assert [(c.kind, c.name) for c in d.changes] == [("changed", "a")]
    assert d.totals["files"].old == 0


def test_markdown_has_a_row_per_change() -> None:
    md = diff_manifests(OLD, NEW, old_label="version 3", new_label="local").markdown()
    assert "| upgraded | numpy | 1.26.4 -> 2.1.3 | +4.8 MiB |" in md
    assert "| added | pgvector | 0.3.6 | +117.2 KiB |" in md


def test_manifest_files_and_sides(tmp_path: Path) -> None:
    good = tmp_path / "m.json"
    good.write_text(json.dumps(NEW))
    assert load_manifest_file(good)["code_sha256"] == "new"
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(LayerError, match="not a layer manifest"):
        load_manifest_file(bad)
    with pytest.raises(LayerError, match=r"run `inv layer\.build` first"):
        load_manifest_file(tmp_path / "missing.json")

    assert parse_side("7", base_dir=tmp_path).version == 7
    assert parse_side("local", base_dir=tmp_path).kind == "local"
    assert parse_side("latest", base_dir=tmp_path).needs_aws
    assert parse_side("m.json", base_dir=tmp_path).path == good
    for wrong in ("0", "-1", "v3", "nope.json", "٣"):
        with pytest.raises(LayerError):
            parse_side(wrong, base_dir=tmp_path)


_dists = st.dictionaries(
    st.sampled_from(["numpy", "grpcio", "six", "idna", "Zope.Interface", "zope-interface"]),
    st.tuples(st.sampled_from(["1.0", "1.1", "2.0", "2.0.post1", "x"]), st.integers(0, 10**9)),
    max_size=6,
)


@given(old=_dists, new=_dists)
def test_per_distribution_deltas_add_up(
    old: dict[str, tuple[str, int]], new: dict[str, tuple[str, int]]
) -> None:
    a = _manifest([(n, v, b) for n, (v, b) in old.items()])
    b = _manifest([(n, v, b) for n, (v, b) in new.items()])
    d = diff_manifests(a, b)

    def by_name(m: dict[str, Any]) -> dict[str, tuple[str, int]]:
        # Later entries win for names that normalise alike, as in the diff.
        return {
            canonicalize_name(x["name"]): (x["version"], x["unzipped_bytes"])
            for x in m["distributions"]
        }

    before, after = by_name(a), by_name(b)
    total = sum(s for _, s in after.values()) - sum(s for _, s in before.values())
    assert sum(c.delta for c in d.changes) == total
    assert len(d.of_kind("added")) == len(after.keys() - before.keys())
    assert len(d.of_kind("removed")) == len(before.keys() - after.keys())
    unchanged = [k for k in before.keys() & after.keys() if before[k] == after[k]]
    assert len(d.changes) == len(before.keys() | after.keys()) - len(unchanged)
    # Swapping the sides swaps added/removed and negates every delta.
    back = diff_manifests(b, a)
    assert {canonicalize_name(c.name): -c.delta for c in d.changes} == {
        canonicalize_name(c.name): c.delta for c in back.changes
    }
    assert len(back.of_kind("added")) == len(d.of_kind("removed"))
