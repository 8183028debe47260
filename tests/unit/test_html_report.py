"""The size-report page as a pure function: layout, escaping, what it embeds."""

from __future__ import annotations

import json
import re
from itertools import combinations

import html5lib
from hypothesis import given
from hypothesis import strategies as st

from layer_tasks.report.html import Rect, render, squarify


def _overlap(a: Rect, b: Rect) -> float:
    w = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    h = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    return max(w, 0) * max(h, 0)


@given(st.lists(st.integers(1, 10**8), min_size=1, max_size=40))
def test_squarify_tiles_the_box_in_proportion(sizes: list[int]) -> None:
    sizes.sort(reverse=True)
    box = Rect(10, 20, 960, 520)
    rects = squarify(sizes, box)
    assert len(rects) == len(sizes)
    total = sum(sizes)
    for size, r in zip(sizes, rects, strict=True):
        assert abs(r.w * r.h - size / total * box.w * box.h) <= 1e-6 * box.w * box.h
        assert r.x >= box.x - 1e-6 and r.y >= box.y - 1e-6
        assert r.x + r.w <= box.x + box.w + 1e-6 and r.y + r.h <= box.y + box.h + 1e-6
    for a, b in combinations(rects, 2):
        assert _overlap(a, b) <= 1e-6 * box.w * box.h


def test_squarify_keeps_blocks_close_to_square() -> None:
    rects = squarify([6, 6, 4, 3, 2, 2, 1], Rect(0, 0, 6, 4))  # the paper's example
    assert max(max(r.w / r.h, r.h / r.w) for r in rects) < 3


def _data(names: list[str]) -> dict:
    dists = [
        {
            "name": n,
            "version": "1.0",
            "unzipped_bytes": 1000 * (len(names) - i),
            "share": 0.0,
            "files": 3,
            "folders": {
                f"{n}/pkg": 700 * (len(names) - i),
                f"{n}.dist-info": 300 * (len(names) - i),
            },
        }
        for i, n in enumerate(names)
    ]
    total = sum(d["unzipped_bytes"] for d in dists)
    return {
        "name": "x",
        "runtime": "python3.12",
        "architecture": "x86_64",
        "distributions": dists,
        "distributions_total": len(dists),
        "other_bytes": 0,
        "unzipped_bytes": total,
        "zip_bytes": total // 3,
        "files": 9,
        "installed_bytes": total + 50,
        "pruned": {"<b>rule</b>": 50},
        "pruned_bytes": 50,
        "limits": {"unzipped_limit_bytes": 262_144_000, "direct_upload_limit_bytes": 52_428_800},
        "budget": {
            "budget_bytes": 262_144_000,
            "reserve_bytes": 0,
            "margin_bytes": 1,
            "over": False,
        },
    }


def test_every_name_is_escaped_and_the_json_cannot_end_its_script() -> None:
    hostile = '</script><script>alert("x")</script>'
    data = _data([hostile, 'quote"&amp', "plain"])
    page = render(data)
    assert "<script>alert" not in page and "<b>rule</b>" not in page
    assert 'quote"&amp' not in page  # the attribute and text forms are both escaped
    html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(page)
    # Exactly the two scripts the page has: the data and the hover script.
    assert len(re.findall(r"<script\b", page)) == 2
    embedded = re.search(r'id="layer-data">(.*?)</script>', page, re.S)
    assert embedded is not None and json.loads(embedded.group(1)) == data


def test_limits_and_over_the_limit_are_shown() -> None:
    data = _data(["big"])
    data["unzipped_bytes"] = 300_000_000
    data["budget"]["reserve_bytes"] = 10 * 1024 * 1024
    page = render(data)
    assert "310,485,760 of 262,144,000 bytes" in page and "OVER by" in page
    assert "Lambda limit 250.0 MiB" in page and "direct upload 50.0 MiB" in page
