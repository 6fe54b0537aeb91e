"""Data page: check an uploaded .csv/.jsonl table as source -> target pairs (text-to-text models) or as
texts with labels (classifiers) before training, with a preview of what the run would read and the
engine's own words for what is wrong or will be cut."""

from __future__ import annotations

import streamlit as st

from genlab.core.errors import GenLabError
from genlab.data.api import table_preview
from ui.widgets.common import user_error

KINDS = {"Source → target pairs": "pairs", "Texts with labels": "labelled"}


def table_check_panel(name: str, key: str) -> None:
    """Column names, context lengths and a Check button; shows pairs or texts with labels and notes."""
    choice = st.radio("Use it as", list(KINDS), key=f"{key}.kind", horizontal=True)
    kind = KINDS[choice]
    a, b, c = st.columns(3)
    if kind == "pairs":
        first = a.text_input("Source column", "source", key=f"{key}.{kind}.first")
        second = b.text_input("Target column", "target", key=f"{key}.{kind}.second")
        src = c.number_input("Source tokens", 4, 1024, 32, key=f"{key}.{kind}.len1")
        tgt = c.number_input("Target tokens", 2, 1024, 16, key=f"{key}.len2")
        max_len: tuple[int, int] | int = (int(src), int(tgt))
    else:
        first = a.text_input("Text column", "text", key=f"{key}.{kind}.first")
        second = b.text_input("Label column", "label", key=f"{key}.{kind}.second")
        max_len = int(c.number_input("Tokens per text", 8, 512, 64, key=f"{key}.{kind}.len1"))
    if not st.button("Check", key=f"{key}.check", icon=":material/fact_check:"):
        return
    try:
        prev = table_preview(name, "upload", kind=kind, first=first, second=second, max_len=max_len)
    except GenLabError as err:
        user_error(err, "This table cannot be used")
        return
    what = "pairs" if kind == "pairs" else "texts"
    st.success(f"{prev.usable:,} usable {what}; the first {len(prev.rows)}:", icon=":material/check_circle:")
    st.dataframe([{prev.headers[0]: x, prev.headers[1]: y} for x, y in prev.rows], hide_index=True, width="stretch")
    if prev.label_counts:
        st.caption("Texts per label: " + ", ".join(f"{k} {v:,}" for k, v in prev.label_counts.items()))
    for note in prev.notes:
        st.info(note, icon=":material/info:")
