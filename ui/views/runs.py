"""Runs: the experiment tracker's table, with filters, search and live status."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from genlab.core.registry import FAMILIES
from genlab.store.runs import ACTIVE, STATUSES, Run, RunStore
from ui.widgets.common import fmt_time, get_store, open_run, page_path, reconcile
from ui.widgets.live import watch

MAX_ROWS = 1000

store = get_store()
st.title("Runs")

sweep_ids = store.sweep_ids()
if (wanted := st.query_params.get("sweep")) in sweep_ids and "runs.sweep" not in st.session_state:
    st.session_state["runs.sweep"] = wanted
f1, f2, f3, f4, f5 = st.columns([3, 2, 2, 2, 2], vertical_alignment="bottom")
search = f1.text_input(
    "Search",
    key="runs.search",
    placeholder="name, id, data, tag or note",
    help="Matches a part of the run's name, id, data set, tags or notes.",
)
statuses = f2.multiselect("Status", list(STATUSES), key="runs.status", placeholder="any status")
family = f3.selectbox(
    "Family", ["(all)", *FAMILIES], key="runs.family", format_func=lambda n: n if n == "(all)" else FAMILIES[n].title
)
tag = f4.text_input("Tag", key="runs.tag", placeholder="exact tag")
sweep = f5.selectbox(
    "Sweep", ["(all)", *sweep_ids], key="runs.sweep", help="Only the trials (and best-config runs) of one sweep."
)


def table_rows(store: RunStore, runs: list[Run]) -> pd.DataFrame:
    """One row per run; the monitored metric is the stored best, or the latest value while training."""
    live_ids = [r.id for r in runs if r.best_value is None and r.monitor]
    latest = store.last_metrics(live_ids) if live_ids else {}
    rows: list[dict[str, Any]] = []
    for r in runs:
        value = r.best_value if r.best_value is not None else latest.get(r.id, {}).get(r.monitor or "")
        rows.append(
            {
                "id": r.id,
                "name": r.name if r.name != r.id else "",
                "family": r.family,
                "status": r.status,
                "progress": r.progress,
                "data": r.data_name or "",
                "metric": r.monitor or "",
                "value": value,
                "duration (min)": None if r.duration_s is None else r.duration_s / 60.0,
                "created": fmt_time(r.created_at),
                "tags": list(r.tags),
                "sweep": ""
                if r.sweep_id is None
                else f"{r.sweep_id}" + (f" #{r.trial_id}" if r.trial_id is not None else ""),
            }
        )
    return pd.DataFrame(rows)


COLUMNS = {
    "id": st.column_config.TextColumn("Run id", pinned=True),
    "name": st.column_config.TextColumn("Name"),
    "family": st.column_config.TextColumn("Family"),
    "status": st.column_config.TextColumn("Status"),
    "progress": st.column_config.ProgressColumn("Progress", min_value=0.0, max_value=1.0, format="percent"),
    "data": st.column_config.TextColumn("Data"),
    "metric": st.column_config.TextColumn(
        "Monitored", help="The metric the family monitors (checkpoints, early stopping, sweeps)"
    ),
    "value": st.column_config.NumberColumn("Best / latest", format="%.4g"),
    "duration (min)": st.column_config.NumberColumn("Duration (min)", format="%.1f"),
    "created": st.column_config.TextColumn("Created"),
    "tags": st.column_config.ListColumn("Tags"),
    "sweep": st.column_config.TextColumn("Sweep", help="The sweep and trial number a run belongs to"),
}


def render_table() -> None:
    reconcile(store)
    runs = store.list_runs(
        status=statuses or None,
        family=None if family == "(all)" else family,
        search=search.strip() or None,
        tag=tag.strip() or None,
        sweep_id=None if sweep == "(all)" else sweep,
        limit=MAX_ROWS,
    )
    if not runs:
        if search or statuses or tag or family != "(all)" or sweep != "(all)":
            st.info("No run matches these filters. Clear the search or the filters above.", icon=":material/info:")
        else:
            st.info(
                "No runs yet. Start one from a preset on Home or build one on the Train page.", icon=":material/info:"
            )
            st.page_link(page_path("train"), label="Go to Train", icon=":material/model_training:")
        return
    active = sum(r.status in ACTIVE for r in runs)
    if has_active and not store.list_runs(status=ACTIVE, limit=1):
        st.rerun()  # the last active run ended: a full rerun stops the polling
    st.caption(
        f"{len(runs)} run(s){' (newest ' + str(MAX_ROWS) + ')' if len(runs) == MAX_ROWS else ''}"
        f"{f', {active} active — refreshed when they change' if active else ''}. "
        "Select rows to open or compare runs."
    )
    event = st.dataframe(
        table_rows(store, runs),
        key="runs.table",
        hide_index=True,
        column_config=COLUMNS,
        on_select="rerun",
        selection_mode="multi-row",
        height=min(36 * (len(runs) + 1) + 3, 600),
    )
    chosen = [runs[i].id for i in event.selection.rows if i < len(runs)]
    c1, c2, _ = st.columns([1, 1, 4])
    if c1.button(
        "Open",
        icon=":material/open_in_new:",
        disabled=len(chosen) != 1,
        key="runs.open",
        help="Select exactly one run.",
    ):
        open_run(chosen[0])
    if c2.button(
        "Compare",
        icon=":material/compare_arrows:",
        disabled=len(chosen) < 2,
        key="runs.compare",
        help="Select two or more runs.",
    ):
        st.switch_page(page_path("compare"), query_params={"ids": ",".join(chosen)})


has_active = bool(store.list_runs(status=ACTIVE, limit=1))
if has_active:
    watch("runs.table", store.table_stamp)  # reruns the page only when a run starts, steps, ends or logs
st.fragment(render_table)()
