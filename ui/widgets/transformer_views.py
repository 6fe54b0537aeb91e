"""The Playground's transformer views, through the engine's API only: fill-the-mask with the top-k words
(MaskFiller), per-class scores (TextClassifier), and attention you can see (AttentionViewer): a
token-by-token heat map per kind, layer and head for the user's own text, the head summary, and the
model's position picture. Filled-in words pass the run's safety gate before they are shown."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st

from genlab.core.errors import GenLabError
from genlab.safety.gate import Gate, policy_of
from genlab.store.runs import Run, RunStore
from ui.widgets.common import user_error


def fill_mask_view(store: RunStore, run: Run, module: Any) -> None:
    mask = module.mask_token
    text = st.text_input("Text with a masked word", f"my lord, the {mask} is coming.", key="play.fill.text")
    top_k = st.slider("Words to show", 1, 20, 5, key="play.fill.k")
    if st.button("Fill the mask", key="play.fill.go", icon=":material/auto_fix_high:"):
        try:
            fills = module.fill_mask(text, top_k)
        except GenLabError as err:
            user_error(err, "Cannot fill this text")
            return
        gate = Gate(policy_of(module), store=store, run_id=run.id, path="ui.fill_mask")
        verdicts = gate.release_many({str(i): f["sequence"] for i, f in enumerate(fills)})
        rows = [
            {"word": f["token"], "probability": round(f["score"], 4), "sentence": f["sequence"]}
            for i, f in enumerate(fills)
            if verdicts[str(i)].action != "blocked"
        ]
        st.dataframe(rows, hide_index=True, key="play.fill.table")
        if len(rows) < len(fills):
            st.caption(f"{len(fills) - len(rows)} word(s) withheld by the safety gate.")


def classify_view(module: Any) -> None:
    text = st.text_area("Text to classify", "and the lord spake unto moses, saying", key="play.cls.text")
    if st.button("Classify", key="play.cls.go", icon=":material/label:"):
        try:
            scores = module.classify(text)
        except GenLabError as err:
            user_error(err, "Cannot classify this text")
            return
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        st.markdown(f"**{ranked[0][0]}** ({ranked[0][1]:.0%})")
        fig = go.Figure(go.Bar(x=[p for _, p in ranked], y=[n for n, _ in ranked], orientation="h"))
        fig.update_layout(height=60 + 28 * len(ranked), margin={"l": 10, "r": 10, "t": 10, "b": 10})
        st.plotly_chart(fig, key="play.cls.chart", config={"displaylogo": False})


def attention_view(module: Any) -> None:
    from genlab.use.attention import attention_report

    default = "my lord, the [MASK] is coming." if getattr(module, "mask_token", "") else "teddy bear"
    text = st.text_input("Your text", default, key="play.att.text")
    try:
        report = attention_report(module, text)
    except GenLabError as err:
        user_error(err, "Cannot show attention for this text")
        return
    for note in report.notes:
        st.caption(note)
    kinds = [m.kind for m in report.maps]
    c = st.columns(3)
    kind = c[0].selectbox(
        "Attention",
        kinds,
        key="play.att.kind",
        help="an encoder-decoder shows encoder, decoder and cross-attention; an encoder alone its self-attention",
    )
    data = report.to_dict(kind)
    layer = c[1].number_input("Layer", 0, data["layers"] - 1, 0, key="play.att.layer")
    head = c[2].number_input("Head", 0, data["heads"] - 1, 0, key="play.att.head")
    weights = data["weights"][int(layer)][int(head)]
    keys = [f"{i}:{t}" for i, t in enumerate(data["key_tokens"])]
    queries = [f"{i}:{t}" for i, t in enumerate(data["query_tokens"])]
    fig = go.Figure(go.Heatmap(z=weights, x=keys, y=queries, colorscale="Blues", zmin=0, zmax=1))
    fig.update_layout(
        yaxis={"autorange": "reversed", "title": "query (attends from)"},
        xaxis={"title": "key (attends to)"},
        height=220 + 22 * len(queries),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    st.plotly_chart(fig, key="play.att.map", config={"displaylogo": False})
    st.markdown("**Head summary**: mean attention on the previous token, the first token and itself")
    st.dataframe([s.to_dict() for s in report.summary if s.kind == kind], hide_index=True, key="play.att.summary")
    with st.expander("Position picture"):
        st.caption(report.position_label)
        pos = go.Figure(go.Heatmap(z=report.positions_list(), colorscale="RdBu"))
        pos.update_layout(height=320, margin={"l": 10, "r": 10, "t": 10, "b": 10})
        st.plotly_chart(pos, key="play.att.pos", config={"displaylogo": False})
