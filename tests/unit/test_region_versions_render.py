"""The --all-regions report from plain data: skew lines, the table, JSON and the error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from layer_tasks.errors import LayerError
from layer_tasks.report.region_versions import (
    AllRegionsReport,
    LayerAcross,
    RegionRead,
    Skew,
)

SHA_A = "A" * 43 + "="
SHA_B = "B" * 43 + "="


def row(version: int, sha: str | None, in_config: bool = False) -> dict[str, Any]:
    return {"version": version, "arn": f"arn:{version}", "code_sha256": sha, "in_config": in_config}


def read(region: str, *rows: dict[str, Any], error: str = "") -> RegionRead:
    return RegionRead(region, tuple(rows), error)


def report(*reads: RegionRead, layer: str = "L") -> AllRegionsReport:
    regions = tuple(r.region for r in reads)
    return AllRegionsReport(
        home=regions[0],
        regions=regions,
        stage="prod",
        config=".chalice/config.json",
        layers=(LayerAcross(layer, "x86_64", reads),),
    )


@pytest.mark.parametrize(
    ("by_region", "line"),
    [
        ({"a-1": 4, "b-1": 3}, "latest versions differ: a-1 is at 4, b-1 at 3"),
        ({"a-1": 3, "b-1": 4}, "latest versions differ: b-1 is at 4, a-1 at 3"),
        (
            {"a-1": 4, "b-1": 3, "c-1": 4, "d-1": None},
            "latest versions differ: a-1 and c-1 are at 4, b-1 at 3, d-1 has none",
        ),
        (
            {"a-1": None, "b-1": 2, "c-1": None, "d-1": 1, "e-1": 2},
            "latest versions differ: b-1 and e-1 are at 2, d-1 at 1, a-1 and c-1 have none",
        ),
    ],
)
def test_latest_skew_line(by_region: dict[str, int | None], line: str) -> None:
    assert Skew("latest", None, by_region).line() == line


def test_code_sha256_skew_line_is_short_in_text_and_whole_in_json() -> None:
    skew = Skew("code_sha256", 2, {"a-1": SHA_A, "b-1": SHA_B, "c-1": SHA_A})
    assert (
        skew.line()
        == "version 2 has different CodeSha256: AAAAAAAAAAAA in a-1 and c-1, BBBBBBBBBBBB in b-1"
    )
    data = skew.data()
    assert (
        data["message"]
        == f"version 2 has different CodeSha256: {SHA_A} in a-1 and c-1, {SHA_B} in b-1"
    )
    assert data["by_region"] == {"a-1": SHA_A, "b-1": SHA_B, "c-1": SHA_A}


def test_the_table_places_each_version_under_its_region() -> None:
    r = report(
        read("us-east-1", row(3, SHA_A, in_config=True), row(1, SHA_A)),
        read("ap-northeast-2", row(2, SHA_B), row(1, SHA_B)),
    )
    lines = r.text().splitlines()
    assert lines[0] == "layer L (x86_64)"
    assert lines[1].split() == ["version", "us-east-1", "ap-northeast-2"]
    assert [line.split() for line in lines[2:5]] == [
        ["3", "AAAAAAAAAAAA*", "-"],
        ["2", "-", "BBBBBBBBBBBB"],
        ["1", "AAAAAAAAAAAA", "BBBBBBBBBBBB"],
    ]
    assert all(line == line.rstrip() for line in lines)
    # The columns line up under their region's name.
    assert lines[2].index("AAAA") == lines[1].index("us-east-1")
    assert lines[3].index("BBBB") == lines[1].index("ap-northeast-2")
    assert lines[5:7] == [
        "skew: latest versions differ: us-east-1 is at 3, ap-northeast-2 at 2",
        "skew: version 1 has different CodeSha256: AAAAAAAAAAAA in us-east-1, "
        "BBBBBBBBBBBB in ap-northeast-2",
    ]
    assert "*: used by stage prod in .chalice/config.json (home region us-east-1)" in lines
    r.check()  # skew is reported, not an error


def test_regions_in_step_say_so() -> None:
    r = report(read("a-1", row(2, SHA_A), row(1, SHA_B)), read("b-1", row(2, SHA_A), row(1, SHA_B)))
    assert r.layers[0].skew() == ()
    assert "in step: a-1 and b-1 are at 2, with the same CodeSha256 for each version" in r.text()
    assert "*:" not in r.text()  # no version in the stage: no legend for it


def test_one_region_has_no_skew_and_no_in_step_line() -> None:
    text = report(read("a-1", row(1, SHA_A))).text()
    assert "skew" not in text and "in step" not in text


def test_an_unreadable_region_is_unknown_not_skew() -> None:
    r = report(
        read("a-1", row(2, SHA_A), row(1, SHA_A)),
        read("b-1", error="access denied on ListLayerVersions: grant it"),
        read("c-1", row(2, SHA_A), row(1, SHA_A)),
    )
    assert r.layers[0].skew() == ()
    assert r.unreadable == {"b-1": "access denied on ListLayerVersions: grant it"}
    lines = r.text().splitlines()
    assert lines[2].split() == ["2", "AAAAAAAAAAAA", "?", "AAAAAAAAAAAA"]
    assert "b-1: not read: access denied on ListLayerVersions: grant it" in lines
    data = json.loads(r.json())
    assert data["unreadable"] == {"b-1": "access denied on ListLayerVersions: grant it"}
    assert data["layers"][0]["regions"]["b-1"] == {
        "error": "access denied on ListLayerVersions: grant it",
        "latest": None,
        "versions": [],
    }
    with pytest.raises(LayerError) as raised:
        r.check()
    assert str(raised.value) == (
        "layer versions could not be read in 1 of 3 regions, so the listing is incomplete: "
        "b-1: access denied on ListLayerVersions: grant it"
    )


def test_a_version_without_a_code_sha256_is_not_skew() -> None:
    # Deleted between ListLayerVersions and GetLayerVersion: its CodeSha256 is unknown.
    r = report(read("a-1", row(1, SHA_A)), read("b-1", row(1, None)))
    assert r.layers[0].skew() == ()
    assert r.text().splitlines()[2].split() == ["1", "AAAAAAAAAAAA", "?"]


def test_nothing_published_anywhere() -> None:
    r = report(read("a-1"), read("b-1"))
    assert "no versions in any region read" in r.text()
    with pytest.raises(LayerError, match=r"layer L has no published versions in a-1 and b-1"):
        r.check()
