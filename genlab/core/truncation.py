"""The truncation trick's one rule, shared by the configs that set a default truncation and the engine that
takes one at sampling time (CLI, REST, Playground), so every door refuses a bad value in the same words."""

from __future__ import annotations

import math

TRUNCATION_RULE = (
    "truncation must be between 0 and 1 (1: no truncation, the full variety; smaller: closer to the "
    "average image, less variety)"
)


def truncation_problem(value: float) -> str | None:
    """The message for a truncation outside [0, 1] (or not a finite number); None for a good one."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return TRUNCATION_RULE
    return None if math.isfinite(v) and 0.0 <= v <= 1.0 else TRUNCATION_RULE
