"""Short, bounded pictures of values for error messages: an error never repeats a 20 MB prompt, never
expands a YAML alias bomb, and never carries text that cannot be printed.

reprlib bounds the work as well as the result: it stops at a few items per level and a few levels, so
a value made of shared references (a billion-laughs list) costs no more than a small one.
"""

from __future__ import annotations

import reprlib
from typing import Any

_repr = reprlib.Repr()
_repr.maxlevel = 3
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxdict = 6
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlong = 40


def short_repr(value: Any, limit: int = 80) -> str:
    """repr(value), cut to about `limit` characters, whatever its size or depth."""
    try:
        text = _repr.repr(value)
    except Exception:  # noqa: BLE001 - a value whose repr fails still gets a name
        text = f"<{type(value).__name__}>"
    return excerpt(text, limit)


def excerpt(text: str, limit: int = 300) -> str:
    """`text` cut to `limit` characters (saying how much was left out), printable and encodable."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"
