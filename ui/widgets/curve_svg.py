"""The Run page Overview's curve: a small SVG drawn on the server and shown as an image.

Watching costs training speed on the machine that trains (docs/BENCHMARKS.md "Watching a run"): on a
quiet 2-core machine, the Overview's plotly chart was most of what one watching browser spent (plotly.js
loaded on its first draw, about 2 CPU s, and every redraw re-laid out the figure). The Overview is a
glance at the monitored metric; this picture costs the browser an image decode. The zoomable, smoothed
plotly charts stay on the Charts tab, one click away.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence

from genlab.store.live import lttb
from ui.widgets.charts import PALETTE  # the same colours as the Charts tab's lines
from ui.widgets.common import fmt_value

POINTS = 600  # per line: more than the picture's width in pixels
WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 34, 30  # margins for tick labels, the title and the legend


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round numbers (1, 2 or 5 times a power of ten apart) covering [lo, hi]."""
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def curve_svg(curves: dict[str, tuple[Sequence[int], Sequence[float | None]]], title: str) -> str:
    """An SVG document of one chart: a line per curve (label -> (steps, values)), axes with round ticks,
    a legend. Missing and non-finite values (a NaN loss) are left out."""
    finite = {
        label: [(s, float(v)) for s, v in zip(steps, values, strict=True) if v is not None and math.isfinite(v)]
        for label, (steps, values) in curves.items()
    }
    xs = [s for pts in finite.values() for s, _ in pts]
    ys = [v for pts in finite.values() for _, v in pts]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'font-family="sans-serif" font-size="11">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold">{html.escape(title)}</text>',
    ]
    if not xs:
        parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#868e96">no values yet</text>')
        return "".join(parts) + "</svg>"
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    pad = (y1 - y0) * 0.05 or abs(y0) * 0.05 or 1.0
    y0, y1 = y0 - pad, y1 + pad
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    w, h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(s: float) -> float:
        return LEFT + (s - x0) / (x1 - x0) * w

    def py(v: float) -> float:
        return TOP + (y1 - v) / (y1 - y0) * h

    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{w}" height="{h}" fill="none" stroke="#dee2e6"/>')
    for t in nice_ticks(y0, y1):
        y = py(t)
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#f1f3f5"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#495057">{fmt_value(t)}</text>')
    for t in nice_ticks(x0, x1):
        x = px(t)
        parts.append(f'<text x="{x:.1f}" y="{TOP + h + 16}" text-anchor="middle" fill="#495057">{int(round(t))}</text>')
    parts.append(f'<text x="{LEFT + w}" y="{HEIGHT - 2}" text-anchor="end" fill="#868e96">step</text>')
    legend_x = WIDTH - RIGHT
    for i, (label, pts) in reversed(list(enumerate(finite.items()))):  # the legend fills from the right
        color = PALETTE[i % len(PALETTE)]
        if len(pts) == 1:
            parts.append(f'<circle cx="{px(pts[0][0]):.1f}" cy="{py(pts[0][1]):.1f}" r="3" fill="{color}"/>')
        elif pts:
            steps, values = lttb([s for s, _ in pts], [v for _, v in pts], POINTS)
            line = " ".join(f"{px(s):.1f},{py(v):.1f}" for s, v in zip(steps, values, strict=True))
            parts.append(f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="2"/>')
        text = html.escape(label)
        parts.append(f'<text x="{legend_x}" y="16" text-anchor="end" fill="{color}">{text}</text>')
        legend_x -= 7 * len(label) + 18
    return "".join(parts) + "</svg>"


def curve_image_html(curves: dict[str, tuple[Sequence[int], Sequence[float | None]]], title: str) -> str:
    """The chart as an <img> (an SVG data URI), scaled to the column's width."""
    b64 = base64.b64encode(curve_svg(curves, title).encode("utf-8")).decode("ascii")
    alt = html.escape(f"{title}: {', '.join(curves)} over training steps")
    return (
        f'<img class="genlab-curve" alt="{alt}" src="data:image/svg+xml;base64,{b64}" '
        'style="width:100%;max-width:640px;height:auto"/>'
    )
