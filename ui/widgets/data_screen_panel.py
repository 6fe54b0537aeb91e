"""Look at a text corpus before training on it: screen its lines (chat data: conversations) with the
safety screen and show the flagged share, categories and examples (genlab.safety.data_screen)."""

from __future__ import annotations

import streamlit as st

from genlab.core.errors import GenLabError
from ui.widgets.common import user_error


def screen_corpus_panel(source: str, name: str, key: str) -> None:
    c = st.columns([1, 1], vertical_alignment="bottom")
    max_lines = c[0].number_input(
        "Lines to screen", 100, 1_000_000, 5000, 100, key=f"{key}.max", help="The first lines of the corpus."
    )
    if not c[1].button("Screen this corpus", key=f"{key}.go", icon=":material/shield:"):
        return
    from genlab.core.data_config import TextDataConfig
    from genlab.safety.data_screen import screen_corpus  # loads the corpus and the screen: only on request

    try:
        with st.spinner("Screening…"):
            report = screen_corpus(TextDataConfig(source=source, name=name), max_units=int(max_lines))
    except (GenLabError, OSError, ValueError) as err:
        user_error(err, "The corpus could not be screened")
        return
    st.metric(
        f"Flagged {report.unit}s",
        f"{report.flagged:,} of {report.screened:,}",
        f"{report.share:.2%}",
        delta_color="inverse",
    )
    st.caption(f"Screen: {report.screener}")
    if report.by_category:
        st.caption(" · ".join(f"{c}: {n}" for c, n in sorted(report.by_category.items(), key=lambda kv: -kv[1])))
    for ex in report.examples:
        st.text(f"#{ex['index']} ({', '.join(ex['flagged'])}): {ex['text'][:200]}")
    st.caption(
        "To train without the flagged lines, turn on Safety → drop flagged data on the Train page "
        "(safety.drop_flagged_data); the run keeps the screening report with its files."
    )
