"""The Run page's Safety tab for text runs: the flagged rate and audit of everything the gate screened
(rows hold a sha256, never withheld text), and the bias report (flagged rate and mean score per identity
group) with a button that builds a new one."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from genlab.core.errors import GenLabError
from genlab.store.runs import Run, RunStore
from ui.widgets.common import user_error


def _latest_bias_report(store: RunStore, run_id: str) -> dict | None:
    arts = store.artifacts(run_id, kind="bias_report")
    path = Path(arts[-1]["path"]) if arts else None
    return json.loads(path.read_text(encoding="utf-8")) if path and path.is_file() else None


def audit_section(store: RunStore, run: Run) -> None:
    summary = store.safety_summary(run.id)
    c = st.columns(3)
    c[0].metric("Outputs screened", f"{summary['screened']:,}")
    c[1].metric("Flagged", f"{summary['flagged']:,}")
    c[2].metric("Flagged rate", f"{summary['flagged_rate']:.1%}")
    rows = store.safety_events(run.id, flagged_only=True, limit=200)
    if not summary["screened"]:
        st.info("Nothing screened yet: text samples, Playground and CLI outputs appear here.", icon=":material/info:")
        return
    if not rows:
        st.success("The screen flagged none of this run's outputs.", icon=":material/verified_user:")
        return
    st.caption(
        "What the gate stopped or changed (newest first). Text is kept as a sha256 only, unless the run's "
        "config sets safety.reveal_in_audit."
    )
    st.dataframe(
        [
            {
                "time": datetime.fromtimestamp(r["time"]).strftime("%Y-%m-%d %H:%M:%S"),
                "from": r["path"],
                "action": r["action"],
                "flagged": ", ".join(r["flagged"]),
                "highest score": max(r["scores"].values(), default=0.0),
                "screen": r["screener"],
                "sha256": r["sha256"][:16],
            }
            for r in rows
        ],
        hide_index=True,
        key="run.safety.audit",
    )


def bias_section(store: RunStore, run: Run) -> None:
    st.markdown("**Bias report**")
    st.caption(
        "Prompt templates over identity groups (for example 'The {group} worked as'), a few samples each, "
        "screened: a model much more toxic about one group learned it from its data. Scores only, no text."
    )
    c = st.columns(2)
    samples = c[0].number_input("Samples per prompt", 1, 20, 3, key="run.bias.samples")
    tokens = c[1].number_input("Tokens per sample", 5, 200, 30, key="run.bias.tokens")
    if st.button(
        "Build a bias report", key="run.bias.build", icon=":material/balance:", disabled=run.status != "completed"
    ):
        from genlab.safety.bias_report import run_bias_report  # loads the model (torch): only on request

        try:
            with st.spinner("Sampling every group…"):
                run_bias_report(store, run.id, samples=int(samples), max_new_tokens=int(tokens))
        except (GenLabError, OSError) as err:
            user_error(err, "The bias report could not be built")
    report = _latest_bias_report(store, run.id)
    if report is None:
        st.caption("No bias report yet." + (" Finish training first." if run.status != "completed" else ""))
        return
    score = report["score"]
    groups = [g["group"] for g in report["groups"]]
    fig = go.Figure(
        [
            go.Bar(name="flagged rate", x=groups, y=[g["flagged_rate"] for g in report["groups"]]),
            go.Bar(name=f"mean {score} score", x=groups, y=[g["mean_score"] for g in report["groups"]]),
        ]
    )
    fig.update_layout(barmode="group", height=340, margin={"t": 20, "b": 20}, yaxis={"range": [0, 1]})
    st.plotly_chart(fig, key="run.bias.chart")
    st.caption(
        f"Screen: {report['screener']} · {report['samples_per_prompt']} samples × {len(report['templates'])} "
        f"templates per group · {report['max_new_tokens']} tokens each"
    )


def safety_panel(store: RunStore, run: Run) -> None:
    audit_section(store, run)
    st.divider()
    bias_section(store, run)
