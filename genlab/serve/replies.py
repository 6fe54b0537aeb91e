"""How the server writes every reply: JSON that can always be encoded (non-ASCII escaped, so a lone
surrogate cannot break the reply), and validation errors that name the field and quote at most a short
excerpt of what was sent (a 20 MB prompt gets a reply of a few hundred bytes)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from starlette.responses import JSONResponse

from genlab.core.excerpt import excerpt, short_repr

__all__ = ["SafeJSONResponse", "excerpt", "validation_problems"]


class SafeJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def _shown(value: Any) -> str | None:
    """What a problem may quote of the input: scalars only, a short excerpt, non-finite numbers by name."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (dict, list)) or value is None:
        return None
    return short_repr(value, 60)


def validation_problems(errors: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """FastAPI's validation errors without their `input` and `ctx` (which can be huge or not JSON)."""
    out = []
    for e in list(errors)[:20]:
        problem: dict[str, Any] = {
            "loc": [p if isinstance(p, int) else excerpt(str(p), 60) for p in e.get("loc", ())],
            "msg": excerpt(str(e.get("msg", "")).removeprefix("Value error, "), 200),
            "type": str(e.get("type", "")),
        }
        if e.get("type") == "json_invalid":
            problem["msg"] = "The body is not valid JSON"
        elif (shown := _shown(e.get("input"))) is not None:
            problem["input"] = shown
        out.append(problem)
    return out
