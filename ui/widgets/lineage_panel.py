"""Run page, for runs that learn from preferences (the PreferenceTunable capability): the lineage (the root
run -> its fine-tuned children, which one is served and why: every champion/challenger decision) and the
retraining schedule that `python -m genlab schedule` sets (after N new ratings and/or every H hours), with
a button that retrains now. The app's job queue runs a due schedule by itself (no cron needed)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from genlab.core.errors import GenLabError
from genlab.runner.retrain_jobs import log_path, retraining_pid, start_retraining
from genlab.runner.retrain_schedule import (
    is_due,
    lineage_root,
    rating_count,
    read_schedule,
    set_schedule,
)
from genlab.store.runs import Run, RunStore
from ui.widgets.common import page_path, user_error


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "–"


def _score(score: dict[str, float] | None) -> str:
    return f"{score['accuracy']:.0%} (margin {score['margin']:.2f})" if score else "–"


def _descendants(store: RunStore, root: Run) -> list[tuple[Run, int]]:
    """(run, depth) of the root and every run made from it, depth first, oldest child first (one query)."""
    kids: dict[str, list[Run]] = {}
    for r in sorted(store.list_runs(family=root.family), key=lambda r: r.created_at):
        if r.parent_id:
            kids.setdefault(r.parent_id, []).append(r)
    out: list[tuple[Run, int]] = []
    stack: list[tuple[Run, int]] = [(root, 0)]
    seen: set[str] = set()
    while stack:
        run, depth = stack.pop()
        if run.id in seen:
            continue
        seen.add(run.id)
        out.append((run, depth))
        stack += [(child, depth + 1) for child in reversed(kids.get(run.id, []))]
    return out


def lineage(store: RunStore, run: Run, root_id: str | None) -> None:
    st.subheader("Lineage")
    root = store.get(root_id) if root_id else run
    state = read_schedule(store, root.id) if root_id else None
    served = state["served"] if state else None
    decided = {h["challenger"]: h for h in (state or {}).get("history", []) if h.get("challenger")}
    tree = _descendants(store, root)
    if len(tree) == 1 and not state:
        st.caption("No children yet: fine-tune this run on its ratings (DPO or SFT) or set a retraining schedule.")
        return
    rows: list[dict[str, Any]] = []
    for r, depth in tree:
        verdict = decided.get(r.id)
        if r.id == served:
            role = "served (champion)"
        elif verdict is not None:
            role = "promoted, since replaced" if verdict["promoted"] else "challenger, not promoted"
        else:
            role = "root" if r.id == root.id else ""
        rows.append(
            {
                "run": ("   " * depth + ("└ " if depth else "")) + r.id,
                "parent": r.parent_id or "",
                "status": r.status,
                "role": role,
                "why": verdict["why"] if verdict else "",
                "this page": "◀" if r.id == run.id else "",
            }
        )
    st.dataframe(rows, hide_index=True)
    if served:
        st.markdown(f"Served now for `{root.id}`: **`{served}`**")
        if served != run.id:
            st.page_link(page_path("run"), label=f"Open {served}", query_params={"id": served})
    history = (state or {}).get("history", [])
    if history:
        st.markdown("**Champion/challenger decisions** (newest first)")
        st.dataframe(
            [
                {
                    "time": _when(h.get("time")),
                    "champion": h.get("champion") or "",
                    "challenger": h.get("challenger") or "",
                    "champion score": _score(h.get("champion_score")),
                    "challenger score": _score(h.get("challenger_score")),
                    "promoted": "yes" if h.get("promoted") else "no",
                    "why": h.get("why", ""),
                }
                for h in reversed(history)
            ],
            hide_index=True,
        )


def schedule_form(store: RunStore, root: Run) -> None:
    st.subheader("Retraining schedule")
    state = read_schedule(store, root.id) or {}
    if state:
        new = rating_count(store, root.id) - int(state.get("ratings_seen", 0))
        every = []
        if state.get("every_ratings"):
            every.append(f"{state['every_ratings']} new ratings")
        if state.get("every_hours"):
            every.append(f"{state['every_hours']:g} h")
        st.caption(
            f"Retrains after {' or '.join(every)} ({new} new since the last one, last at {_when(state.get('last_time'))}); "
            f"{'due now' if is_due(store, root.id) else 'not due'}. The app checks while it runs (no cron needed); "
            "on a server without the app: `*/15 * * * * python -m genlab schedule --run-due`."
        )
    else:
        st.caption(
            "Fine-tune this run again with DPO on its newest ratings, by itself, and serve the child only if it "
            "beats the served model on held-out rated prompts."
        )
    if root.status != "completed":
        st.info("A schedule needs a completed run.", icon=":material/info:")
        return
    c = st.columns(4)
    every_ratings = c[0].number_input(
        "After N new ratings",
        min_value=0,
        max_value=1_000_000,
        value=int(state.get("every_ratings", 50)),
        key="run.retrain.every_ratings",
        help="0: not by ratings",
    )
    every_hours = c[1].number_input(
        "Every H hours",
        min_value=0.0,
        max_value=24.0 * 365,
        value=float(state.get("every_hours", 0.0)),
        key="run.retrain.every_hours",
        help="0: not by time",
    )
    steps = c[2].number_input(
        "DPO steps", min_value=1, max_value=100_000, value=int(state.get("steps", 60)), key="run.retrain.steps"
    )
    beta = c[3].number_input(
        "DPO beta", min_value=0.001, max_value=10.0, value=float(state.get("beta", 0.1)), key="run.retrain.beta"
    )
    b = st.columns(2)
    if b[0].button("Save schedule", icon=":material/schedule:", key="run.retrain.save"):
        try:
            set_schedule(
                store,
                root.id,
                every_ratings=int(every_ratings),
                every_hours=float(every_hours),
                steps=int(steps),
                beta=float(beta),
            )
        except GenLabError as err:
            user_error(err)
        else:
            st.success(f"Saved: `python -m genlab schedule {root.id} --show` prints it.", icon=":material/check:")
    pid = retraining_pid(store)
    if b[1].button(
        "Retrain now",
        icon=":material/model_training:",
        key="run.retrain.now",
        disabled=pid is not None or not state,
        help="DPO on the preference pairs now, then the champion/challenger gate (save a schedule first)",
    ):
        started = start_retraining(store, root.id)
        if started is None:
            st.info("A retraining is already running.", icon=":material/hourglass_top:")
        else:
            st.success(f"Retraining started (log: {log_path(store)}).", icon=":material/check:")
    elif pid is not None:
        st.info(f"A retraining is running now (log: {log_path(store)}).", icon=":material/hourglass_top:")


def lineage_panel(store: RunStore, run: Run) -> None:
    root_id = lineage_root(store, run)
    lineage(store, run, root_id)
    schedule_form(store, store.get(root_id) if root_id else run)
