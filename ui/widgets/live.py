"""Live pages that cost almost nothing while nobody looks and little while someone does.

A page calls `watch(key, stamp)` once per full run. A tiny fragment re-reads the stamp (one or two
indexed lookups) every few seconds and reruns the page only when it changed: the charts, samples and
logs below are drawn on those reruns alone, never on a timer. The fragment ticks every 10 s, and every
20 s after two minutes without news: on an idle 2-core machine a 5 s tick with curves redrawn every 10 s
cost one viewer 9.4 CPU seconds a minute (server and browser) and slowed the run it watched to 0.81x
(docs/BENCHMARKS.md "Watching a run"); a person watching shares the cores with the training.

A training run logs new metric points every few seconds; redrawing the whole page (and the browser's
charts) for each is most of what watching costs. With `minor`, those frequent changes (new points) rerun
the page at most every `minor_every_s`, while the stamp's own changes (a new sample grid, the status) rerun
it at once; the progress line in the ticking fragment stays current either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import streamlit as st

BACKOFF = ((120.0, 10.0), (float("inf"), 20.0))  # (idle for less than s, poll every s)
MINOR_EVERY_S = 30.0  # new metric points redraw the curves at most this often


def interval_for(idle_s: float) -> float:
    return next(every for limit, every in BACKOFF if idle_s < limit)


def due(state: dict[str, Any], major: Any, minor: Any, now: float, minor_every_s: float) -> bool:
    """Whether the page must redraw: its major stamp changed, or its minor one did and the last redraw is
    at least minor_every_s old."""
    if major != state["stamp"]:
        return True
    return minor != state.get("minor") and now - state.get("drawn", 0.0) >= minor_every_s


def watch(
    key: str,
    stamp: Callable[[], Any],
    draw: Callable[[], None] | None = None,
    *,
    minor: Callable[[], Any] | None = None,
    minor_every_s: float = MINOR_EVERY_S,
) -> float:
    """Rerun the page when stamp() changes (or minor() changes, at most every minor_every_s); returns the
    poll interval now in use. `draw` (a progress line, say) is drawn inside the same ticking fragment, so
    a tick is one fragment run, not two."""
    now = time.monotonic()
    minor = minor or (lambda: None)
    state = st.session_state.setdefault(f"live.{key}", {"stamp": None, "changed": now})
    current, current_minor = stamp(), minor()
    if current != state["stamp"] or current_minor != state.get("minor"):
        state["changed"] = now
    state.update(stamp=current, minor=current_minor, drawn=now)
    every = interval_for(now - state["changed"])

    @st.fragment(run_every=every)
    def _watcher() -> None:
        s = st.session_state.get(f"live.{key}")
        t = time.monotonic()
        if s is None or due(s, stamp(), minor(), t, minor_every_s) or interval_for(t - s["changed"]) != every:
            st.rerun()
        if draw is not None:
            draw()

    _watcher()
    return every
