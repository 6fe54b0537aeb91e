"""Rate the last Playground output: thumbs up/down and an optional corrected answer, stored in the run
store (genlab.use.feedback) for the run's next "Fine-tune on feedback"."""

from __future__ import annotations

import streamlit as st

from genlab.core.errors import GenLabError
from genlab.store.runs import Run, RunStore
from genlab.use.feedback import add_feedback
from ui.widgets.common import user_error

LAST = "text.last_output"


def remember(run: Run, prompt: str, output: str, system_prompt: str = "") -> None:
    st.session_state[LAST] = {"run": run.id, "prompt": prompt, "output": output, "system": system_prompt}


def feedback_box(store: RunStore, run: Run) -> None:
    last = st.session_state.get(LAST)
    if not last or last["run"] != run.id:
        return
    with st.form(f"text.feedback.{run.id}", clear_on_submit=True, border=True):
        st.markdown("**Rate the last answer** (used by *Fine-tune on feedback* on the Run page)")
        rating = st.segmented_control(
            "Rating", ["up", "down"], format_func=lambda r: "👍 good" if r == "up" else "👎 bad", key="text.rating"
        )
        correction = st.text_area("Better answer (optional)", key="text.correction", height=80)
        if st.form_submit_button("Send rating", icon=":material/thumbs_up_down:"):
            if rating is None and not correction.strip():
                st.error("Pick 👍 or 👎 (or write a better answer) first.")
                return
            try:
                add_feedback(
                    store,
                    run.id,
                    prompt=last["prompt"],
                    output=last["output"],
                    rating=rating or "down",
                    correction=correction,
                    source="playground",
                    system_prompt=last["system"],
                )
            except GenLabError as err:
                user_error(err)
            else:
                st.session_state.pop(LAST, None)
                st.success("Thanks: the rating is stored with the run.", icon=":material/check:")
