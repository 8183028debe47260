"""Path globs for the prune rules, as regular expressions used with ``fullmatch``."""

from __future__ import annotations

import re
from functools import lru_cache

from layer_tasks.errors import LayerError


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate a path glob: ``**`` spans folders, ``*``/``?``/``[..]`` stay in one part.

    A pattern without a ``/`` matches a name at any depth (like .gitignore); a pattern
    ending in ``/`` matches a folder (and so everything under it).
    """
    anchored = "/" in pattern.rstrip("/")
    pat = pattern.rstrip("/")
    out = []
    i = 0
    while i < len(pat):
        if pat.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pat.startswith("**", i):
            out.append(".*")
            i += 2
        elif pat[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pat[i] == "?":
            out.append("[^/]")
            i += 1
        elif pat[i] == "[":
            end = pat.find("]", i + 1)
            if end == -1:
                out.append(re.escape(pat[i]))
                i += 1
            else:
                body = pat[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end + 1
        else:
            out.append(re.escape(pat[i]))
            i += 1
    body = "".join(out)
    prefix = "" if anchored else "(?:.*/)?"
    try:
        return re.compile(f"{prefix}{body}", re.DOTALL)
    except re.error as exc:  # e.g. a reversed range, [z-a]
        raise LayerError(f"pattern {pattern!r} is not a valid glob ({exc.msg})") from None
