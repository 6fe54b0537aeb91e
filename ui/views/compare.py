"""Compare: overlaid curves, config diff, samples side by side at the same step, and a metric table."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from genlab.core.errors import GenLabError
from genlab.share import report, wandb_report
from genlab.store.runs import ACTIVE, Run
from ui.widgets.charts import chart_controls, group_rows, metric_grid
from ui.widgets.common import REFRESH_S, fmt_duration, fmt_value, get_store, page_path, user_error
from ui.widgets.images import side_by_side
from ui.widgets.run_picker import pick_runs
from ui.widgets.settings_store import session_key

store = get_store()
st.title("Compare runs")

wanted = [i for i in st.query_params.get("ids", "").split(",") if i]
if "compare.runs" not in st.session_state and wanted:
    st.session_state["compare.runs"] = [i for i in wanted if store.exists(i)]
if not store.list_runs(limit=1):
    st.info(
        "No runs yet. Train two runs (e.g. a preset with two learning rates), then compare them here.",
        icon=":material/info:",
    )
    st.page_link(page_path("train"), label="Go to Train", icon=":material/model_training:")
    st.stop()

runs = pick_runs(
    store,
    "Runs to compare",
    key="compare.runs",
    help="Pick two or more runs; select rows on the Runs page and press Compare to come here.",
)
if len(runs) < 2:
    st.info("Pick at least two runs to compare.", icon=":material/info:")
    st.stop()
st.query_params["ids"] = ",".join(r.id for r in runs)


def labels(items: list[Run]) -> dict[str, str]:
    """Unique, short legend labels."""
    out: dict[str, str] = {}
    for r in items:
        label = r.name if r.name != r.id else r.id
        out[r.id] = label if label not in out.values() else f"{label} ({r.id[-4:]})"
    return out


names = labels(runs)


tab_curves, tab_table, tab_config, tab_samples, tab_report = st.tabs(
    ["Curves", "Metrics", "Config diff", "Samples", "Report"], key="compare.tabs"
)
live = any(r.status in ACTIVE for r in runs)


@st.fragment(run_every=REFRESH_S if live else None)
def curves() -> None:
    per_key: dict[str, dict[str, tuple[list[int], list[float | None]]]] = {}
    for r in runs:
        for key, series in group_rows(store.metrics(r.id)).items():
            per_key.setdefault(key, {})[names[r.id]] = series
    if not per_key:
        st.info("These runs have no metrics yet.", icon=":material/info:")
        return
    weight, log_y = chart_controls("compare")
    keys = sorted(per_key)
    shared = [k for k in keys if len(per_key[k]) == len(runs) and not k.startswith("lr")]
    picked = st.multiselect("Metrics", keys, default=shared or keys[:4], key="compare.keys")
    metric_grid({k: per_key[k] for k in picked}, weight=weight, log_y=log_y, key="compare")


with tab_curves:
    curves()

with tab_table:
    last = store.last_metrics([r.id for r in runs])
    rows = []
    for r in runs:
        row = {
            "run": names[r.id],
            "status": r.status,
            "family": r.family,
            "data": r.data_name,
            "steps": r.step,
            "duration": fmt_duration(r.duration_s),
            f"best {r.monitor or 'metric'}": fmt_value(r.best_value),
        }
        row.update({k: v for k, v in sorted(last.get(r.id, {}).items()) if not k.startswith("lr")})
        rows.append(row)
    st.dataframe(pd.DataFrame(rows).set_index("run").T.astype(str), key="compare.table")
    st.caption("Latest value of every metric; 'best' is the family's monitored metric at its best checkpoint.")

with tab_config:
    flat = {r.id: report.flatten_config(r.config) for r in runs}
    keys = sorted(set().union(*flat.values()))
    diff = [k for k in keys if len({repr(flat[r.id].get(k)) for r in runs}) > 1 and k != "name"]
    if not diff:
        st.success("The configs are identical (apart from the names).", icon=":material/check:")
    else:
        table = pd.DataFrame(
            {
                names[r.id]: [
                    repr(flat[r.id].get(k, "—")) if not isinstance(flat[r.id].get(k), str) else flat[r.id].get(k)
                    for k in diff
                ]
                for r in runs
            },
            index=diff,
        )
        st.dataframe(table, key="compare.diff")
        st.caption(f"{len(diff)} setting(s) differ out of {len(keys)}.")

with tab_samples:
    arts = {r.id: store.artifacts(r.id, kind="samples") for r in runs}
    kinds = sorted({a["name"] for items in arts.values() for a in items})
    if not kinds:
        st.info("None of these runs has saved a sample grid yet.", icon=":material/info:")
    else:
        c1, c2 = st.columns([1, 3])
        kind = c1.selectbox("Sample", kinds, key="compare.sample_kind")
        steps = sorted({a["step"] or 0 for items in arts.values() for a in items if a["name"] == kind})
        step = c2.select_slider("Step", steps, value=steps[-1], key="compare.step") if len(steps) > 1 else steps[0]
        items = []
        for r in runs:
            matching = [a for a in arts[r.id] if a["name"] == kind and (a["step"] or 0) <= step]
            pick = matching[-1] if matching else None
            label = names[r.id] + (f" · step {pick['step']}" if pick else "")
            items.append((label, pick["path"] if pick else None))
        side_by_side(items, columns=min(4, len(items)))
        st.caption("Each run shows its last grid at or before the chosen step.")

with tab_report:
    st.caption(
        "A report for your team: the HTML file opens anywhere, with no server (interactive curves, sample grids, "
        "config diff, metric table, screened text samples). With your W&B key, also publish a W&B Report."
    )
    ids = [r.id for r in runs]
    with st.form("compare.report_form", border=False):
        title = st.text_input("Title", max_chars=128, placeholder="GenLab report: …", key="compare.report_title")
        description = st.text_area("Description", max_chars=2000, key="compare.report_description", height=80)
        keys = sorted({k for r in runs for k in store.metric_keys(r.id)})
        metrics = st.multiselect(
            "Metrics to plot", keys, default=[k for k in keys if not k.startswith("lr")], key="compare.report_metrics"
        )
        c1, c2 = st.columns(2)
        make_html = c1.form_submit_button("Create HTML report", icon=":material/description:")
        publish = c2.form_submit_button(
            "Create W&B report",
            icon=":material/cloud_upload:",
            disabled=not session_key(),
            help="Syncs offline runs first, then saves a W&B Report with your key."
            if session_key()
            else "Paste your W&B key on the Settings page first.",
        )
    if make_html or publish:
        try:
            built = report.collect(store, ids, title=title, description=description, metrics=metrics or None)
            st.session_state["compare.report_html"] = (",".join(ids), report.render_html(built), built.title)
        except GenLabError as err:
            user_error(err, "The report could not be made")
    if publish:
        try:
            with st.spinner("Publishing to W&B…"):
                url = wandb_report.publish(
                    store, ids, session_key(), title=title, description=description, metrics=metrics or None
                )
            st.success(f"W&B report saved: {url} (its link is on each run's page).", icon=":material/cloud_done:")
        except GenLabError as err:
            user_error(err, "The W&B report was not saved")
    saved = st.session_state.get("compare.report_html")
    if saved and saved[0] == ",".join(ids):
        st.download_button(
            "Download the HTML report",
            data=saved[1].encode("utf-8"),
            file_name="genlab-report.html",
            mime="text/html",
            icon=":material/download:",
            key="compare.report_download",
            on_click="ignore",
        )
        st.caption(f"“{saved[2]}”, {len(saved[1]) / 1e6:.1f} MB. CLI twin: `python -m genlab report {' '.join(ids)}`")
