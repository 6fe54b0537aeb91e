"""What live views need to cost almost nothing: a series downsampled to what a chart can show (LTTB),
and a follower that reads only the metric rows written since its last read.

A chart is a few hundred pixels wide: 100,000 logged steps drawn as 1,000 points look the same and cost
a hundredth to send and draw. Largest-Triangle-Three-Buckets (Steinarsson, 2013) keeps the first and last
point and, in each bucket, the point that spans the largest triangle with its neighbours, so spikes and
dips (a loss blow-up, a NaN guard's last value) survive.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

MAX_POINTS = 1000
FULL_READ_MAX = 200_000  # a run with more metric rows than this is first read as min/max buckets
READ_THREADS = 2  # series of a long run read at once (see MetricsFollower._read_buckets)


def lttb(xs: Sequence[float], ys: Sequence[float | None], max_points: int = MAX_POINTS) -> tuple[list, list]:
    """At most max_points (x, y) pairs of a series sorted by x; None and NaN values are dropped first."""
    pts = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None and y == y]
    if max_points < 3:
        raise ValueError(f"max_points must be at least 3, got {max_points}")
    if len(pts) <= max_points:
        return [p[0] for p in pts], [p[1] for p in pts]
    out = [pts[0]]
    every = (len(pts) - 2) / (max_points - 2)  # interior points per bucket
    a = 0  # index of the point kept in the previous bucket
    for i in range(max_points - 2):
        start, end = int(i * every) + 1, int((i + 1) * every) + 1
        nxt_start, nxt_end = end, min(int((i + 2) * every) + 1, len(pts))
        if i == max_points - 3:
            nxt_start, nxt_end = len(pts) - 1, len(pts)
        nxt = pts[nxt_start:nxt_end]
        cx = sum(p[0] for p in nxt) / len(nxt)
        cy = sum(p[1] for p in nxt) / len(nxt)
        ax, ay = pts[a]
        best, best_area = start, -1.0
        for j in range(start, end):
            x, y = pts[j]
            area = abs((ax - cx) * (y - ay) - (ax - x) * (cy - ay))
            if area > best_area:
                best, best_area = j, area
        out.append(pts[best])
        a = best
    out.append(pts[-1])
    return [p[0] for p in out], [p[1] for p in out]


class MetricsFollower:
    """The metric series of one run, kept up to date by reading only rows newer than the last read.

    `refresh()` first compares the run's change stamp (one indexed lookup); when nothing was written it
    touches no metric rows. A step logged again (a resumed run) replaces the old value. A run with more
    than FULL_READ_MAX rows is first read as each series' min/max buckets, reduced in the database
    (RunStore.metric_buckets), so a chart never pulls millions of points; rows after that come exactly.
    """

    def __init__(self, store: Any, run_id: str) -> None:
        self.store, self.run_id = store, run_id
        self.after = 0  # the last metrics rowid read
        self._points: dict[str, dict[int, float | None]] = {}
        self.version = 0  # bumped whenever new rows arrived

    def refresh(self) -> int:
        """Read the rows written since the last call; returns how many arrived (0: nothing changed)."""
        stamp = self.store.metrics_stamp(self.run_id)
        if stamp == self.after:
            return 0
        if self.after == 0:
            spans = self.store.metric_spans(self.run_id)  # index seeks: the size of the run, roughly
            if sum(hi - lo + 1 for lo, hi in spans.values()) > FULL_READ_MAX:
                return self._read_buckets(stamp, spans)
        rows, self.after = self.store.metrics_since(self.run_id, self.after)
        for r in rows:
            self._points.setdefault(r["key"], {})[r["step"]] = r["value"]
        if rows:
            self.version += 1
        return len(rows)

    def _read_buckets(self, stamp: int, spans: dict[str, tuple[int, int]]) -> int:
        """A long run's first read: each series reduced in the database (a few thousand points), the
        short ones read whole."""

        def read(key: str, lo: int, hi: int) -> tuple[list[int], list[float | None]]:
            if hi - lo + 1 > 2 * MAX_POINTS:
                return self.store.metric_buckets(self.run_id, key, MAX_POINTS)
            series = self.store.metric_series(self.run_id, key)
            return [p[0] for p in series], [p[1] for p in series]

        # two series at a time, each on its own connection: the database works with the GIL released, so a
        # 2-core machine draws a long run's charts in about half the time
        with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
            read_all = pool.map(lambda item: (item[0], read(item[0], *item[1])), spans.items())
            n = 0
            for key, (steps, values) in read_all:
                self._points[key] = dict(zip(steps, values, strict=True))
                n += len(steps)
        self.after = stamp  # rows written meanwhile come with the next refresh (a step replaces itself)
        self.version += 1
        return n

    def keys(self) -> list[str]:
        return sorted(self._points)

    def series(self, key: str, max_points: int | None = MAX_POINTS) -> tuple[list[int], list[float | None]]:
        """(steps, values) of one metric in step order, downsampled with LTTB when max_points is set."""
        pts = sorted(self._points.get(key, {}).items())
        steps, values = [p[0] for p in pts], [p[1] for p in pts]
        return lttb(steps, values, max_points) if max_points else (steps, values)
