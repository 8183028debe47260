"""Secret values kept out of everything the tool says about itself.

One boundary, installed once per process (`install`, from the task package): the
``error:`` line (`redact`, called by the task wrapper), every log record (a record
factory: a filter on the root logger would not see records that other loggers
propagate, and a filter on today's handlers would miss a handler added later, such as
the one ``inv --debug`` sets up), and the traceback of a bug (``sys.excepthook``).

The secrets: ``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``/``AWS_SECURITY_TOKEN``,
credentials boto3 resolved (`add`), and the password (or a lone user name, which is
how a token is usually written) in the userinfo of URLs from ``AWS_ENDPOINT_URL*``, the
pip/uv index variables, pip's configuration and requirement files (`add_url`). Each is
replaced in the forms it gets printed in: raw, stripped of surrounding whitespace,
``repr``/``bytes`` escaped (``\\n``, ``\\x..``, ``\\u....``), JSON-escaped and
percent-encoded. A few shapes are redacted whatever their value: URL userinfo, the
``Signature=`` of an AWS ``Authorization`` header or a presigned URL, an
``X-Amz-Security-Token`` header or parameter, ``Basic``/``Bearer`` credentials in an
``Authorization`` header.

URL userinfo is found wherever a message puts it, not only right after ``scheme://``:
a URL taken for a path loses a slash (``https:/user:pw@host``, ``Path`` collapses
``//``), and an installer that resolves a malformed file URL prints the userinfo after
a path (``file:///project/user:pw@localhost/...``). A ``user:password@host`` segment
after any ``/`` is masked; a lone ``token@`` is masked only after a scheme, because
after a path it cannot be told from a git ref (``.../repo@v1.0``): those tokens are
known values (`add_url`, from every URL a requirements file holds) and masked as such.
Every character legal in userinfo is part of a password to these shapes, the quotes too
(``https://u:Zq'x@host``), except a quote that closes the string around a URL.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

MASK = "***"

# Variables whose whole value is a secret.
SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
# Variables holding URLs (one or several, space-separated) that may carry a password.
URL_VARIABLES = (
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_INDEX",
    "UV_FIND_LINKS",
)
URL_VARIABLE_PREFIXES = ("AWS_ENDPOINT_URL",)

# A real AWS secret key has 40 characters and a session token hundreds: a shorter value
# is a placeholder ("testing"), and replacing it everywhere would garble the output.
# A URL password may be short; below this length it is only redacted inside URLs.
MIN_CREDENTIAL_LENGTH = 8
MIN_PASSWORD_LENGTH = 4

# A host (name, IPv4 or [IPv6]) and port after the '@' of userinfo, then the end of
# the authority: what tells ``/user:pw@host/`` from ``/python:3.12@sha256:...``.
_HOST_AFTER = r"(?=(?:\[[0-9a-f:.]+\]|[a-z0-9.\-]+)(?::[0-9]{1,5})?(?![a-z0-9.\-:\[\]]))"
# A quote is legal in userinfo (``https://u:Zq'x@host``), but it also closes the quoted
# string a URL is printed in (``["https://host","me@example.com"]``). One counts as part
# of a password only when what follows it could not be the structure around a string:
# not a separator, a closing bracket, another quote or the end of the word. An escaped
# quote (``\'``, as repr writes one) is part of it too. A password that ends the word
# with a quote is missed by this shape: the known values (`add_url`) catch that one.
_QUOTE = r"(?:\\?['\"](?![\s,;:)\]}>'\"]|$))"
# One character of a password or token as printed: not whitespace, not what ends the
# authority or the userinfo (``/``, ``@``), not an angle bracket; a quote as above.
_SECRET_CHAR = r"(?:[^\s/@'\"<>]|" + _QUOTE + ")"
# The same without a lone backslash: after a path, and in stored text, one starts an
# escape (``\/`` in JSON) that no userinfo holds.
_PLAIN_SECRET_CHAR = r"(?:[^\s/@'\"<>\\]|" + _QUOTE + ")"
# ``user:password@host`` as a path segment: after a path, after a collapsed ``scheme:/``
# or after ``file:///``. The user part has no colon; group 1 is the '/', 2 the user.
_PATH_USERINFO = re.compile(r"(?i)(/)([^\s/@:'\"<>\\]+:)" + _PLAIN_SECRET_CHAR + "+@" + _HOST_AFTER)

# URL userinfo as printed text holds it: group 1 what stays before it, group 2 the user
# name (with its colon) that stays too, the password (or lone token) is masked.
_USERINFO = (
    # scheme://user:password@host or scheme://token@host (also inside repr/JSON text),
    # and with the slashes collapsed, as a URL read as a path has them (scheme:/token@).
    re.compile(
        r"(?i)\b([a-z][a-z0-9+.\-]*:/+)((?:(?!:)" + _SECRET_CHAR + r")*:)?" + _SECRET_CHAR + "+@"
    ),
    _PATH_USERINFO,
)
# The other shapes, masked on screen and in files alike.
_SHAPES = (
    (re.compile(r"(?i)\b((?:X-Amz-)?Signature=)[0-9a-f]{16,}"), r"\1" + MASK),
    (
        re.compile(r"(?i)\b(X-Amz-Security-Token(?:['\"]?\s*[:=]\s*b?['\"]?))[^'\"\s,&}]+"),
        r"\1" + MASK,
    ),
    (
        re.compile(
            r"(?i)(Authorization['\"]?\s*[:=]\s*b?['\"]?(?:Basic|Bearer)\s+)[A-Za-z0-9+/=._~\-]+"
        ),
        r"\1" + MASK,
    ),
)


# What goes into a file or an S3 object (`for_storage`): a URL's userinfo is removed
# whole, in the spellings a URL takes there: raw, JSON with escaped slashes, and
# percent-encoded as a whole (a URL inside another URL's query), and as a path segment
# (``/user:pw@host`` keeps ``/host``).
_STORED_USERINFO = (
    re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)" + _PLAIN_SECRET_CHAR + "+@"),
    re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*:\\/\\/)" + _PLAIN_SECRET_CHAR + "+@"),
    re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*%3A%2F%2F)(?:(?!%2F|%40)[^\s/@'\"<>])+%40"),
    _PATH_USERINFO,
)


def has_userinfo(text: str) -> bool:
    """Whether ``text`` holds a URL with a user name or password (``scheme://u:p@host``)."""
    return any(shape.search(text) for shape in _STORED_USERINFO)


def for_storage(text: str) -> str:
    """``text`` fit for a file or an S3 object: no URL in it carries its userinfo.

    The one boundary for everything the tool writes (`fsutil.atomic_write_text`, the
    step summary, the objects uploaded beside a zip). The userinfo goes entirely (a
    stored URL stays usable where the credentials come from elsewhere), and the other
    secret shapes are masked as on screen. Known secret values are not searched for:
    in a file, a short password could match inside a hash and corrupt it."""
    for shape in _STORED_USERINFO:
        text = shape.sub(r"\1", text)
    for shape, replacement in _SHAPES:
        text = shape.sub(replacement, text)
    return text


def _userinfo(match: re.Match[str]) -> str:
    user = match.group(2)
    # user:password -> user:***; a lone user name is a token (https://TOKEN@host).
    return f"{match.group(1)}{user or ''}{MASK}@"


class _Secrets:
    """The values to redact: those registered by the code plus the environment's,
    recomputed only when a relevant variable changes (tests change it in-process)."""

    def __init__(self) -> None:
        self.added: set[str] = set()
        self._env_key: tuple[tuple[str, str], ...] | None = None
        self._env_values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._pattern_for: frozenset[str] = frozenset()

    def pattern(self, environ: Mapping[str, str]) -> re.Pattern[str] | None:
        key = tuple(sorted((k, v) for k, v in environ.items() if _relevant(k)))
        if key != self._env_key:
            self._env_key, self._env_values = key, set(secret_values(dict(key)))
        values = frozenset(self.added | self._env_values)
        if values != self._pattern_for:
            forms = {form for value in values for form in _forms(value)}
            # Longest first: a raw value must not break up a longer escaped form of it.
            ordered = sorted(forms, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
            self._pattern_for = values
        return self._pattern


def _relevant(name: str) -> bool:
    return (
        name in SECRET_VARIABLES or name in URL_VARIABLES or name.startswith(URL_VARIABLE_PREFIXES)
    )


# Where a URL starts inside a word: a scheme and ``//``.
_SCHEME = re.compile(r"(?i)[a-z][a-z0-9+.\-]*://")


def url_secrets(text: str) -> list[str]:
    """The passwords (or lone user names) in the userinfo of the URLs in ``text``."""
    found = []
    # Split on whitespace only (never shlex: a quote in a password would stop it), and
    # every ``scheme://`` in a word starts a URL: ``--index-url=https://...``,
    # ``"https://..."`` and a URL in another URL's query are found as well.
    urls = [word[m.start() :] for word in text.split() for m in _SCHEME.finditer(word)]
    for url in urls:
        try:
            parts = urlsplit(url)
        except ValueError:
            continue
        if "@" not in parts.netloc:
            continue
        userinfo = parts.netloc.rpartition("@")[0]
        user, colon, password = userinfo.partition(":")
        if not colon and parts.scheme.lower().endswith("ssh"):
            continue  # git+ssh://git@host: a login name (the key is elsewhere), and
            # masking it everywhere ("deploy") would garble ordinary words
        for value in (password,) if colon else (user,):
            found += [value, unquote(value)]
    return [v for v in found if len(v) >= MIN_PASSWORD_LENGTH]


def secret_values(environ: Mapping[str, str]) -> list[str]:
    """Every secret value the environment holds."""
    values = []
    for name, value in environ.items():
        if name in SECRET_VARIABLES and len(value.strip()) >= MIN_CREDENTIAL_LENGTH:
            values.append(value)
        elif name in URL_VARIABLES or name.startswith(URL_VARIABLE_PREFIXES):
            values += url_secrets(value)
    return values


def _escaped(value: str) -> set[str]:
    return {
        repr(value)[1:-1],
        repr(value.encode("utf-8", "surrogateescape"))[2:-1],
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        value.encode("unicode_escape").decode("ascii"),
        value.encode("unicode_escape").decode("ascii").replace("'", "\\'"),
    }


def _forms(value: str) -> set[str]:
    """The spellings a value can take in printed text."""
    forms = {value, value.strip()}
    for base in list(forms):
        forms |= _escaped(base)
        forms |= {quote(base, safe=""), quote(base), quote_plus(base)}
    # Escaped twice: an exception's repr inside a logged dict or a repr'd message.
    for once in list(forms):
        forms |= _escaped(once)
    return {form for form in forms if len(form) >= MIN_PASSWORD_LENGTH}


_SECRETS = _Secrets()


def add(*values: str | None) -> None:
    """Register credential values (e.g. those boto3 resolved from a profile or SSO)."""
    _SECRETS.added.update(v for v in values if v and len(v.strip()) >= MIN_CREDENTIAL_LENGTH)


def add_url(*urls: str | None) -> None:
    """Register the userinfo secrets of these URLs (index URLs from pip config or a
    requirements file)."""
    for url in urls:
        if url:
            _SECRETS.added.update(url_secrets(url))


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with every known secret, in every form, and every secret shape masked."""
    pattern = _SECRETS.pattern(os.environ if environ is None else environ)
    if pattern is not None:
        text = pattern.sub(MASK, text)
    for userinfo in _USERINFO:
        text = userinfo.sub(_userinfo, text)
    for shape, replacement in _SHAPES:
        text = shape.sub(replacement, text)
    return text


def redact_url(url: str) -> str:
    """A URL fit to print or persist: its userinfo secret masked."""
    return redact(url)


def _scrub(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: logging reports it itself
        return
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and not record.exc_text:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_text = redact(text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


_installed = False


def install() -> None:
    """Redact every log record and the traceback of a bug, in this process, from now on."""
    global _installed
    if _installed:
        return
    _installed = True
    previous_factory = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous_factory(*args, **kwargs)
        _scrub(record)
        return record

    logging.setLogRecordFactory(factory)

    def excepthook(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb))))

    sys.excepthook = excepthook
