"""The storage boundary (`redact.for_storage`): no URL carries its userinfo into a file or
an S3 object, whatever spelling the URL has there (issue 20, section 1)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from layer_tasks.util.fsutil import atomic_write_text
from layer_tasks.util.redact import for_storage, has_userinfo

URL = "http://user:p%40ss%2FS3cr3tCore@example.com:8080/files/six-1.17.0-py2.py3-none-any.whl"
CLEAN = "http://example.com:8080/files/six-1.17.0-py2.py3-none-any.whl"


@pytest.mark.parametrize(
    "text",
    [
        URL,
        json.dumps({"url": URL}),
        json.dumps({"url": URL}).replace("/", "\\/"),  # JSON with escaped slashes
        f"https://proxy/?target={quote(URL, safe='')}",  # percent-encoded as a whole
        f"six @ {URL} --hash=sha256:{'0' * 64}",
        "https://TOKEN1234@example.com/simple",  # a lone token
        "git+ssh://git@github.com/org/repo.git",
        # userinfo after a path, as an installer puts a malformed file URL's
        "Distribution not found at: file:///tmp/p/user:S3cr3tCore@localhost/w.whl",
    ],
)
def test_no_userinfo_survives(text: str) -> None:
    assert has_userinfo(text)
    out = for_storage(text)
    assert "S3cr3tCore" not in out and "TOKEN1234" not in out and "git@" not in out
    assert not has_userinfo(out)


def test_the_url_stays_usable_and_nothing_else_changes() -> None:
    assert for_storage(URL) == CLEAN
    text = json.dumps({"sha": "abcd" * 16, "path": "/a/b@c", "email": "me@example.com"})
    assert for_storage(text) == text


def test_every_text_file_goes_through_it(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "x.json", json.dumps({"url": URL}))
    assert json.loads((tmp_path / "x.json").read_text()) == {"url": CLEAN}
