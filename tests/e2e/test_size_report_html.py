"""`inv layer.size-report --html FILE`: one self-contained page, checked offline and in Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import html5lib
import pytest
from support.browser import colours, dump_dom, needs_chromium, screenshot
from support.cli import inv_here, make_project


def _page(project: Path, out: Path) -> str:
    proc = inv_here(project, "layer.size-report", "--html", str(out))
    assert proc.returncode == 0, proc.stderr
    return out.read_text(encoding="utf-8")


def _largest(project: Path) -> list[str]:
    data = json.loads(inv_here(project, "layer.size-report", "--json").stdout)
    return [d["name"] for d in data["distributions"]]


def test_page_is_self_contained_valid_html_naming_the_largest(
    small_project: Path, tmp_path: Path
) -> None:
    page = _page(small_project, tmp_path / "size.html")
    assert not re.search(r"https?://", page, re.IGNORECASE)  # no fetch of any kind
    assert not re.search(r"\s(src|href)=", page)  # no external script, style, image or font
    # html5lib's strict parser raises on every HTML5 parse error.
    html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(page)
    names = _largest(small_project)
    assert names == ["alpha", "beta"]
    for name in names:
        assert f">{name} " in page  # a treemap label or table cell
        assert f'class="dist" data-tip="{name} ' in page  # its block, with hover details
    assert "262,144,000" in page and "52,428,800" in page  # both Lambda limits
    assert "<td>tests</td>" in page and "<td>scripts</td>" in page  # pruned bytes per rule


def test_page_embeds_the_same_data_as_json(small_project: Path, tmp_path: Path) -> None:
    page = _page(small_project, tmp_path / "size.html")
    embedded = re.search(r'<script type="application/json" id="layer-data">(.*?)</script>', page)
    assert embedded is not None
    report = json.loads(inv_here(small_project, "layer.size-report", "--json").stdout)
    assert json.loads(embedded.group(1)) == report
    # Folders inside each distribution come from the build: beta's package and dist-info.
    beta = next(d for d in report["distributions"] if d["name"] == "beta")
    assert set(beta["folders"]) == {"beta", "beta-2.0.dist-info"}
    assert sum(beta["folders"].values()) == beta["unzipped_bytes"]


def test_a_missing_folder_fails_before_building(tmp_path: Path, wheelhouse: Path) -> None:
    project = make_project(tmp_path / "p", wheelhouse, "alpha==1.0")
    proc = inv_here(project, "layer.size-report", "--html", str(tmp_path / "nowhere" / "size.html"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"error: --html {tmp_path / 'nowhere' / 'size.html'}: folder {tmp_path / 'nowhere'} "
        "does not exist; create it first"
    ]
    assert not (project / "dist").exists() and not (project / ".state").exists()


@pytest.mark.chromium
@needs_chromium
def test_chromium_draws_the_treemap(small_project: Path, tmp_path: Path) -> None:
    page = tmp_path / "size.html"
    _page(small_project, page)
    dom = dump_dom(page)
    for name in _largest(small_project):
        assert f">{name} " in dom
    # The inline script ran: it filled the detail line from the embedded JSON.
    assert re.search(r'<div id="detail">2 distributions, [\d,]+ bytes unzipped', dom), dom[:2000]
    distinct, coloured = colours(screenshot(page, tmp_path / "size.png"))
    # A text-only page has antialiased greys and no coloured pixel (measured: 0.0); one
    # flat colour would be a single distinct value.
    assert coloured > 0.15, (distinct, coloured)
    assert distinct > 50, (distinct, coloured)


def test_dash_h_is_still_help(project: Path) -> None:
    proc = inv_here(project, "layer.size-report", "-h")
    assert proc.returncode == 0, proc.stderr
    assert "--html=STRING" in proc.stdout and "Usage:" in proc.stdout
