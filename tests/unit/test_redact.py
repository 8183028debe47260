"""The redaction boundary: every printed form of a secret, and every log record."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from urllib.parse import quote, quote_plus

import pytest

from layer_tasks.util import redact

TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE+tok/en=="  # base64 characters, as a session token has
CORE = "b3JpZ2luX2VjEXAMPLE"  # survives every escaping: if it shows, the secret showed


def printed_forms(value: str) -> dict[str, str]:
    """How a value ends up in text, written out independently of the code under test."""
    return {
        "raw": value,
        "repr": repr(value),
        "bytes-repr": repr(value.encode()),
        "json": json.dumps(value),
        "percent": quote(value, safe=""),
        "percent-plus": quote_plus(value),
        "repr-of-repr": repr(repr(value.encode())),
        "header-error": f"Invalid header value {value.encode()!r}",
        "dict-repr": repr({"X-Amz-Security-Token": value.encode()}),
    }


@pytest.mark.parametrize("suffix", ["", "\n", "\r\n", " \t"])
@pytest.mark.parametrize("form", list(printed_forms("x")))
def test_each_printed_form_of_a_session_token_is_masked(form: str, suffix: str) -> None:
    env = {"AWS_SESSION_TOKEN": TOKEN + suffix}
    text = f"before {printed_forms(TOKEN + suffix)[form]} after"
    out = redact.redact(text, env)
    assert CORE not in out, out
    assert out.startswith("before ") and out.endswith(" after")
    assert redact.MASK in out


@pytest.mark.parametrize(
    "variable",
    ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "PIP_INDEX_URL", "UV_EXTRA_INDEX_URL"],
)
def test_url_passwords_from_the_environment_are_masked_in_every_form(variable: str) -> None:
    password = "pa55:w@rd/Secr3tCore"
    url = f"https://user:{quote(password, safe='')}@index.example/simple"
    env = {variable: f"https://other.example/simple {url}"}
    for name, text in {**printed_forms(password), **printed_forms(url)}.items():
        out = redact.redact(f"got {text}", env)
        assert "Secr3tCore" not in out, (name, out)


def test_secret_shapes_are_masked_whatever_their_value() -> None:
    header = (
        "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1\n/s3/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "ab12" * 16
    )
    text = (
        f"Invalid header value {header.encode()!r}; "
        "https://bucket.s3.amazonaws.com/k?X-Amz-Signature="
        + "cd34"
        * 16
        + "&X-Amz-Security-Token=Zm9vYmFy%2Bbaz; "
        "{'X-Amz-Security-Token': b'FQoGZXIvYXdzEunseen'}; Authorization: Basic dXNlcjpwYXNzd29yZA==; "
        "https://__token__:pypi-AgEIcHlwaS5vcmc@upload.example/ https://ghp_tokenonly123@host/x"
    )
    out = redact.redact(text, {})
    for secret in (
        "ab12ab12",
        "cd34cd34",
        "Zm9vYmFy",
        "FQoGZXIvYXdzEunseen",
        "dXNlcjpwYXNzd29yZA",
        "pypi-AgEI",
        "ghp_tokenonly",
    ):
        assert secret not in out, (secret, out)
    assert "Credential=AKIAEXAMPLE" in out  # an access key ID is an identifier, not a secret
    assert "https://__token__:***@upload.example/" in out


def test_placeholders_and_ordinary_text_are_left_alone() -> None:
    env = {
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "",
        "PIP_INDEX_URL": "https://pypi.org/simple",
    }
    text = (
        "testing the layer at https://pypi.org/simple and git+https://github.com/o/r@v1.0; "
        "Basic authentication and Bearer tokens are words too"
    )
    assert redact.redact(text, env) == text


def test_registered_credentials_and_index_urls_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redact, "_SECRETS", redact._Secrets())
    redact.add("ResolvedSecretFromProfile0123", None, "short")
    redact.add_url("https://u:IndexPassw0rd@private.example/simple")
    out = redact.redact(
        "ResolvedSecretFromProfile0123 " + quote("IndexPassw0rd") + " 'IndexPassw0rd' short", {}
    )
    assert out == "*** *** '***' short"


def test_every_log_record_is_redacted_whatever_its_logger_or_handler(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN + "\n")
    redact.install()
    redact.install()  # idempotent
    logger = logging.getLogger("botocore.endpoint.test")
    logger.propagate = True
    with caplog.at_level(logging.DEBUG):
        logger.debug("headers %r", {"X-Amz-Security-Token": (TOKEN + "\n").encode()})
        try:
            raise ValueError(f"Invalid header value {(TOKEN + chr(10)).encode()!r}")
        except ValueError:
            logger.exception("send failed")
    assert len(caplog.records) == 2
    handler = logging.StreamHandler()
    for record in caplog.records:
        assert CORE not in handler.format(record)
    assert "send failed" in caplog.text and "ValueError" in caplog.text
    assert CORE not in caplog.text


def test_the_traceback_of_a_bug_is_redacted() -> None:
    code = (
        "import os, layer_tasks.tasks\n"
        "raise ValueError('header ' + repr(os.environ['AWS_SESSION_TOKEN'].encode()))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "AWS_SESSION_TOKEN": TOKEN + "\n"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "ValueError: header b'***'" in proc.stderr
    assert CORE not in proc.stderr


# Userinfo where a message puts it (issue 20, fourth review): after a collapsed
# ``scheme:/`` (a URL read as a path), after a path (uv resolving a malformed file URL
# against the project folder), in the spellings those messages take.
MOVED_USERINFO = {
    "collapsed-scheme": (
        "requirements file /tmp/p/http:/user:PwCoreK1@127.0.0.1:5066/reqs.txt not found",
        "/tmp/p/http:/user:***@127.0.0.1:5066/reqs.txt",
    ),
    "collapsed-scheme-token": (
        "/tmp/p/https:/PwCoreK1tok@127.0.0.1:5066/r.txt",
        "/tmp/p/https:/***@127.0.0.1:5066/r.txt",
    ),
    "after-a-path": (
        "Distribution not found at: file:///tmp/p/user:PwCoreK1@localhost/w/alpha.whl",
        "file:///tmp/p/user:***@localhost/w/alpha.whl",
    ),
    "file-triple-slash": ("file:///user:PwCoreK1@localhost/x", "file:///user:***@localhost/x"),
    "ipv6-and-port": ("at /x/u:PwCoreK1@[::1]:8080/y", "at /x/u:***@[::1]:8080/y"),
    "end-of-sentence": ("see /x/u:PwCoreK1@files.example.", "see /x/u:***@files.example."),
    "repr": (repr("/p/u:PwCoreK1@localhost/w"), "'/p/u:***@localhost/w'"),
    "json-escaped-slashes": (
        json.dumps("file:///p/u:PwCoreK1@localhost/w").replace("/", "\\/"),
        '"file:\\/\\/\\/p\\/u:***@localhost\\/w"',
    ),
}


@pytest.mark.parametrize("case", list(MOVED_USERINFO))
def test_userinfo_is_masked_wherever_a_message_puts_it(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redact, "_SECRETS", redact._Secrets())  # the shape alone, no value
    text, expected = MOVED_USERINFO[case]
    out = redact.redact(text, {})
    assert "PwCoreK1" not in out, out
    assert expected in out, out


@pytest.mark.parametrize(
    "text",
    [
        "git+https://github.com/o/r@v1.0 and /a/b@c, me@example.com",
        "public.ecr.aws/lambda/python:3.12@sha256:0a1b2c3d4e5f",  # an image digest
        "file:///tmp/wheels/alpha-1.0-py3-none-any.whl (12:30 at /srv/a:b/c@d:e)",
        "pkg @ file:///x/y.whl; requirements file reqs:v2.txt; time 10:20@ noon",
        "/opt/x/k:v@host:notaport/",
        # A URL in quotes, then an address: the closing quote is not a password's.
        '["https://host","me@example.com"]',
        "{'u': 'http://h', 'e':'me@example.com'}",
        '{"http://host":"me@example.com"}',
        "('https://host/x',\"me@example.com\")",
        "'/srv/data:v1',\"me@example.com\"",
    ],
)
def test_at_signs_and_colons_in_ordinary_text_are_left_alone(text: str) -> None:
    assert redact.redact(text, {}) == text
    assert redact.for_storage(text) == text


def test_a_lone_token_after_a_path_is_masked_as_a_known_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``/TOKEN@host`` after a path has the shape of a git ref (``/repo@v1.0``): not masked
    by its shape, but by its value, registered from the URL it came from."""
    monkeypatch.setattr(redact, "_SECRETS", redact._Secrets())
    text = "not found: /tmp/p/GhpTokCore9@host/r.txt"
    assert redact.redact(text, {}) == text
    redact.add_url("https://GhpTokCore9@host/r.txt")
    assert "GhpTokCore9" not in redact.redact(text, {})


def test_a_login_name_in_an_ssh_url_is_not_a_secret_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """``git+ssh://deploy@host``: a login name (the key is elsewhere); masked everywhere as a
    value, it would garble the word wherever it appears ("deploy: unchanged")."""
    monkeypatch.setattr(redact, "_SECRETS", redact._Secrets())
    redact.add_url("pkg @ git+ssh://deploy@git.example/o/pkg.git")
    assert redact.url_secrets("git+ssh://deploy@git.example/o/pkg.git") == []
    assert redact.redact("deploy: unchanged, version 3", {}) == "deploy: unchanged, version 3"
    assert redact.url_secrets("https://TokenOnly1@git.example/x") == ["TokenOnly1", "TokenOnly1"]


# Every character RFC 3986 allows in userinfo besides letters and digits (sub-delims,
# unreserved, a percent escape), and the quotes, which are legal and stopped the shape.
USERINFO_CHARS = ["'", '"', "!", "$", "&", "(", ")", "*", "+", ",", ";", "=", "%41", "~", "-", "."]


@pytest.mark.parametrize("char", USERINFO_CHARS)
def test_no_character_legal_in_userinfo_defeats_the_mask(
    char: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A1/A2: ``http://user:Zq'x9w7K@host`` was printed in clear: the shape stopped at the
    quote. Checked by shape alone (no value registered), in the messages a password
    reaches: a parse error quoting the line, its repr, installer output, a path."""
    monkeypatch.setattr(redact, "_SECRETS", redact._Secrets())
    password = f"Pw{char}Core{char}K1"
    url = f"http://user:{password}@127.0.0.1:5066/simple/"
    line = f"--index-url {url}"
    texts = [
        f'<project>/r.txt:1: cannot parse option line "{line}": No closing quotation',
        f"<project>/r.txt:1: cannot parse option line {line!r}: No closing quotation",
        f"  ERROR: Could not find a version that satisfies alpha (from {url})",
        f"Traceback: ValueError({url!r})",
        f"not found: file:///tmp/p/user:{password}@localhost/w/alpha.whl",
    ]
    for text in texts:
        out = redact.redact(text, {})
        assert password not in out and f"Core{char}K1" not in out, out
        assert "user:***@" in out, out
    for text in texts[:3]:
        assert "Core" not in redact.for_storage(text)


def test_a_password_is_a_known_value_before_its_line_is_parsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every ``scheme://`` in a whitespace-split word starts a URL: after ``--opt=``, in
    quotes, in another URL's query; shlex, which a quote stops, is not used."""
    monkeypatch.setattr(redact, "_SECRETS", redact._Secrets())
    text = (
        '--index-url="http://user:Zq\'x9w7K@127.0.0.1:5066/simple/" '
        'https://h/?next=http://a:Dq"7Kx2Lm@e/'
    )
    assert redact.url_secrets(text) == ["Zq'x9w7K", "Zq'x9w7K", 'Dq"7Kx2Lm', 'Dq"7Kx2Lm']
    redact.add_url(text)
    assert redact.redact("passwords Zq'x9w7K and Dq\"7Kx2Lm", {}) == "passwords *** and ***"
