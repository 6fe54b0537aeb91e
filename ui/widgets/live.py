"""Live pages that cost almost nothing while nobody looks and little while someone does.

A page calls `watch(key, stamp)` once per full run. A tiny fragment re-reads the stamp (one or two
indexed lookups) every few seconds and reruns the page only when it changed: the charts, samples and
logs below are drawn on those reruns alone, never on a timer. While nothing changes, the interval backs
off from 2 s to 5 s after half a minute and 15 s after two minutes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import streamlit as st

BACKOFF = ((30.0, 2.0), (120.0, 5.0), (float("inf"), 15.0))  # (idle for less than s, poll every s)


def interval_for(idle_s: float) -> float:
    return next(every for limit, every in BACKOFF if idle_s < limit)


def watch(key: str, stamp: Callable[[], Any], draw: Callable[[], None] | None = None) -> float:
    """Rerun the page when stamp() changes; returns the poll interval now in use. `draw` (a progress
    line, say) is drawn inside the same ticking fragment, so a tick is one fragment run, not two."""
    now = time.monotonic()
    state = st.session_state.setdefault(f"live.{key}", {"stamp": None, "changed": now})
    current = stamp()
    if current != state["stamp"]:
        state["stamp"], state["changed"] = current, now
    every = interval_for(now - state["changed"])

    @st.fragment(run_every=every)
    def _watcher() -> None:
        s = st.session_state.get(f"live.{key}")
        if s is None or stamp() != s["stamp"] or interval_for(time.monotonic() - s["changed"]) != every:
            st.rerun()
        if draw is not None:
            draw()

    _watcher()
    return every
