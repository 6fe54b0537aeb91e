"""Run page: the ratings of a text run's outputs and the "Fine-tune on feedback" button (a child run
trained on the liked answers and corrections, from this run's Hugging Face export)."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from genlab.core.errors import GenLabError
from genlab.core.registry import names_that_can
from genlab.store.runs import Run, RunStore
from genlab.use.feedback import can_finetune, feedback_summary, finetune_on_feedback, list_feedback
from ui.widgets.common import page_path, user_error


def feedback_panel(store: RunStore, run: Run) -> None:
    st.subheader("Feedback")
    summary = feedback_summary(store, run.id)
    st.caption(
        f"{summary['ratings']} ratings from the Playground and the API: {summary['up']} 👍, {summary['down']} 👎, "
        f"{summary['corrections']} corrected answers; {summary['examples']} can be learned from. "
        f"Retrain from cron: `python -m genlab finetune-feedback {run.id}`"
    )
    items = list_feedback(store, run.id)[-50:]
    if items:
        st.dataframe(
            [
                {
                    "time": dt.datetime.fromtimestamp(f.time).strftime("%Y-%m-%d %H:%M"),
                    "rating": "👍" if f.rating > 0 else "👎",
                    "prompt": f.prompt,
                    "output": f.output,
                    "correction": f.correction or "",
                    "from": f.source,
                }
                for f in reversed(items)
            ],
            hide_index=True,
        )
    c = st.columns([1, 2])
    steps = c[0].number_input("Steps", min_value=1, max_value=100_000, value=200, key="run.feedback_steps")
    if c[1].button(
        "Fine-tune on feedback",
        icon=":material/model_training:",
        key="run.finetune_feedback",
        disabled=not (summary["examples"] and can_finetune(run)),
        help="A new run fine-tunes this one (its Hugging Face export) on the liked answers and corrections; "
        f"it is linked to this run as its parent. Needs a completed {names_that_can('ChatFinetunable')} run with ratings.",
    ):
        try:
            child = finetune_on_feedback(store, run.id, steps=int(steps))
        except GenLabError as err:
            user_error(err)
        else:
            st.success(f"Started {child.id}.", icon=":material/check:")
            st.page_link(page_path("run"), label=f"Open {child.id}", query_params={"id": child.id})
