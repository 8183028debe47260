"""The size report as one self-contained HTML page (`inv layer.size-report --html FILE`).

Everything is computed here and written inline: the treemap is SVG laid out in Python
(squarified, Bruls et al. 2000), the styles and the small hover script are in the page,
and the report's data is embedded as JSON. The page fetches nothing, so it works opened
from disk, attached to a CI run or mailed. Without JavaScript it still shows everything;
SVG ``<title>`` elements give the hover details, the script only mirrors them into a
panel that stays put.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layer_tasks.build.footprint import naturalsize
from layer_tasks.errors import LayerError
from layer_tasks.util.fsutil import atomic_write_text

WIDTH, HEIGHT = 960, 520  # treemap, in SVG user units (the page scales it)
_HEADER = 18  # a distribution's label strip above its folders
_CHAR = 6.6  # rough width of one 11px sans-serif character, to cut labels that would overflow


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float


def _worst(row: Sequence[float], side: float) -> float:
    """The worst aspect ratio in ``row`` laid along a side of length ``side``."""
    total = sum(row)
    return max(side * side * max(row) / (total * total), total * total / (side * side * min(row)))


def squarify(sizes: Sequence[float], box: Rect) -> list[Rect]:
    """Rectangles tiling ``box`` with areas proportional to ``sizes`` (largest first).

    Sizes must be positive and sorted from largest to smallest; the result is in the
    same order.
    """
    total = sum(sizes)
    if not sizes or total <= 0 or box.w <= 0 or box.h <= 0:
        return []
    scale = box.w * box.h / total
    areas = [s * scale for s in sizes]
    x, y, w, h = box.x, box.y, box.w, box.h
    out: list[Rect] = []
    i = 0
    while i < len(areas):
        side = min(w, h)
        row = [areas[i]]
        i += 1
        while i < len(areas) and _worst([*row, areas[i]], side) <= _worst(row, side):
            row.append(areas[i])
            i += 1
        strip = sum(row)
        column = w >= h  # a column on the left, else a row on top
        side = h if column else w
        thick = strip / side if side else 0.0
        along = y if column else x
        for a in row:
            length = a / thick if thick else 0.0
            out.append(Rect(x, along, thick, length) if column else Rect(along, y, length, thick))
            along += length
        if column:
            x, w = x + thick, w - thick
        else:
            y, h = y + thick, h - thick
    return out


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _fit(text: str, width: float) -> str:
    """``text`` cut to what fits in ``width`` units, or "" when not even a few letters do."""
    room = int((width - 6) / _CHAR)
    if room < 3:
        return ""
    return text if len(text) <= room else text[: room - 1] + "…"


def _pct(part: float, whole: float) -> str:
    return f"{part / whole * 100:.1f}%" if whole else "0%"


def _hue(i: int) -> float:
    return (i * 137.508 + 210) % 360  # golden angle: neighbours get distant hues


def _treemap(data: Mapping[str, Any]) -> str:
    total = int(data["unzipped_bytes"])
    blocks: list[tuple[str, str, int, Mapping[str, int]]] = [
        (d["name"], d.get("version", ""), int(d["unzipped_bytes"]), d.get("folders") or {})
        for d in data["distributions"]
        if int(d["unzipped_bytes"]) > 0
    ]
    if int(data.get("other_bytes", 0)) > 0:
        hidden = int(data.get("distributions_total", 0)) - len(data["distributions"])
        label = f"(other: {hidden} more + unowned)" if hidden > 0 else "(not in any RECORD)"
        blocks.append((label, "", int(data["other_bytes"]), {}))
    blocks.sort(key=lambda b: -b[2])
    parts = [
        f'<svg id="treemap" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="treemap of the unzipped layer by distribution">'
    ]
    rects = squarify([b[2] for b in blocks], Rect(0, 0, WIDTH, HEIGHT))
    for i, ((name, version, size, folders), r) in enumerate(zip(blocks, rects, strict=True)):
        hue = _hue(i)
        tip = (
            f"{name} {version}".strip()
            + f": {naturalsize(size)} ({size:,} bytes, {_pct(size, total)})"
        )
        parts.append(f'<g class="dist" data-tip="{_e(tip)}"><title>{_e(tip)}</title>')
        parts.append(
            f'<rect x="{r.x:.2f}" y="{r.y:.2f}" width="{r.w:.2f}" height="{r.h:.2f}" '
            f'fill="hsl({hue:.0f},45%,38%)" stroke="#fff" stroke-width="1"/>'
        )
        inner = Rect(r.x + 2, r.y + _HEADER, r.w - 4, r.h - _HEADER - 2)
        if folders and inner.w > 8 and inner.h > 8:
            items = sorted(
                ((k, int(v)) for k, v in folders.items() if int(v) > 0), key=lambda kv: -kv[1]
            )
            scale_to = sum(v for _, v in items)
            for j, ((folder, fsize), fr) in enumerate(
                zip(items, squarify([v for _, v in items], inner), strict=True)
            ):
                ftip = f"{name}: {folder}: {naturalsize(fsize)} ({fsize:,} bytes, {_pct(fsize, scale_to)} of {name})"
                light = 58 + (j % 4) * 7
                parts.append(
                    f'<g class="folder" data-tip="{_e(ftip)}"><title>{_e(ftip)}</title>'
                    f'<rect x="{fr.x:.2f}" y="{fr.y:.2f}" width="{fr.w:.2f}" height="{fr.h:.2f}" '
                    f'fill="hsl({hue:.0f},55%,{light}%)" stroke="hsl({hue:.0f},45%,38%)" stroke-width="0.6"/>'
                )
                label = _fit(f"{folder} {naturalsize(fsize)}", fr.w) if fr.h >= 14 else ""
                if label:
                    parts.append(
                        f'<text x="{fr.x + 3:.2f}" y="{fr.y + 12:.2f}" class="folder-label">{_e(label)}</text>'
                    )
                parts.append("</g>")
        label = _fit(f"{name} {naturalsize(size)}", r.w) if r.h >= 14 else ""
        if label:
            parts.append(
                f'<text x="{r.x + 3:.2f}" y="{r.y + 13:.2f}" class="dist-label">{_e(label)}</text>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)


def _bar(
    label: str,
    segments: Sequence[tuple[str, int, str]],
    marks: Sequence[tuple[str, int, str]],
    over: bool = False,
) -> str:
    """One horizontal bar: stacked ``segments`` (title, bytes, colour) against ``marks``
    (title, bytes, colour) drawn as vertical lines; the scale fits the largest of both."""
    bar_y, bar_h = 22, 20
    width, height = WIDTH, bar_y + bar_h + 18 + 14 * max(len(marks) - 1, 0)
    scale_max = max([sum(s[1] for s in segments), *(m[1] for m in marks)]) * 1.08 or 1
    parts = [
        f'<svg class="bar" viewBox="0 0 {width} {height}" role="img" aria-label="{_e(label)}">',
        f'<text x="0" y="14" class="bar-label{" over" if over else ""}">{_e(label)}</text>',
        f'<rect x="0" y="{bar_y}" width="{width}" height="{bar_h}" fill="#eef0f3"/>',
    ]
    x = 0.0
    for title, size, colour in segments:
        w = size / scale_max * width
        tip = f"{title}: {naturalsize(size)} ({size:,} bytes)"
        parts.append(
            f'<rect x="{x:.2f}" y="{bar_y}" width="{w:.2f}" height="{bar_h}" fill="{colour}" '
            f'data-tip="{_e(tip)}"><title>{_e(tip)}</title></rect>'
        )
        x += w
    for i, (title, size, colour) in enumerate(marks):
        mx = size / scale_max * width
        anchor = "end" if mx > width * 0.6 else "start"
        tx = mx - 4 if anchor == "end" else mx + 4
        tip = f"{title}: {naturalsize(size)} ({size:,} bytes)"
        parts.append(
            f'<g data-tip="{_e(tip)}"><title>{_e(tip)}</title>'
            f'<line x1="{mx:.2f}" x2="{mx:.2f}" y1="{bar_y - 4}" y2="{bar_y + bar_h + 4}" '
            f'stroke="{colour}" stroke-width="3"/>'
            f'<text x="{tx:.2f}" y="{bar_y + bar_h + 14 + 14 * i}" text-anchor="{anchor}" class="mark" '
            f'fill="{colour}">{_e(title)}</text></g>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _limits(data: Mapping[str, Any]) -> str:
    limits, budget = data["limits"], data["budget"]
    unzipped, zipped = int(data["unzipped_bytes"]), int(data["zip_bytes"])
    reserve = int(budget.get("reserve_bytes", 0))
    app = int(budget.get("app_bytes", 0))  # the Chalice app's own package, when there is one
    limit, direct = int(limits["unzipped_limit_bytes"]), int(limits["direct_upload_limit_bytes"])
    used = unzipped + app + reserve
    over = used > limit
    segments = [("layer, unzipped", unzipped, "#2b6cb0")]
    if app:
        segments.append(("the app's package (code, requirements.txt)", app, "#805ad5"))
    if reserve:
        segments.append(("reserve_mb (function code, other layers)", reserve, "#a0aec0"))
    marks = [(f"Lambda limit {naturalsize(limit)}", limit, "#c53030")]
    if int(budget["budget_bytes"]) != limit:
        marks.append(
            (
                f"budget {naturalsize(int(budget['budget_bytes']))}",
                int(budget["budget_bytes"]),
                "#b7791f",
            )
        )
    head = (
        f"Unzipped: {naturalsize(unzipped)}"
        + (f" + app {naturalsize(app)}" if app else "")
        + (f" + reserve {naturalsize(reserve)}" if reserve else "")
        + f" = {used:,} of {limit:,} bytes ({_pct(used, limit)})"
        + (
            f", OVER by {naturalsize(used - limit)}"
            if over
            else f", {naturalsize(limit - used)} left"
        )
    )
    if budget.get("over") and not over:
        head += f", over the budget of {naturalsize(int(budget['budget_bytes']))}"
    zhead = (
        f"Zipped: {naturalsize(zipped)} = {zipped:,} of {direct:,} bytes for a direct upload "
        f"({_pct(zipped, direct)})"
        + ("; larger zips are published from S3, as deploy does" if zipped > direct else "")
    )
    return (
        _bar(head, segments, marks, over=over or bool(budget.get("over")))
        + "\n"
        + _bar(
            zhead,
            [("layer, zipped", zipped, "#2f855a")],
            [(f"direct upload {naturalsize(direct)}", direct, "#c53030")],
        )
    )


def _pruned(data: Mapping[str, Any]) -> str:
    pruned = sorted(
        ((str(k), int(v)) for k, v in data.get("pruned", {}).items()), key=lambda kv: -kv[1]
    )
    if not pruned:
        return "<p>Nothing was pruned.</p>"
    top = max(v for _, v in pruned) or 1
    rows = "\n".join(
        f'<tr data-tip="{_e(f"{rule}: {n:,} bytes removed")}"><td>{_e(rule)}</td>'
        f'<td class="num">{_e(naturalsize(n))}</td><td class="num">{n:,}</td>'
        f'<td class="spark"><span style="width:{n / top * 100:.1f}%"></span></td></tr>'
        for rule, n in pruned
    )
    installed = int(data.get("installed_bytes", 0))
    lead = (
        f"<p>Installed {_e(naturalsize(installed))}, pruned {_e(naturalsize(int(data.get('pruned_bytes', 0))))}"
        f", left {_e(naturalsize(int(data['unzipped_bytes'])))}.</p>"
        if installed
        else ""
    )
    return (
        f'{lead}<table id="pruned"><thead><tr><th>rule</th><th class="num">removed</th>'
        f'<th class="num">bytes</th><th></th></tr></thead><tbody>\n{rows}\n</tbody></table>'
    )


def _table(data: Mapping[str, Any]) -> str:
    total = int(data["unzipped_bytes"])
    rows = "\n".join(
        f"<tr><td>{_e(d['name'])}</td><td>{_e(d.get('version', ''))}</td>"
        f'<td class="num">{_e(naturalsize(int(d["unzipped_bytes"])))}</td>'
        f'<td class="num">{_pct(int(d["unzipped_bytes"]), total)}</td>'
        f'<td class="num">{int(d.get("files", 0)):,}</td></tr>'
        for d in data["distributions"]
    )
    return (
        '<table id="distributions"><thead><tr><th>distribution</th><th>version</th>'
        '<th class="num">unzipped</th><th class="num">share</th><th class="num">files</th>'
        f"</tr></thead><tbody>\n{rows}\n</tbody></table>"
    )


def _json_for_script(data: Mapping[str, Any]) -> str:
    # Inside <script> only "</" can end the element early; escaping <, > and & as JSON
    # \\u escapes keeps any name inert and the JSON unchanged for a reader.
    text = json.dumps(data, sort_keys=True)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


# Marks a page as this command's: `--html` replaces such a page without --force.
GENERATOR = '<meta name="generator" content="layer-tasks size-report">'
# How every page `render` writes begins, byte for byte, the marker in its head. A page
# counts as ours only when it starts so: a document that merely quotes the marker (a
# Markdown note about the report) is someone else's file.
PROLOGUE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{GENERATOR}
<title>"""

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1a202c; background: #fff; }
main { max-width: 1000px; margin: 0 auto; padding: 16px 20px 40px; }
h1 { font-size: 20px; margin: 8px 0 2px; } h2 { font-size: 16px; margin: 22px 0 6px; }
.sub { color: #4a5568; margin: 0 0 8px; }
svg { width: 100%; height: auto; display: block; }
#treemap text { pointer-events: none; font-size: 11px; }
.dist-label { fill: #fff; font-weight: 600; }
.folder-label { fill: #1a202c; }
.dist:hover > rect, .folder:hover > rect { filter: brightness(1.12); }
.bar-label { font-size: 13px; fill: #1a202c; } .bar-label.over { fill: #c53030; font-weight: 600; } .mark { font-size: 12px; font-weight: 600; }
#detail { min-height: 1.5em; padding: 4px 8px; background: #f7fafc; border: 1px solid #e2e8f0;
          border-radius: 4px; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 2px 8px; border-bottom: 1px solid #edf2f7; }
.num { text-align: right; }
.spark { width: 40%; } .spark span { display: block; height: 10px; background: #805ad5; }
"""

# Mirrors the hovered element's details into #detail (its <title> shows them too).
_SCRIPT = """
(function () {
  var detail = document.getElementById("detail");
  var data = JSON.parse(document.getElementById("layer-data").textContent);
  var idle = detail.textContent = data.distributions_total + " distributions, " +
    data.unzipped_bytes.toLocaleString("en") + " bytes unzipped: hover for details";
  document.querySelectorAll("[data-tip]").forEach(function (el) {
    el.addEventListener("mouseover", function (ev) {
      ev.stopPropagation();
      detail.textContent = el.getAttribute("data-tip");
    });
  });
  document.getElementById("treemap").addEventListener("mouseleave", function () {
    detail.textContent = idle;
  });
})();
"""


def render(report_data: Mapping[str, Any]) -> str:
    """The whole page for ``report_data`` (as `footprint.report_data` makes it)."""
    d = report_data
    title = f"Layer {d['name']} ({d['runtime']}, {d['architecture']})"
    summary = (
        f"{naturalsize(int(d['unzipped_bytes']))} unzipped ({int(d['unzipped_bytes']):,} bytes, "
        f"{int(d.get('files', 0)):,} files, {int(d.get('distributions_total', len(d['distributions'])))} "
        f"distributions), {naturalsize(int(d['zip_bytes']))} zipped"
    )
    return f"""{PROLOGUE}{_e(title)}: size</title>
<style>{_STYLE}</style>
</head>
<body>
<main>
<h1>{_e(title)}</h1>
<p class="sub">{_e(summary)}</p>
<h2>Against the Lambda limits</h2>
{_limits(d)}
<h2>Where the unzipped bytes go</h2>
<p class="sub">One block per distribution, its top-level folders inside; area is bytes.</p>
<div id="detail">hover for details</div>
{_treemap(d)}
<h2>Pruned, per rule</h2>
{_pruned(d)}
<h2>Distributions</h2>
{_table(d)}
</main>
<script type="application/json" id="layer-data">{_json_for_script(d)}</script>
<script>{_SCRIPT}</script>
</body>
</html>
"""


def is_size_page(path: Path) -> bool:
    """Whether ``path`` is a page `render` wrote: it starts with `PROLOGUE`."""
    prologue = PROLOGUE.encode()
    if not path.is_file():  # a FIFO would hold open() forever; a folder is no page
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(prologue))
    except OSError:
        return False
    return head == prologue


def check_destination(path: Path) -> None:
    """Fail before any work when the page could not be written to ``path``."""
    if path.is_dir():
        raise LayerError(f"--html {path} is a folder: give a file name, e.g. {path / 'size.html'}")
    parent = path.parent
    if not parent.is_dir():
        raise LayerError(f"--html {path}: folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise LayerError(f"--html {path}: folder {parent} is not writable")


def write(path: Path, report_data: Mapping[str, Any]) -> None:
    check_destination(path)
    try:
        atomic_write_text(path, render(report_data))
    except OSError as exc:
        raise LayerError(f"cannot write --html {path}: {exc.strerror}") from None
