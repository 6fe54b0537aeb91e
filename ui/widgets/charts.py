"""Metric charts with plotly: zoomable curves, TensorBoard-style smoothing, several runs overlaid."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from genlab.store.live import MAX_POINTS, lttb

PALETTE = ["#4C6EF5", "#F76707", "#2B8A3E", "#C2255C", "#7048E8", "#1098AD", "#E8590C", "#5C940D"]


def smooth(values: Sequence[float | None], weight: float) -> list[float | None]:
    """Debiased exponential moving average (TensorBoard's smoothing); None values pass through."""
    if weight <= 0:
        return list(values)
    out: list[float | None] = []
    last, count = 0.0, 0
    for v in values:
        if v is None or v != v:  # None or NaN
            out.append(None)
            continue
        count += 1
        last = last * weight + (1 - weight) * v
        out.append(last / (1 - weight**count))
    return out


def group_rows(rows: Iterable[dict[str, Any]]) -> dict[str, tuple[list[int], list[float | None]]]:
    """RunStore.metrics rows -> {key: (steps, values)}."""
    series: dict[str, tuple[list[int], list[float | None]]] = defaultdict(lambda: ([], []))
    for r in rows:
        steps, values = series[r["key"]]
        steps.append(r["step"])
        values.append(r["value"])
    return dict(series)


def order_keys(keys: Iterable[str]) -> list[str]:
    """Validation metrics first, then training, then everything else (lr, epoch ...)."""

    def rank(k: str) -> tuple[int, str]:
        stage = k.split("/", 1)[0]
        return ({"val": 0, "train": 1, "test": 2}.get(stage, 3), k)

    return sorted(keys, key=rank)


def metric_figure(
    curves: dict[str, tuple[list[int], list[float | None]]],
    title: str,
    weight: float,
    log_y: bool = False,
    height: int = 300,
) -> go.Figure:
    """One chart: a faint raw line and a bold smoothed line per curve (curve label -> (steps, values)).
    Both lines are downsampled with LTTB to at most MAX_POINTS points after smoothing the full series."""
    fig = go.Figure()
    for i, (label, (steps, values)) in enumerate(curves.items()):
        color = PALETTE[i % len(PALETTE)]
        few = len(steps) < 3
        shown_x, shown_y = lttb(steps, smooth(values, 0 if few else weight), MAX_POINTS)
        if weight > 0 and not few:
            raw_x, raw_y = lttb(steps, values, MAX_POINTS)
            fig.add_trace(
                go.Scatter(
                    x=raw_x,
                    y=raw_y,
                    name=f"{label} (raw)",
                    mode="lines",
                    line={"color": color, "width": 1},
                    opacity=0.25,
                    showlegend=False,
                    hoverinfo="skip",
                )
            )
        fig.add_trace(
            go.Scatter(
                x=shown_x,
                y=shown_y,
                name=label,
                mode="lines+markers" if few else "lines",
                line={"color": color, "width": 2},
            )
        )
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        hovermode="x unified",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        showlegend=len(curves) > 1,
        uirevision=title + "|" + "|".join(curves),
    )  # keep the zoom while live data arrives
    fig.update_xaxes(title_text="step")
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def chart_controls(key: str) -> tuple[float, bool]:
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    weight = c1.slider(
        "Smoothing",
        0.0,
        0.99,
        0.6,
        0.01,
        key=f"{key}.smoothing",
        help="Exponential moving average of the curves (0: raw values). Drag on a chart to zoom; "
        "double-click to reset.",
    )
    log_y = c2.toggle("Log scale", key=f"{key}.log")
    return weight, log_y


def metric_grid(
    per_key: dict[str, dict[str, tuple[list[int], list[float | None]]]],
    *,
    weight: float,
    log_y: bool,
    key: str,
    columns: int = 2,
) -> None:
    """A grid of charts: metric key -> {curve label -> (steps, values)}."""
    keys = order_keys(per_key)
    cols = st.columns(columns)
    for i, k in enumerate(keys):
        with cols[i % columns]:
            fig = metric_figure(per_key[k], k, weight, log_y)
            st.plotly_chart(fig, key=f"{key}.chart.{k}", config={"displaylogo": False})
