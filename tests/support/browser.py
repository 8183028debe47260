"""Headless Chromium (Debian's `chromium`) on a local file: a screenshot and the DOM after
scripts ran, plus what a screenshot shows (Pillow decodes it)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium")

# With @pytest.mark.chromium: runs only where Debian's chromium is installed (.ci/run
# installs it on CI), and says why it was skipped elsewhere.
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
)

_FLAGS = [
    "--headless",
    "--no-sandbox",  # tests run as root in CI, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def _chromium(page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [CHROMIUM, *_FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def screenshot(page: Path, png: Path, width: int = 1100, height: int = 1500) -> Path:
    proc = _chromium(page, f"--screenshot={png}", f"--window-size={width},{height}")
    assert png.is_file(), proc.stderr[-2000:]
    return png


def dump_dom(page: Path) -> str:
    """The DOM as serialized after the page's scripts ran."""
    proc = _chromium(page, "--dump-dom", "--virtual-time-budget=2000")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def colours(png: Path) -> tuple[int, float]:
    """(distinct colours, share of strongly coloured pixels) in the image.

    Text and rules are grey, so a page whose chart did not draw has almost no pixel
    whose channels differ by more than 60.
    """
    from PIL import Image

    with Image.open(png) as img:
        rgb = img.convert("RGB")
        counts = rgb.getcolors(rgb.width * rgb.height) or []
        total = rgb.width * rgb.height
    coloured = sum(n for n, p in counts if max(p) - min(p) > 60)
    return len(counts), coloured / total
